//! `/api/v1/reports`.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::domain::{Category, ReportInput, ReportStatus, Severity};
use super::service::{self, ReportFilter, ReportStatusChange, ReportView};
use crate::api::problem::ApiError;
use crate::api::{ApiTags, optional_choice};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::ideas::api::{PersonOut, StatusHistoryEntry};
use crate::idempotency::{Created, IdempotencyKey};
use crate::pagination::{self, Cursor, PageSize};
use crate::status_history::StatusEntry;

pub struct ReportsApi;

#[derive(Debug, Object)]
pub struct OrganisationRef {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub ods_code: Option<String>,
}

/// A report. `reporter` is present only for board members and the reporter
/// (and never, for others, when the report is confidential).
#[derive(Debug, Object)]
pub struct Report {
    pub id: Uuid,
    #[oai(nullable)]
    pub organisation: Option<OrganisationRef>,
    pub system_name: String,
    #[oai(nullable)]
    pub supplier_name: Option<String>,
    /// interoperability, outage, cyber_security, privacy, usability, procurement, data_quality or other
    pub category: String,
    #[oai(nullable)]
    pub standard_reference: Option<String>,
    /// low, medium, high or critical
    pub severity: String,
    pub patient_impact: String,
    pub staff_impact: String,
    /// Markdown as written.
    pub evidence: String,
    pub evidence_html: String,
    pub confidential: bool,
    /// new, triaged, investigating, escalated, resolved, closed or not_actionable
    pub status: String,
    pub version: i32,
    #[oai(nullable)]
    pub reporter: Option<PersonOut>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Present on single reports.
    #[oai(nullable)]
    pub history: Option<Vec<StatusHistoryEntry>>,
}

impl Report {
    fn from_view(v: &ReportView, history: Option<&[StatusEntry]>) -> Self {
        let r = &v.report;
        Report {
            id: r.id,
            organisation: v.organisation.as_ref().map(|o| OrganisationRef {
                id: o.id,
                name: o.name.clone(),
                ods_code: o.ods_code.clone(),
            }),
            system_name: r.system_name.clone(),
            supplier_name: r.supplier_name.clone(),
            category: r.category.clone(),
            standard_reference: r.standard_reference.clone(),
            severity: r.severity.clone(),
            patient_impact: r.patient_impact.clone(),
            staff_impact: r.staff_impact.clone(),
            evidence: r.evidence.clone(),
            evidence_html: crate::markdown::render(&r.evidence),
            confidential: r.confidential,
            status: r.status.clone(),
            version: r.version,
            reporter: v.reporter.as_ref().map(PersonOut::from),
            created_at: r.created_at,
            updated_at: r.updated_at,
            history: history.map(|h| {
                h.iter()
                    .map(|e| StatusHistoryEntry {
                        from_status: e.from.clone(),
                        status: e.to.clone(),
                        note: e.note.clone(),
                        at: e.at,
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Object)]
pub struct ReportPage {
    pub items: Vec<Report>,
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

/// A new report. Every field is checked and every problem reported at once.
#[derive(Debug, Object, serde::Serialize)]
pub struct NewReportBody {
    /// The organisation's ODS code, register id, or exact name.
    #[oai(default)]
    pub organisation: String,
    #[oai(default)]
    pub system_name: String,
    #[oai(default)]
    pub supplier_name: String,
    #[oai(default)]
    pub category: String,
    /// A link to, or the name of, the standard or consultation section it breaches.
    #[oai(default)]
    pub standard_reference: String,
    #[oai(default)]
    pub severity: String,
    #[oai(default)]
    pub patient_impact: String,
    #[oai(default)]
    pub staff_impact: String,
    /// Markdown, up to 20,000 characters.
    #[oai(default)]
    pub evidence: String,
    /// Hide the reporter's identity from everyone but board members.
    #[oai(default)]
    pub confidential: bool,
}

#[derive(Debug, Object)]
pub struct ReportStatusBody {
    #[oai(default)]
    pub status: String,
    /// Emailed to the reporter.
    #[oai(default)]
    pub note: String,
    /// The version the change is based on; a stale version is refused with 409.
    pub version: Option<i32>,
}

#[derive(ApiResponse)]
pub enum CreateReportResponse {
    /// The report was made (or, for a retried `Idempotency-Key`, had been).
    #[oai(status = 201)]
    Created(Json<Report>, #[oai(header = "Location")] String),
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Reports")]
impl ReportsApi {
    /// List reports
    ///
    /// Board members see every report; anyone else sees only their own.
    #[oai(path = "/reports", method = "get", operation_id = "listReports")]
    #[expect(
        clippy::too_many_arguments,
        reason = "each query parameter is one argument"
    )]
    async fn list_reports(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        status: Query<Option<String>>,
        category: Query<Option<String>>,
        severity: Query<Option<String>>,
        organisation_id: Query<Option<Uuid>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<PageSize>>,
    ) -> Result<Json<ReportPage>, ApiError> {
        policy::require(&caller, Permission::Contribute)?;
        let filter = ReportFilter {
            status: optional_choice(
                status.0.as_deref(),
                "status",
                ReportStatus::parse,
                "Unknown status",
            )?,
            category: optional_choice(
                category.0.as_deref(),
                "category",
                Category::parse,
                "Unknown category",
            )?,
            severity: optional_choice(
                severity.0.as_deref(),
                "severity",
                Severity::parse,
                "Unknown severity",
            )?,
            organisation_id: organisation_id.0,
            cursor: Cursor::parse_optional(cursor.0.as_deref())?,
            limit: pagination::page_size(limit.0)?,
        };
        let (items, next) = service::list(&state.db, &caller, &filter).await?;
        Ok(Json(ReportPage {
            items: items.iter().map(|v| Report::from_view(v, None)).collect(),
            next_cursor: next.map(|c| c.encode()),
        }))
    }

    /// Report where best practice is not being followed
    ///
    /// Send an `Idempotency-Key` header to make retries safe.
    #[oai(path = "/reports", method = "post", operation_id = "createReport")]
    async fn create_report(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<NewReportBody>,
    ) -> Result<CreateReportResponse, ApiError> {
        let user = policy::require(&caller, Permission::Contribute)?;
        let key = IdempotencyKey::parse(idempotency_key.0.as_deref(), "create-report", &body.0)?;
        let b = body.0;
        // The API takes one organisation field: an id, a code or a name.
        let (organisation, organisation_id) = match Uuid::parse_str(b.organisation.trim()) {
            Ok(id) => (String::new(), id.to_string()),
            Err(_) => (b.organisation, String::new()),
        };
        let input = ReportInput {
            organisation,
            organisation_id,
            system_name: b.system_name,
            supplier_name: b.supplier_name,
            category: b.category,
            standard_reference: b.standard_reference,
            severity: b.severity,
            patient_impact: b.patient_impact,
            staff_impact: b.staff_impact,
            evidence: b.evidence,
            confidential: b.confidential,
        };
        let (checked, org) =
            service::check(&state.db, &input)
                .await?
                .map_err(|(mut errors, matches)| {
                    if !matches.is_empty()
                        && let Some(e) = errors.iter_mut().find(|e| e.field == "organisation")
                    {
                        e.message =
                            "Several organisations match: send the ODS code or the register id"
                                .to_owned();
                    }
                    AppError::Validation(errors)
                })?;
        let created = service::create(
            &state.db,
            user,
            checked,
            &org,
            key.as_ref(),
            state.settings.submissions_per_hour,
        )
        .await?;
        let (view, history) = match created {
            Created::New(made) => (made.view, made.history),
            Created::Replayed(id) => service::find(&state.db, &caller, id).await?,
        };
        Ok(CreateReportResponse::Created(
            Json(Report::from_view(&view, Some(&history))),
            format!("/api/v1/reports/{}", view.report.id),
        ))
    }

    /// One report (board members and its reporter only)
    #[oai(path = "/reports/:id", method = "get", operation_id = "getReport")]
    async fn get_report(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<Json<Report>, ApiError> {
        policy::require(&caller, Permission::Contribute)?;
        let (view, history) = service::find(&state.db, &caller, id.0).await?;
        Ok(Json(Report::from_view(&view, Some(&history))))
    }

    /// Change a report's status (board)
    #[oai(
        path = "/reports/:id/status",
        method = "post",
        operation_id = "changeReportStatus"
    )]
    async fn change_status(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<ReportStatusBody>,
    ) -> Result<Json<Report>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        let change = ReportStatusChange {
            status: body.0.status,
            note: body.0.note,
            version: body.0.version,
        };
        service::change_status(&state, user, id.0, &change).await?;
        let (view, history) = service::find(&state.db, &caller, id.0).await?;
        Ok(Json(Report::from_view(&view, Some(&history))))
    }
}
