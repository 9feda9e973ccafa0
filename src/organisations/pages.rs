//! The register pages for administrators: the register with its upload
//! form, an import's progress and rejected rows, and those rows as CSV.

use askama::Template;
use chrono::{DateTime, Utc};
use entity::organisation_imports;
use poem::http::StatusCode;
use poem::web::{Data, Html, Multipart, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use super::import::{self, FileProblem, RejectedRow, Report, Status};
use super::service;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::web::forms::Errors;
use crate::web::page::{PageContext, render, render_with_status, see_other};

const PER_PAGE: u64 = 25;
const RECENT_IMPORTS: u64 = 10;
/// Rejected rows shown on the import page; the CSV has all that were kept.
const REJECTED_SHOWN: usize = 500;

fn when(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y at %H:%M UTC").to_string()
}

/// Counts are never negative; one that somehow were would show as 0.
fn thousands(n: impl TryInto<u64>) -> String {
    crate::text::group_thousands(n.try_into().unwrap_or(0))
}

fn status_tag(status: Status) -> &'static str {
    match status {
        Status::Pending => "nhsuk-tag--grey",
        Status::Running => "nhsuk-tag--blue",
        Status::Done => "nhsuk-tag--green",
        Status::Failed => "nhsuk-tag--red",
    }
}

pub struct OrganisationRow {
    pub name: String,
    pub ods_code: String,
    pub kind: String,
    pub note: String,
}

pub struct ImportSummary {
    pub id: Uuid,
    pub file_name: String,
    pub started: String,
    pub status: &'static str,
    pub tag: &'static str,
}

impl From<&organisation_imports::Model> for ImportSummary {
    fn from(i: &organisation_imports::Model) -> Self {
        let status = Status::parse(&i.status);
        ImportSummary {
            id: i.id,
            file_name: i.file_name.clone(),
            started: when(i.created_at),
            status: status.label(),
            tag: status_tag(status),
        }
    }
}

pub struct KindOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin/organisations.html")]
struct RegisterPage {
    page: PageContext,
    q: String,
    organisations: Vec<OrganisationRow>,
    caption: String,
    showing: String,
    previous_page: Option<String>,
    next_page: Option<String>,
    kinds: Vec<KindOption>,
    imports: Vec<ImportSummary>,
    errors: Errors,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegisterParams {
    q: String,
    page: String,
}

fn register_caption(total: u64, q: &str) -> String {
    let count = thousands(total);
    let noun = if total == 1 {
        "organisation"
    } else {
        "organisations"
    };
    if q.is_empty() {
        format!("All {count} {noun}")
    } else {
        format!("{count} {noun} matching “{q}”")
    }
}

fn register_url(q: &str, page: u64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if !q.is_empty() {
        query.append_pair("q", q);
    }
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        "/admin/organisations".to_owned()
    } else {
        format!("/admin/organisations?{query}")
    }
}

async fn register_page(
    state: &AppState,
    caller: &Caller,
    params: &RegisterParams,
    kind: &str,
    errors: Errors,
) -> Result<RegisterPage, AppError> {
    let q: String = params.q.trim().chars().take(300).collect();
    let page = params.page.parse::<u64>().unwrap_or(1).max(1);
    let offset = (page - 1).saturating_mul(PER_PAGE);
    let (found, total) = service::register_page(&state.db, &q, offset, PER_PAGE).await?;
    let shown_to = offset + found.len() as u64;
    let showing = if found.is_empty() {
        String::new()
    } else {
        format!(
            "Showing {} to {} of {}",
            thousands(offset + 1),
            thousands(shown_to),
            thousands(total),
        )
    };
    Ok(RegisterPage {
        page: PageContext::new(caller, &state.key),
        organisations: found
            .into_iter()
            .map(|o| OrganisationRow {
                kind: import::kind_label(&o.kind).to_owned(),
                name: o.name,
                ods_code: o.ods_code.unwrap_or_default(),
                note: o.note.unwrap_or_default(),
            })
            .collect(),
        caption: register_caption(total, &q),
        showing,
        previous_page: (page > 1).then(|| register_url(&q, page - 1)),
        next_page: (shown_to < total).then(|| register_url(&q, page + 1)),
        q,
        kinds: import::KINDS
            .iter()
            .map(|(value, label)| KindOption {
                value,
                label,
                selected: *value == kind,
            })
            .collect(),
        imports: import::recent(&state.db, RECENT_IMPORTS)
            .await?
            .iter()
            .map(ImportSummary::from)
            .collect(),
        errors,
    })
}

#[handler]
pub async fn register(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<RegisterParams>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::ManageOrganisations)?;
    render(
        &register_page(
            &state,
            &caller,
            &params,
            import::DEFAULT_KIND,
            Errors::default(),
        )
        .await?,
    )
}

/// What a file field brought, when a file was chosen.
struct Upload {
    file_name: String,
    bytes: Vec<u8>,
}

/// Reads the upload form. Fields other than `kind` and `file` (the CSRF
/// token, which the pipeline has checked) are skipped.
async fn read_upload_form(mut form: Multipart) -> Result<(String, Option<Upload>), AppError> {
    let unreadable = || AppError::BadRequest("The form could not be read. Try again.".into());
    let mut kind = String::new();
    let mut upload = None;
    while let Some(field) = form.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("kind") => kind = field.text().await.map_err(|_| unreadable())?,
            Some("file") => {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|_| unreadable())?;
                // A form sent with no file chosen still has the field, empty
                // and nameless.
                if !(file_name.is_empty() && bytes.is_empty()) {
                    upload = Some(Upload { file_name, bytes });
                }
            }
            _ => {}
        }
    }
    Ok((kind, upload))
}

fn file_message(problem: &FileProblem) -> String {
    match problem {
        FileProblem::TooLarge => "The selected file must be smaller than 20 MB".to_owned(),
        FileProblem::NotText => {
            "The selected file must be a CSV file saved as UTF-8 text".to_owned()
        }
        FileProblem::Empty => "The selected file is empty".to_owned(),
        other => format!("The selected file cannot be imported. {other}"),
    }
}

#[handler]
pub async fn start_import(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    form: Multipart,
) -> Result<Response, AppError> {
    let admin = policy::require(&caller, Permission::ManageOrganisations)?;
    let (raw_kind, upload) = read_upload_form(form).await?;
    let kind = import::parse_kind(&raw_kind);
    let mut errors = Errors::default();
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if kind.is_none() {
        errors.add("kind", "Select what kind of organisations the file lists");
    }
    match &upload {
        None => errors.add("file", "Select a CSV file to import"),
        Some(file) if file.file_name.to_lowercase().ends_with(".zip") => errors.add(
            "file",
            "The selected file must be a CSV file. NHS ODS downloads are zip files: unzip it and choose the CSV file inside",
        ),
        Some(file) if !file.file_name.to_lowercase().ends_with(".csv") => {
            errors.add("file", "The selected file must be a CSV file")
        }
        Some(file) if file.bytes.len() > import::MAX_FILE_BYTES => {
            status = StatusCode::PAYLOAD_TOO_LARGE;
            errors.add("file", file_message(&FileProblem::TooLarge));
        }
        Some(_) => {}
    }
    if let (Some(kind), Some(file), true) = (kind, &upload, errors.is_empty()) {
        match import::accept(
            &state.db,
            admin.id,
            &file.file_name,
            kind,
            &file.bytes,
            None,
        )
        .await?
        {
            Ok(started) => {
                return Ok(see_other(&format!(
                    "/admin/organisations/imports/{}",
                    started.id
                )));
            }
            Err(problem) => errors.add("file", file_message(&problem)),
        }
    }
    let chosen_kind = kind.unwrap_or(import::DEFAULT_KIND);
    render_with_status(
        &register_page(
            &state,
            &caller,
            &RegisterParams::default(),
            chosen_kind,
            errors,
        )
        .await?,
        status,
    )
}

#[derive(Template)]
#[template(path = "admin/organisation_import.html")]
struct ImportPage {
    page: PageContext,
    record: organisation_imports::Model,
    kind: String,
    started: String,
    status: Status,
    tag: &'static str,
    processed: String,
    total: String,
    created: String,
    updated: String,
    unchanged: String,
    rejected_count: String,
    rejected: Vec<RejectedRow>,
    /// Rejected rows kept but not shown on the page.
    rejected_not_shown: usize,
    /// Rejected rows counted but not kept, beyond the report's limit.
    rejected_not_kept: i64,
}

async fn find_import(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<organisation_imports::Model, AppError> {
    policy::require(caller, Permission::ManageOrganisations)?;
    import::find(&state.db, id).await?.ok_or(AppError::NotFound)
}

#[handler]
pub async fn progress(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    let found = find_import(&state, &caller, id).await?;
    let report = Report::of(&found);
    let status = Status::parse(&found.status);
    let kept = report.rows.len();
    let mut rejected = report.rows;
    rejected.truncate(REJECTED_SHOWN);
    let unchanged = i64::from(found.total_rows)
        - i64::from(found.created_count)
        - i64::from(found.updated_count)
        - i64::from(found.rejected_count);
    render(&ImportPage {
        page: PageContext::new(&caller, &state.key),
        kind: import::kind_label(&report.kind).to_owned(),
        started: when(found.created_at),
        status,
        tag: status_tag(status),
        processed: thousands(found.processed_rows),
        total: thousands(found.total_rows),
        created: thousands(found.created_count),
        updated: thousands(found.updated_count),
        unchanged: thousands(unchanged),
        rejected_count: thousands(found.rejected_count),
        rejected_not_shown: kept - rejected.len(),
        rejected_not_kept: i64::from(found.rejected_count) - kept as i64,
        rejected,
        record: found,
    })
}

#[handler]
pub async fn rejected_csv(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let found = find_import(&state, &caller, id).await?;
    let csv = import::rejected_csv(&Report::of(&found).rows).map_err(AppError::internal)?;
    Ok(crate::web::page::download(
        csv,
        "text/csv; charset=utf-8",
        &format!("rejected-rows-{id}.csv"),
    ))
}
