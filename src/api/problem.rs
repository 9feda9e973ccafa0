//! RFC 9457 problem details: the body of every API error.

use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error::AppError;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A machine-readable error. `type` is stable; `detail` is for people.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct Problem {
    /// A URI reference naming the kind of problem; `/problems/{slug}` documents it.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The request path the problem occurred on.
    pub instance: String,
    /// One entry per invalid field (validation problems, and bad requests
    /// whose JSON fields have the wrong type); absent on other problems.
    #[oai(default, skip_serializing_if_is_empty)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ProblemField {
    /// The field's name in the request body or parameters.
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn from_error(err: &AppError, instance: &str) -> Self {
        let status = err.status().as_u16();
        let detail = match err {
            // Never show internal causes to callers.
            AppError::Internal(_) => "Something failed on our side. It has been logged.".to_owned(),
            other => other.to_string(),
        };
        Problem {
            problem_type: format!("/problems/{}", err.slug()),
            title: err.title().to_owned(),
            status,
            detail,
            instance: instance.to_owned(),
            errors: err
                .field_errors()
                .iter()
                .map(|e| ProblemField {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

/// A problem+json response for errors raised outside an operation
/// (unknown paths, oversized bodies, bad tokens).
pub fn response(err: &AppError, instance: &str) -> Response {
    let body = serde_json::to_string(&Problem::from_error(err, instance))
        .unwrap_or_else(|_| "{}".to_owned());
    body.with_status(err.status())
        .with_content_type(CONTENT_TYPE)
        .into_response()
}

/// The error half of every operation's result: each status it can answer
/// with, documented in the OpenAPI spec.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// The request could not be read: malformed JSON, a field of the wrong
    /// type (each named in `errors`), or a missing parameter.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid API token or session.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The caller may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// Nothing here, or nothing the caller may see.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// Conflicts with the current state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The body is too large.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// One or more fields are invalid; `errors` lists them.
    #[oai(status = 422, content_type = "application/problem+json")]
    Validation(Json<Problem>),
    /// Rate limited; retry after the given seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The database is unreachable.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>),
}

fn bad_request(err: poem::Error) -> ApiError {
    ApiError::from(AppError::BadRequest(err.to_string()))
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(source) = &err {
            tracing::error!(error = ?source, "API request failed");
        }
        let instance = crate::telemetry::current_request_id()
            .map(|id| format!("urn:request:{id}"))
            .unwrap_or_default();
        let problem = Json(Problem::from_error(&err, &instance));
        match err {
            // The router answers a wrong method before any operation runs
            // (see `web::pipeline`); an operation never raises it.
            AppError::BadRequest(_) | AppError::WrongTypes(_) | AppError::MethodNotAllowed => {
                ApiError::BadRequest(problem)
            }
            AppError::Unauthorized => ApiError::Unauthorized(problem),
            AppError::Forbidden | AppError::CsrfRejected => ApiError::Forbidden(problem),
            AppError::NotFound => ApiError::NotFound(problem),
            AppError::Conflict(_) | AppError::Closed(_) => ApiError::Conflict(problem),
            AppError::PayloadTooLarge { .. } => ApiError::PayloadTooLarge(problem),
            AppError::Validation(_) => ApiError::Validation(problem),
            AppError::TooManyRequests { retry_after_secs } => {
                ApiError::TooManyRequests(problem, retry_after_secs)
            }
            AppError::Internal(_) => ApiError::Internal(problem),
            AppError::Unavailable => ApiError::Unavailable(problem),
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        AppError::from(err).into()
    }
}
