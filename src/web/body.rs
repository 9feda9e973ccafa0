//! Request bodies are read once, up to a limit, before the handler runs.

use poem::Request;

use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;

/// Forms and JSON bodies: ample for a 20,000-character description with room
/// for encoding, small enough that nobody can exhaust memory.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The routes that take a whole NHS ODS file: the upload form and the API.
/// They are the only exceptions to `MAX_BODY_BYTES`.
const IMPORT_ROUTES: [&str; 2] = [
    "/admin/organisations/imports",
    "/api/v1/organisations/imports",
];

/// An import file, plus room for the form's other fields and the multipart
/// framing, so that a file just over its own limit gets a message on the form.
pub const MAX_IMPORT_BODY_BYTES: usize = crate::organisations::import::MAX_FILE_BYTES + 64 * 1024;

/// The body limit for a request: larger for imports, and only for callers
/// who may import, so nobody else can make the server hold 20 MB.
pub fn limit_for(path: &str, caller: &Caller) -> usize {
    if IMPORT_ROUTES.contains(&path)
        && policy::require(caller, Permission::ManageOrganisations).is_ok()
    {
        MAX_IMPORT_BODY_BYTES
    } else if is_response_import(path)
        && policy::require(caller, Permission::ManageConsultations).is_ok()
    {
        crate::consultations::import::MAX_FILE_BYTES
    } else {
        MAX_BODY_BYTES
    }
}

/// `/api/v1/consultations/{slug}/responses/import`: responses collected elsewhere.
fn is_response_import(path: &str) -> bool {
    path.strip_prefix("/api/v1/consultations/")
        .and_then(|rest| rest.strip_suffix("/responses/import"))
        .is_some_and(|slug| !slug.is_empty() && !slug.contains('/'))
}

/// Buffers the body (refusing one over the limit, whatever Content-Length
/// claims) and puts it back for the handler. Returns the bytes for checks.
pub async fn buffer(req: &mut Request, limit: usize) -> Result<bytes::Bytes, AppError> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let bytes = req
        .take_body()
        .into_bytes_limit(limit)
        .await
        .map_err(|err| match err {
            poem::error::ReadBodyError::PayloadTooLarge => AppError::PayloadTooLarge { limit },
            other => AppError::BadRequest(format!("The request body could not be read: {other}")),
        })?;
    req.set_body(bytes.clone());
    Ok(bytes)
}
