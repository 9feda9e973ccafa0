//! `/api/v1/dashboard`, `/api/v1/board-report` and `/api/v1/audit`: the
//! board's dashboard figures, the report back to government and an item's
//! audit timeline, as the pages show them.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::api::{InboxItemOut, item_out};
use super::dashboard::{self, ClosingSoon, Week};
use super::report::{self, Count, GovernmentReport, Period, ReportLine};
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;

pub struct BoardApi;

#[derive(Debug, Object)]
pub struct DashboardOut {
    /// Submissions per week (Monday to Sunday, UK time), oldest first.
    pub weeks: Vec<Week>,
    pub reports_by_category: Vec<Count>,
    pub reports_by_severity: Vec<Count>,
    pub ideas_by_theme: Vec<Count>,
    pub ideas_by_status: Vec<Count>,
    pub responses_by_type: Vec<Count>,
    pub open_critical: Vec<ReportLine>,
    pub closing_soon: Vec<ClosingSoon>,
    /// Items assigned to the caller still awaiting a decision, oldest first.
    pub awaiting_me: Vec<InboxItemOut>,
    pub awaiting_me_total: u64,
}

#[derive(Debug, Object)]
pub struct AuditEntryOut {
    pub id: Uuid,
    pub action: String,
    /// The person who made the change, or "The system".
    pub actor: String,
    #[oai(nullable)]
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
    #[oai(nullable)]
    pub before: Option<serde_json::Value>,
    #[oai(nullable)]
    pub after: Option<serde_json::Value>,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Triage")]
impl BoardApi {
    /// The dashboard's figures (board)
    #[oai(path = "/dashboard", method = "get", operation_id = "getDashboard")]
    async fn dashboard(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<DashboardOut>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        let d = dashboard::build(&state.db, Utc::now(), user.id).await?;
        Ok(Json(DashboardOut {
            weeks: d.weeks,
            reports_by_category: d.reports_by_category,
            reports_by_severity: d.reports_by_severity,
            ideas_by_theme: d.ideas_by_theme,
            ideas_by_status: d.ideas_by_status,
            responses_by_type: d.responses_by_type,
            open_critical: d.open_critical,
            closing_soon: d.closing_soon,
            awaiting_me: d.awaiting_me.into_iter().map(item_out).collect(),
            awaiting_me_total: d.awaiting_me_total,
        }))
    }

    /// The board's report to the Secretary of State for one month, UK time (board)
    #[oai(
        path = "/board-report",
        method = "get",
        operation_id = "getBoardReport"
    )]
    async fn report(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        /// The month, such as 2026-10 (default: last month)
        #[oai(default)]
        period: Query<String>,
    ) -> Result<Json<GovernmentReport>, ApiError> {
        policy::require(&caller, Permission::Triage)?;
        let period = match period.0.trim() {
            "" => Period::previous(Utc::now()),
            raw => Period::parse(raw)?,
        };
        Ok(Json(report::build(&state.db, period).await?))
    }

    /// Every change to an item, oldest first (board)
    #[oai(
        path = "/audit/:kind/:id",
        method = "get",
        operation_id = "getItemAudit"
    )]
    async fn audit(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        /// idea, report, comment, consultation, consultation_response or section_comment
        kind: Path<String>,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<AuditEntryOut>>, ApiError> {
        policy::require(&caller, Permission::Triage)?;
        super::audit::subject_label(&kind.0).ok_or(AppError::NotFound)?;
        let entries = super::audit::timeline(&state.db, &kind.0, id.0).await?;
        Ok(Json(
            entries
                .into_iter()
                .map(|e| AuditEntryOut {
                    id: e.event.id,
                    action: e.event.action,
                    actor: e.actor,
                    actor_id: e.event.actor_user_id,
                    at: e.event.created_at,
                    before: e.event.before,
                    after: e.event.after,
                })
                .collect(),
        ))
    }
}
