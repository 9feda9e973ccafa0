//! The JSON API under `/api/v1`: the second face of the same services, with
//! the same rules as the pages.

pub mod allow;
pub mod body_types;
pub mod bounded;
mod paths;
pub mod problem;

use poem_openapi::{OpenApiService, Tags};

use crate::auth::api::AccountApi;
use crate::consultations::api::{ConsultationAnalysisApi, ConsultationsApi};
use crate::digests::api::DigestApi;
use crate::ideas::api::IdeasApi;
use crate::organisations::api::OrganisationsApi;
use crate::reports::api::ReportsApi;
use crate::search::api::SearchApi;
use crate::search::saved::api::SavedSearchesApi;
use crate::submissions::api::SubmissionsApi;
use crate::triage::api::TriageApi;
use crate::triage::board_api::BoardApi;
use crate::triage::item_api::ItemApi;

#[derive(Tags)]
pub enum ApiTags {
    /// The signed-in caller and their API tokens
    Account,
    /// Ideas, their supporters and comments, and the themes they are filed under
    Ideas,
    /// Reports of places where best practice is not being followed
    Reports,
    /// The organisation register, and imports into it from NHS ODS files
    Organisations,
    /// Consultations on proposed standards: documents, questions, responses, analysis and outcomes
    Consultations,
    /// The board's inbox: assignment, status, tags, links and notes
    Triage,
    /// One search over everything the caller may see, similar items, and saved searches
    Search,
}

pub const API_DESCRIPTION: &str = "The JSON API of HealthTech Hub. Authenticate with a personal API token \
(create one on the API tokens page or with `hub tokens create`) sent as `Authorization: Bearer <token>`. \
Every error is `application/problem+json` (RFC 9457) with a stable `type`; validation errors list each field in `errors`.";

/// An optional enumerated query parameter: absent or empty is None, an
/// unknown value is a validation problem naming the parameter.
pub fn optional_choice<T>(
    raw: Option<&str>,
    field: &str,
    parse: fn(&str) -> Option<T>,
    message: &str,
) -> Result<Option<T>, crate::error::AppError> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => parse(r).map(Some).ok_or_else(|| {
            crate::error::AppError::Validation(vec![crate::error::FieldError::new(field, message)])
        }),
    }
}

/// Every part of the API, in the order the spec lists them.
pub type Apis = (
    AccountApi,
    SubmissionsApi,
    IdeasApi,
    ReportsApi,
    OrganisationsApi,
    ConsultationsApi,
    ConsultationAnalysisApi,
    SearchApi,
    SavedSearchesApi,
    TriageApi,
    ItemApi,
    BoardApi,
    DigestApi,
);

pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            AccountApi,
            SubmissionsApi,
            IdeasApi,
            ReportsApi,
            OrganisationsApi,
            ConsultationsApi,
            ConsultationAnalysisApi,
            SearchApi,
            SavedSearchesApi,
            TriageApi,
            ItemApi,
            BoardApi,
            DigestApi,
        ),
        "HealthTech Hub API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(API_DESCRIPTION)
    .server("/api")
}
