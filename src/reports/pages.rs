//! Report pages: the form, the report itself, the board's list and status change.

use askama::Template;
use entity::organisations;
use poem::http::StatusCode;
use poem::web::{Data, Html, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{Category, ReportInput, ReportStatus, Severity};
use super::service::{self, ReportFilter, ReportStatusChange, ReportView};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::idempotency::IdempotencyKey;
use crate::pagination::Cursor;
use crate::status_history::StatusEntry;
use crate::web::forms::{Choice, Errors, Fields, choices, refusal};
use crate::web::page::{PageContext, link_with_query, render, render_with_status, see_other};

#[derive(Template)]
#[template(path = "reports/new.html")]
struct NewReportPage {
    page: PageContext,
    form: ReportInput,
    categories: Vec<Choice>,
    severities: Vec<(Choice, &'static str)>,
    /// Organisations to choose from when what was typed matched several.
    matches: Vec<organisations::Model>,
    errors: Errors,
    submission_key: String,
}

fn new_report_page(
    caller: &Caller,
    state: &AppState,
    form: ReportInput,
    matches: Vec<organisations::Model>,
    errors: Errors,
    submission_key: String,
) -> NewReportPage {
    NewReportPage {
        page: PageContext::new(caller, &state.key),
        categories: choices(
            Category::ALL.iter().map(|c| (c.as_str(), c.label())),
            &[&form.category],
        ),
        severities: Severity::ALL
            .iter()
            .map(|s| {
                let choice = Choice {
                    value: s.as_str().to_owned(),
                    label: s.label().to_owned(),
                    checked: s.as_str() == form.severity,
                };
                (choice, s.hint())
            })
            .collect(),
        form,
        matches,
        errors,
        submission_key,
    }
}

#[handler]
pub async fn new_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Contribute)?;
    render(&new_report_page(
        &caller,
        &state,
        ReportInput::default(),
        Vec::new(),
        Errors::default(),
        Uuid::now_v7().to_string(),
    ))
}

#[handler]
pub async fn new_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let form = ReportInput {
        organisation: fields.get("organisation").to_owned(),
        organisation_id: fields.get("organisation_id").to_owned(),
        system_name: fields.get("system_name").to_owned(),
        supplier_name: fields.get("supplier_name").to_owned(),
        category: fields.get("category").to_owned(),
        standard_reference: fields.get("standard_reference").to_owned(),
        severity: fields.get("severity").to_owned(),
        patient_impact: fields.get("patient_impact").to_owned(),
        staff_impact: fields.get("staff_impact").to_owned(),
        evidence: fields.get("evidence").to_owned(),
        confidential: fields.get("confidential") == "yes",
    };
    let submission_key = match fields.get("submission_key") {
        k if Uuid::parse_str(k).is_ok() => k.to_owned(),
        _ => Uuid::now_v7().to_string(),
    };
    let (checked, org) = match service::check(&state.db, &form).await {
        Ok(Ok(ok)) => ok,
        // The register could not be searched (the database out of reach or
        // failing): not the reporter's mistake, but the form comes back
        // with every word kept rather than an error page.
        Err(err) => {
            if let AppError::Internal(cause) = &err {
                tracing::error!(error = ?cause, "the organisation register could not be searched");
            }
            let mut errors = Errors::default();
            errors.add(
                "organisation",
                "The organisation register could not be searched just now. Try again in a few minutes. What you wrote is kept below",
            );
            return render_with_status(
                &new_report_page(&caller, &state, form, Vec::new(), errors, submission_key),
                err.status(),
            );
        }
        Ok(Err((errors, matches))) => {
            return render_with_status(
                &new_report_page(
                    &caller,
                    &state,
                    form,
                    matches,
                    errors.into(),
                    submission_key,
                ),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let key = IdempotencyKey::parse(Some(&submission_key), "create-report", &form)?;
    let limit = state.settings.submissions_per_hour;
    let created =
        match service::create(&state.db, user, checked.clone(), &org, key.as_ref(), limit).await {
            // The same form sent again after a change: a new report.
            Err(AppError::Conflict(_)) => {
                service::create(&state.db, user, checked, &org, None, limit).await
            }
            other => other,
        };
    let created = match created {
        Ok(created) => created,
        Err(err) => {
            let (errors, status) = refusal(err, "submit")?;
            return render_with_status(
                &new_report_page(&caller, &state, form, Vec::new(), errors, submission_key),
                status,
            );
        }
    };
    Ok(see_other(&format!("/reports/{}?submitted=1", created.id())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowParams {
    submitted: Option<String>,
    status_changed: Option<String>,
}

#[derive(Template)]
#[template(path = "reports/show.html")]
struct ShowPage {
    page: PageContext,
    view: ReportView,
    history: Vec<StatusEntry>,
    evidence_html: String,
    can_triage: bool,
    is_reporter: bool,
    notice: Option<&'static str>,
    related: Vec<crate::search::similar::Related>,
    notes: crate::triage::notes::NotesView,
}

impl ShowPage {
    fn status_label(&self, raw: &str) -> &'static str {
        ReportStatus::parse(raw)
            .map(ReportStatus::label)
            .unwrap_or("Unknown")
    }
}

#[handler]
pub async fn show(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    Query(params): Query<ShowParams>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Contribute)?;
    let (view, history) = service::find(&state.db, &caller, id).await?;
    let notice = if params.submitted.is_some() {
        Some(
            "Your report has been sent to the board. You can follow it under My submissions, and we will email you when it is updated.",
        )
    } else if params.status_changed.is_some() {
        Some("The status has been changed and the reporter has been emailed.")
    } else {
        None
    };
    let related = crate::search::similar::related(&state, &caller, "report", id).await;
    let notes = crate::triage::notes::view(
        &state.db,
        &caller,
        crate::triage::inbox::InboxKind::Report,
        id,
        String::new(),
    )
    .await?;
    render(&ShowPage {
        notes,
        page: PageContext::new(&caller, &state.key),
        related,
        evidence_html: crate::markdown::render(&view.report.evidence),
        can_triage: policy::require(&caller, Permission::Triage).is_ok(),
        is_reporter: caller.user_id().is_some() && view.report.reporter_id == caller.user_id(),
        view,
        history,
        notice,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListParams {
    status: String,
    category: String,
    severity: String,
    cursor: String,
}

#[derive(Template)]
#[template(path = "reports/list.html")]
struct ListPage {
    page: PageContext,
    reports: Vec<ReportView>,
    statuses: Vec<Choice>,
    categories: Vec<Choice>,
    severities: Vec<Choice>,
    next_page: Option<String>,
    first_page: Option<String>,
}

fn list_url(params: &ListParams, cursor: Option<&str>) -> String {
    link_with_query(
        "/reports",
        [
            ("status", params.status.as_str()),
            ("category", params.category.as_str()),
            ("severity", params.severity.as_str()),
            ("cursor", cursor.unwrap_or("")),
        ],
    )
}

/// The board's list of every report.
#[handler]
pub async fn list(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<ListParams>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Triage)?;
    let filter = ReportFilter {
        status: ReportStatus::parse(&params.status),
        category: Category::parse(&params.category),
        severity: Severity::parse(&params.severity),
        organisation_id: None,
        cursor: Cursor::decode(&params.cursor).ok(),
        limit: 25,
    };
    let (reports, next) = service::list(&state.db, &caller, &filter).await?;
    render(&ListPage {
        page: PageContext::new(&caller, &state.key),
        statuses: choices(
            ReportStatus::ALL.iter().map(|s| (s.as_str(), s.label())),
            &[&params.status],
        ),
        categories: choices(
            Category::ALL.iter().map(|s| (s.as_str(), s.label())),
            &[&params.category],
        ),
        severities: choices(
            Severity::ALL.iter().map(|s| (s.as_str(), s.label())),
            &[&params.severity],
        ),
        next_page: next.map(|c| list_url(&params, Some(&c.encode()))),
        first_page: filter.cursor.is_some().then(|| list_url(&params, None)),
        reports,
    })
}

#[derive(Template)]
#[template(path = "reports/status.html")]
struct StatusPage {
    page: PageContext,
    view: ReportView,
    options: Vec<Choice>,
    note: String,
    errors: Errors,
}

async fn status_page(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    change: Option<&ReportStatusChange>,
    errors: Errors,
) -> Result<StatusPage, AppError> {
    let (view, _) = service::find(&state.db, caller, id).await?;
    let selected = change.map(|c| c.status.as_str()).unwrap_or("");
    Ok(StatusPage {
        page: PageContext::new(caller, &state.key),
        options: choices(
            view.status.next().iter().map(|s| (s.as_str(), s.label())),
            &[selected],
        ),
        note: change.map(|c| c.note.clone()).unwrap_or_default(),
        view,
        errors,
    })
}

#[handler]
pub async fn status_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Triage)?;
    render(&status_page(&state, &caller, id, None, Errors::default()).await?)
}

#[handler]
pub async fn status_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?;
    let change = ReportStatusChange {
        status: fields.get("status").to_owned(),
        note: fields.get("note").to_owned(),
        version: fields.get("version").parse().ok(),
    };
    match service::change_status(&state, user, id, &change).await {
        Ok(_) => Ok(see_other(&format!("/reports/{id}?status_changed=1"))),
        Err(err) => {
            let (errors, status) = refusal(err, "status")?;
            render_with_status(
                &status_page(&state, &caller, id, Some(&change), errors).await?,
                status,
            )
        }
    }
}
