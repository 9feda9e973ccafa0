//! One error type for everything a user can see. The API renders it as
//! RFC 9457 problem+json with a stable `type`; pages render an error page.

use poem::http::StatusCode;
use sea_orm::{DbErr, RuntimeErr};

/// A message about one field of a form or JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("Some of the information given is not valid")]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    BadRequest(String),
    /// JSON fields whose values are not of the type the API's document
    /// gives them: the request cannot be read, so 400, with each field named.
    #[error("Some fields are not of the type the API's document gives them")]
    WrongTypes(Vec<FieldError>),
    #[error("You need to sign in")]
    Unauthorized,
    #[error("You do not have permission to do that")]
    Forbidden,
    #[error("The form has expired. Go back, refresh the page and try again")]
    CsrfRejected,
    #[error("Page not found")]
    NotFound,
    /// The path exists but does not take this method.
    #[error("That method is not allowed here")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// Too late (or too early): the consultation is not taking responses.
    #[error("{0}")]
    Closed(String),
    #[error("Too many requests. Try again in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("The request is too large (the limit is {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("The service is unavailable. Try again shortly")]
    Unavailable,
    #[error("Something went wrong")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) | AppError::WrongTypes(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) | AppError::Closed(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable problem type slug; `/problems/{slug}` documents it.
    pub fn slug(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation",
            AppError::BadRequest(_) | AppError::WrongTypes(_) => "bad-request",
            AppError::Unauthorized => "unauthorized",
            AppError::Forbidden => "forbidden",
            AppError::CsrfRejected => "csrf",
            AppError::NotFound => "not-found",
            AppError::MethodNotAllowed => "method-not-allowed",
            AppError::Conflict(_) => "conflict",
            AppError::Closed(_) => "consultation-closed",
            AppError::TooManyRequests { .. } => "rate-limited",
            AppError::PayloadTooLarge { .. } => "payload-too-large",
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn title(&self) -> &'static str {
        problem_title(self.slug())
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            AppError::Validation(errors) | AppError::WrongTypes(errors) => errors,
            _ => &[],
        }
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(err.into())
    }

    /// Maps a poem error that did not come from our code (routing, body
    /// parsing, extractors) to the nearest user-facing error.
    pub fn from_poem(err: poem::Error) -> Self {
        let status = err.status();
        match err.downcast::<AppError>() {
            Ok(app) => app,
            Err(err) => match status {
                StatusCode::NOT_FOUND => AppError::NotFound,
                StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
                StatusCode::UNAUTHORIZED => AppError::Unauthorized,
                StatusCode::FORBIDDEN => AppError::Forbidden,
                StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge {
                    limit: crate::web::body::MAX_BODY_BYTES,
                },
                s if s.is_client_error() => AppError::BadRequest(err.to_string()),
                _ => AppError::Internal(anyhow::anyhow!(err.to_string())),
            },
        }
    }
}

/// All problem types, for the documentation page and the titles.
pub const PROBLEM_TYPES: &[(&str, &str, &str)] = &[
    (
        "validation",
        "Validation failed",
        "One or more fields are not valid. `errors` lists each field with a message.",
    ),
    (
        "bad-request",
        "Bad request",
        "The request could not be understood: malformed JSON, a wrong type, or a missing parameter. Where JSON fields have the wrong type, `errors` lists each field with a message.",
    ),
    (
        "unauthorized",
        "Authentication required",
        "Send a valid `Authorization: Bearer` API token, or sign in.",
    ),
    (
        "forbidden",
        "Forbidden",
        "You are signed in but not allowed to do this.",
    ),
    (
        "csrf",
        "Form expired",
        "A form was posted without a valid CSRF token. Reload the page and try again.",
    ),
    (
        "not-found",
        "Not found",
        "Nothing exists at this address, or you may not see it.",
    ),
    (
        "method-not-allowed",
        "Method not allowed",
        "The address exists but does not take this HTTP method. The `Allow` header lists the methods it takes.",
    ),
    (
        "conflict",
        "Conflict",
        "The request conflicts with the current state, for example a reused idempotency key.",
    ),
    (
        "consultation-closed",
        "Consultation not open",
        "The consultation is not taking responses now: it has not opened yet or it has closed. A draft is kept as it was saved.",
    ),
    (
        "rate-limited",
        "Too many requests",
        "Slow down: `Retry-After` says when to try again.",
    ),
    (
        "payload-too-large",
        "Payload too large",
        "The request body is larger than the limit.",
    ),
    (
        "unavailable",
        "Service unavailable",
        "A dependency (the database) cannot be reached. Retry later.",
    ),
    (
        "internal",
        "Internal error",
        "Something failed on our side. It has been logged.",
    ),
];

pub fn problem_title(slug: &str) -> &'static str {
    PROBLEM_TYPES
        .iter()
        .find(|(s, _, _)| *s == slug)
        .map(|(_, t, _)| *t)
        .unwrap_or("Error")
}

impl poem::error::ResponseError for AppError {
    fn status(&self) -> StatusCode {
        AppError::status(self)
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if is_unreachable(&err) {
            tracing::warn!(error = %err, "database unreachable");
            AppError::Unavailable
        } else {
            AppError::Internal(err.into())
        }
    }
}

/// True when the database could not be reached, as opposed to a bad query.
pub fn is_unreachable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Query(RuntimeErr::SqlxError(e)) | DbErr::Exec(RuntimeErr::SqlxError(e)) => {
            match &**e {
                sea_orm::sqlx::Error::Io(_)
                | sea_orm::sqlx::Error::PoolTimedOut
                | sea_orm::sqlx::Error::PoolClosed => true,
                // A server going down ends its sessions with SQLSTATE 57P01
                // (admin shutdown), 57P02 (crash) or 57P03 (starting up or
                // shutting down), or a class 08 connection exception: it is
                // unavailable for a moment, not a fault in the request.
                sea_orm::sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
                _ => false,
            }
        }
        _ => false,
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(err: sea_orm::TransactionError<AppError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(app) => app,
        }
    }
}
