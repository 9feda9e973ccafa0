//! Best-practice reports: filing, listing (board: all; others: their own),
//! and the status workflow with an email to the reporter on each update.

use chrono::Utc;
use entity::{organisations, reports, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::domain::{Category, CheckedReport, ReportInput, ReportStatus, STATUS_NOTE, Severity};
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::caller::Caller;
use crate::auth::people::{self, Person};
use crate::auth::policy;
use crate::email::{self, templates};
use crate::error::{AppError, FieldError};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::organisations::service::{self as register, Resolution};
use crate::pagination::Cursor;
use crate::status_history::{self, StatusEntry};

pub const SUBJECT: &str = "report";

/// A report as the caller may see it: the reporter only when allowed.
#[derive(Debug, Clone)]
pub struct ReportView {
    pub report: reports::Model,
    pub status: ReportStatus,
    pub category: Category,
    pub severity: Severity,
    pub organisation: Option<organisations::Model>,
    pub reporter: Option<Person>,
}

/// Where the organisation a reporter typed led.
pub enum OrganisationChoice {
    Chosen(organisations::Model),
    /// Several matched: the reporter picks one.
    Choose(Vec<organisations::Model>),
}

/// What was wrong with a report: a message per field, and the register's
/// organisations when several matched what was typed.
pub type Refusal = (Vec<FieldError>, Vec<organisations::Model>);

/// Validates a report, resolving its organisation in the register. The
/// outer error is the register failing to answer (503 when the database is
/// out of reach, 500 otherwise), not the report's fault; the inner one is
/// what the reporter should change.
pub async fn check(
    conn: &impl ConnectionTrait,
    input: &ReportInput,
) -> Result<Result<(CheckedReport, organisations::Model), Refusal>, AppError> {
    let mut errors = Vec::new();
    let checked = input.validate(&mut errors);
    let mut matches = Vec::new();
    let chosen_id = Uuid::parse_str(input.organisation_id.trim()).ok();
    let organisation = match chosen_id {
        Some(id) => match register::find(conn, id).await {
            Ok(Some(org)) => Some(org),
            Ok(None) => {
                errors.push(FieldError::new(
                    "organisation",
                    "Choose an organisation from the register",
                ));
                None
            }
            Err(err) => return Err(err.into()),
        },
        None if input.organisation.trim().is_empty() => {
            errors.push(FieldError::new(
                "organisation",
                "Enter the organisation's name or ODS code",
            ));
            None
        }
        None if input.organisation.chars().count() > 300 => {
            errors.push(FieldError::new(
                "organisation",
                "Organisation must be 300 characters or fewer",
            ));
            None
        }
        None => match register::resolve(conn, &input.organisation).await {
            Ok(Resolution::One(org)) => Some(org),
            Ok(Resolution::Several(found)) => {
                errors.push(FieldError::new(
                    "organisation",
                    "Several organisations match: choose one",
                ));
                matches = found;
                None
            }
            Ok(Resolution::None) => {
                errors.push(FieldError::new(
                    "organisation",
                    "No organisation in the register matches. Check the name, or enter its ODS code",
                ));
                None
            }
            Err(err) => return Err(err.into()),
        },
    };
    Ok(match (checked, organisation) {
        (Some(checked), Some(org)) if errors.is_empty() => Ok((checked, org)),
        _ => Err((errors, matches)),
    })
}

/// Files a report. With a key, a retry (even a concurrent one) returns the
/// report the first request created. A new report comes back as written,
/// as its reporter sees it.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &DatabaseConnection,
    reporter: &users::Model,
    report: CheckedReport,
    organisation: &organisations::Model,
    key: Option<&IdempotencyKey>,
    hourly_limit: i32,
) -> Result<Created<NewReport>, AppError> {
    let result = insert(db, reporter, report, organisation, key, hourly_limit).await;
    idempotency::settle(db, reporter.id, key, result).await
}

/// A report as its reporter sees it just after filing it.
pub struct NewReport {
    pub view: ReportView,
    pub history: Vec<StatusEntry>,
}

impl idempotency::Identified for NewReport {
    fn id(&self) -> Uuid {
        self.view.report.id
    }
}

async fn insert(
    db: &DatabaseConnection,
    reporter: &users::Model,
    report: CheckedReport,
    organisation: &organisations::Model,
    key: Option<&IdempotencyKey>,
    hourly_limit: i32,
) -> Result<Created<NewReport>, AppError> {
    let txn = crate::db::begin_write_in_group(db).await?;
    if let Some(key) = key
        && let Some(id) = idempotency::replay(&txn, reporter.id, key).await?
    {
        // Waits for the commit of the request that made it.
        txn.commit().await?;
        return Ok(Created::Replayed(id));
    }
    let now = crate::db::now();
    let status = ReportStatus::New;
    let category = report.category;
    let severity = report.severity;
    let after = json!({
        "organisation_id": organisation.id,
        "system_name": report.system_name,
        "category": category.as_str(),
        "severity": severity.as_str(),
        "confidential": report.confidential,
    });
    let row = reports::Model {
        id: Uuid::now_v7(),
        reporter_id: Some(reporter.id),
        organisation_id: organisation.id,
        system_name: report.system_name,
        supplier_name: report.supplier_name,
        category: category.as_str().to_owned(),
        standard_reference: report.standard_reference,
        severity: severity.as_str().to_owned(),
        patient_impact: report.patient_impact,
        staff_impact: report.staff_impact,
        evidence: report.evidence,
        confidential: report.confidential,
        status: status.as_str().to_owned(),
        version: 1,
        assignee_id: None,
        created_at: now,
        updated_at: now,
    };
    let id = row.id;
    txn.insert_model_later(&row).await?;
    let first =
        status_history::record_first(&txn, SUBJECT, id, status.as_str(), reporter.id, now).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(reporter.id),
            action: "report.submitted",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: None,
            after: Some(after),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, id).await?;
    if let Some(key) = key {
        idempotency::remember(&txn, reporter.id, key, id).await?;
    }
    // Last: see count_submission.
    crate::auth::rate_limit::count_submission(&txn, reporter.id, hourly_limit).await?;
    txn.commit().await?;
    Ok(Created::New(NewReport {
        view: ReportView {
            status,
            category,
            severity,
            organisation: Some(organisation.clone()),
            // Reporters always see themselves on their reports.
            reporter: Some(Person::from(reporter)),
            report: row,
        },
        history: vec![first],
    }))
}

async fn views(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    list: Vec<reports::Model>,
) -> Result<Vec<ReportView>, AppError> {
    let mut org_ids: Vec<Uuid> = list.iter().map(|r| r.organisation_id).collect();
    org_ids.sort();
    org_ids.dedup();
    let orgs = if org_ids.is_empty() {
        Vec::new()
    } else {
        organisations::Entity::find()
            .filter(organisations::Column::Id.is_in(org_ids))
            .all(conn)
            .await?
    };
    let visible_reporters = list
        .iter()
        .filter(|r| policy::can_see_reporter(caller, r))
        .filter_map(|r| r.reporter_id);
    let reporters = people::load(conn, visible_reporters).await?;
    Ok(list
        .into_iter()
        .map(|report| ReportView {
            status: ReportStatus::parse(&report.status).unwrap_or(ReportStatus::New),
            category: Category::parse(&report.category).unwrap_or(Category::Other),
            severity: Severity::parse(&report.severity).unwrap_or(Severity::Medium),
            organisation: orgs
                .iter()
                .find(|o| o.id == report.organisation_id)
                .cloned(),
            reporter: if policy::can_see_reporter(caller, &report) {
                report
                    .reporter_id
                    .and_then(|id| reporters.get(&id).cloned())
            } else {
                None
            },
            report,
        })
        .collect())
}

/// One report, if the caller may see it. Others get "not found", so that
/// nobody learns which reports exist.
pub async fn find(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    id: Uuid,
) -> Result<(ReportView, Vec<StatusEntry>), AppError> {
    let report = reports::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|r| policy::can_see_report(caller, r))
        .ok_or(AppError::NotFound)?;
    let history = status_history::history(conn, SUBJECT, id).await?;
    let view = views(conn, caller, vec![report])
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    Ok((view, history))
}

#[derive(Debug, Clone, Default)]
pub struct ReportFilter {
    pub status: Option<ReportStatus>,
    pub category: Option<Category>,
    pub severity: Option<Severity>,
    pub organisation_id: Option<Uuid>,
    pub cursor: Option<Cursor>,
    pub limit: u64,
}

/// Newest first. Board members see every report; anyone else only their own.
pub async fn list(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    filter: &ReportFilter,
) -> Result<(Vec<ReportView>, Option<Cursor>), AppError> {
    let user = caller.user.as_ref().ok_or(AppError::Unauthorized)?;
    let mut query = reports::Entity::find();
    if !policy::can_see_board_content(caller) {
        query = query.filter(reports::Column::ReporterId.eq(user.id));
    }
    if let Some(status) = filter.status {
        query = query.filter(reports::Column::Status.eq(status.as_str()));
    }
    if let Some(category) = filter.category {
        query = query.filter(reports::Column::Category.eq(category.as_str()));
    }
    if let Some(severity) = filter.severity {
        query = query.filter(reports::Column::Severity.eq(severity.as_str()));
    }
    if let Some(org) = filter.organisation_id {
        query = query.filter(reports::Column::OrganisationId.eq(org));
    }
    if let Some(cursor) = &filter.cursor {
        query = query.filter(reports::Column::Id.lt(cursor.id));
    }
    let mut found = query
        .order_by_desc(reports::Column::Id)
        .limit(filter.limit + 1)
        .all(conn)
        .await?;
    let next = if found.len() as u64 > filter.limit {
        found.truncate(filter.limit as usize);
        found.last().map(|r| Cursor {
            key: String::new(),
            id: r.id,
        })
    } else {
        None
    };
    Ok((views(conn, caller, found).await?, next))
}

/// A board member's update to a report, with the note the reporter sees.
#[derive(Debug, Clone)]
pub struct ReportStatusChange {
    pub status: String,
    pub note: String,
    pub version: Option<i32>,
}

#[tracing::instrument(skip_all)]
pub async fn change_status(
    state: &AppState,
    actor: &users::Model,
    id: Uuid,
    change: &ReportStatusChange,
) -> Result<reports::Model, AppError> {
    let mut errors = Vec::new();
    let to = ReportStatus::parse(&change.status);
    if to.is_none() {
        errors.push(FieldError::new("status", "Select a status"));
    }
    let note = STATUS_NOTE.check(&change.note, &mut errors);
    let txn = crate::db::begin_write(&state.db).await?;
    let report = reports::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let from = ReportStatus::parse(&report.status).unwrap_or(ReportStatus::New);
    if let Some(to) = to
        && !from.next().contains(&to)
    {
        let allowed: Vec<&str> = from.next().iter().map(|s| s.label()).collect();
        errors.push(status_history::not_allowed(
            "A report",
            from.label(),
            &allowed,
        ));
    }
    if let Some(expected) = change.version
        && expected != report.version
    {
        return Err(status_history::stale("report", report.version));
    }
    let (Some(to), Some(note)) = (to, note) else {
        return Err(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = Utc::now();
    let updated = reports::Entity::update_many()
        .col_expr(reports::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            reports::Column::Version,
            Expr::col(reports::Column::Version).add(1),
        )
        .col_expr(reports::Column::UpdatedAt, Expr::value(now))
        .filter(reports::Column::Id.eq(id))
        .filter(reports::Column::Version.eq(report.version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(status_history::lost_race("report"));
    }
    let change_id = status_history::record(
        &txn,
        status_history::Change {
            subject_type: SUBJECT,
            subject_id: id,
            from: Some(from.as_str()),
            to: to.as_str(),
            note: &note,
            actor: actor.id,
            at: now,
        },
    )
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "report.status_changed",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: Some(json!({ "status": from.as_str(), "version": report.version })),
            after: Some(
                json!({ "status": to.as_str(), "note": note, "version": report.version + 1 }),
            ),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, id).await?;
    let mut queued = false;
    if let Some(reporter_id) = report.reporter_id.filter(|r| *r != actor.id)
        && let Some(reporter) = users::Entity::find_by_id(reporter_id).one(&txn).await?
    {
        let link = state.settings.link(&format!("/reports/{id}"));
        let title = format!(
            "{} ({})",
            report.system_name,
            Category::parse(&report.category)
                .unwrap_or(Category::Other)
                .label()
        );
        let message = templates::status_update(
            &reporter.email,
            &templates::StatusUpdate {
                subject: format!("Update on your report: {}", to.label().to_lowercase()),
                item: "report",
                title: &title,
                status: to.label(),
                note: &note,
                link: &link,
                why: "You are receiving this because you made this report. Only you and the board can see it.",
            },
        )?;
        email::enqueue(&txn, &format!("report-status:{change_id}"), message).await?;
        queued = true;
    }
    txn.commit().await?;
    if queued {
        state.outbox_ready.notify_one();
    }
    reports::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The reports someone made, newest first.
pub async fn mine(
    conn: &impl ConnectionTrait,
    caller: &Caller,
) -> Result<Vec<ReportView>, AppError> {
    let user = caller.user.as_ref().ok_or(AppError::Unauthorized)?;
    let list = reports::Entity::find()
        .filter(reports::Column::ReporterId.eq(user.id))
        .order_by_desc(reports::Column::Id)
        .limit(500)
        .all(conn)
        .await?;
    views(conn, caller, list).await
}
