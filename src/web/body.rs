//! Request bodies are read once, up to a limit, before anything else runs.

use poem::Request;

use crate::error::AppError;

/// Forms and JSON bodies: ample for a 20,000-character description with room
/// for encoding, small enough that nobody can exhaust memory.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

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
