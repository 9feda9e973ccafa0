//! `/api/v1/organisations`: searching the register, and importing NHS ODS
//! files into it.

use chrono::{DateTime, Utc};
use entity::{organisation_imports, organisations};
use poem::web::Data;
use poem::{Request, RequestBody};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::import::{self, FileProblem, Report, Status};
use super::service;
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::{AppError, FieldError};
use crate::idempotency::IdempotencyKey;
use crate::pagination::{self, PageSize};

pub struct OrganisationsApi;

/// An organisation in the register.
#[derive(Debug, Object)]
pub struct Organisation {
    pub id: Uuid,
    pub name: String,
    /// trust, icb, gp, acute, mental_health, community, ambulance, supplier or other
    pub kind: String,
    /// The NHS Organisation Data Service code, for NHS organisations.
    #[oai(nullable)]
    pub ods_code: Option<String>,
    /// For example, when the organisation closed or merged.
    #[oai(nullable)]
    pub note: Option<String>,
}

impl From<organisations::Model> for Organisation {
    fn from(o: organisations::Model) -> Self {
        Organisation {
            id: o.id,
            name: o.name,
            kind: o.kind,
            ods_code: o.ods_code,
            note: o.note,
        }
    }
}

#[derive(Debug, Object)]
pub struct OrganisationList {
    pub items: Vec<Organisation>,
}

/// A row of an imported file that was not imported.
#[derive(Debug, Object)]
pub struct RejectedRow {
    /// The row's line in the file (the header row is line 1).
    pub line: u64,
    pub ods_code: String,
    pub name: String,
    pub reason: String,
}

/// An import of an NHS ODS file and how far it has got.
#[derive(Debug, Object)]
pub struct OrganisationImport {
    pub id: Uuid,
    pub file_name: String,
    /// The kind given to organisations whose row does not name one.
    pub kind: String,
    /// pending, running, done or failed
    pub status: String,
    /// Data rows in the file.
    pub total_rows: i32,
    /// Rows dealt with so far, rejected ones included.
    pub processed_rows: i32,
    pub created_count: i32,
    pub updated_count: i32,
    pub rejected_count: i32,
    /// The rejected rows (at most the first 10,000), with reasons.
    pub rejected: Vec<RejectedRow>,
    /// Why a failed import failed.
    #[oai(nullable)]
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<organisation_imports::Model> for OrganisationImport {
    fn from(i: organisation_imports::Model) -> Self {
        let report = Report::of(&i);
        OrganisationImport {
            id: i.id,
            file_name: i.file_name,
            kind: report.kind,
            status: Status::parse(&i.status).as_str().to_owned(),
            total_rows: i.total_rows,
            processed_rows: i.processed_rows,
            created_count: i.created_count,
            updated_count: i.updated_count,
            rejected_count: i.rejected_count,
            rejected: report
                .rows
                .into_iter()
                .map(|r| RejectedRow {
                    line: r.line,
                    ods_code: r.ods_code,
                    name: r.name,
                    reason: r.reason,
                })
                .collect(),
            error: i.error,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// A CSV file as the request body: `text/csv`, UTF-8.
pub struct CsvFile(pub bytes::Bytes);

impl Payload for CsvFile {
    const CONTENT_TYPE: &'static str = "text/csv";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/csv"))
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("binary"),
            ..MetaSchema::new("string")
        }))
    }
}

impl ParsePayload for CsvFile {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(
            <bytes::Bytes as poem::FromRequest>::from_request(request, body).await?,
        ))
    }
}

// The one-argument form of this macro only works inside poem-openapi.
poem_openapi::impl_apirequest_for_payload!(CsvFile,);

#[derive(ApiResponse)]
pub enum StartImportResponse {
    /// The file was accepted and is being imported; `Location` is where to
    /// follow its progress.
    #[oai(status = 202)]
    Accepted(Json<OrganisationImport>, #[oai(header = "Location")] String),
}

/// A whole-file problem as the API reports it.
pub fn file_problem(problem: FileProblem, field: &str) -> AppError {
    match problem {
        FileProblem::TooLarge => AppError::PayloadTooLarge {
            limit: import::MAX_FILE_BYTES,
        },
        other => AppError::Validation(vec![FieldError::new(field, other.to_string())]),
    }
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Organisations")]
impl OrganisationsApi {
    /// Search the organisation register
    ///
    /// Organisations whose name contains `q` or whose ODS code is `q`, exact
    /// matches first; without `q`, the register in name order.
    #[oai(
        path = "/organisations",
        method = "get",
        operation_id = "listOrganisations"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        /// Part of a name, or an ODS code.
        #[oai(validator(max_length = 300))]
        q: Query<Option<String>>,
        /// At most this many (1 to 100, default 20).
        limit: Query<Option<PageSize>>,
    ) -> Result<Json<OrganisationList>, ApiError> {
        let limit = pagination::page_size(limit.0)?;
        let text = q.0.unwrap_or_default();
        let found = if text.trim().is_empty() {
            service::register_page(&state.db, "", 0, limit).await?.0
        } else {
            service::search(&state.db, &text, limit).await?
        };
        Ok(Json(OrganisationList {
            items: found.into_iter().map(Organisation::from).collect(),
        }))
    }

    /// Import organisations from an NHS ODS CSV file (administrators)
    ///
    /// The body is the file: an ODS download such as `etr.csv` (no header
    /// row), or a CSV whose header row names `ods_code` and `name` columns
    /// (and optionally `kind`). At most 20 MB and 500,000 rows. Rows are
    /// upserted by ODS code in the background; follow the import at the
    /// returned `Location`.
    #[oai(
        path = "/organisations/imports",
        method = "post",
        operation_id = "startOrganisationImport"
    )]
    async fn start_import(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        /// The file's name, to recognise the import by.
        #[oai(validator(max_length = 300))]
        file_name: Query<Option<String>>,
        /// The kind of organisations listed (default trust): trust, icb, gp,
        /// acute, mental_health, community, ambulance, supplier or other.
        kind: Query<Option<String>>,
        /// Makes retries safe: a retried upload answers with the import the
        /// first one started.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: CsvFile,
    ) -> Result<StartImportResponse, ApiError> {
        let admin = policy::require(&caller, Permission::ManageOrganisations)?;
        let kind = match kind.0.as_deref() {
            None => import::DEFAULT_KIND,
            Some(raw) => import::parse_kind(raw).ok_or_else(|| {
                AppError::Validation(vec![FieldError::new(
                    "kind",
                    "kind must be trust, icb, gp, acute, mental_health, community, ambulance, supplier or other",
                )])
            })?,
        };
        let file_name = file_name.0.unwrap_or_default();
        let key = match idempotency_key.0.as_deref() {
            None => None,
            Some(raw) => IdempotencyKey::parse(
                Some(raw),
                "start-organisation-import",
                &import::upload_fingerprint(&file_name, kind, &body.0),
            )?,
        };
        let started = import::accept(&state.db, admin.id, &file_name, kind, &body.0, key.as_ref())
            .await?
            .map_err(|problem| file_problem(problem, "body"))?;
        let location = format!("/api/v1/organisations/imports/{}", started.id);
        Ok(StartImportResponse::Accepted(
            Json(started.into()),
            location,
        ))
    }

    /// An import's progress, counts and rejected rows (administrators)
    #[oai(
        path = "/organisations/imports/:id",
        method = "get",
        operation_id = "getOrganisationImport"
    )]
    async fn get_import(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<Json<OrganisationImport>, ApiError> {
        policy::require(&caller, Permission::ManageOrganisations)?;
        let found = import::find(&state.db, id.0)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(Json(found.into()))
    }
}
