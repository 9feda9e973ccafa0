//! CSRF protection for every unsafe request made with cookies. Tokens are an
//! HMAC of the session (or, before sign-in, of the anonymous cookie), so one
//! site cannot forge them and no server-side store is needed.

use bytes::Bytes;
use poem::Request;
use poem::http::Method;

use crate::auth::caller::{Caller, Credential};
use crate::auth::crypto::ServerKey;
use crate::error::AppError;

pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

pub fn token_for(key: &ServerKey, binding: &str) -> String {
    key.sign("csrf", binding)
}

/// Addresses whose requests carry their own authority in a signed link,
/// and are sent by mail clients that hold no session (RFC 8058 one-click
/// unsubscribe).
pub const SIGNED_LINK_PATHS: &[&str] = &["/digests/unsubscribe"];

pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks an unsafe request. API calls with a bearer token carry no ambient
/// authority and need no token; anything that relies on cookies does.
pub async fn check(
    req: &Request,
    body: &Bytes,
    caller: &Caller,
    key: &ServerKey,
    is_api: bool,
) -> Result<(), AppError> {
    if !is_unsafe(req.method()) || matches!(caller.credential, Credential::ApiToken { .. }) {
        return Ok(());
    }
    if is_api && !matches!(caller.credential, Credential::Session { .. }) {
        return Ok(());
    }
    let presented = match req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(header) => Some(header.to_owned()),
        None => form_field(req, body).await,
    };
    let (Some(binding), Some(presented)) = (caller.csrf_binding.as_deref(), presented) else {
        return Err(AppError::CsrfRejected);
    };
    if key.verify("csrf", binding, &presented) {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}

/// The token field of a form body: urlencoded, or multipart/form-data for
/// forms that upload a file.
async fn form_field(req: &Request, body: &Bytes) -> Option<String> {
    match req.content_type().map(multer::parse_boundary) {
        Some(Ok(boundary)) => multipart_field(body.clone(), boundary).await,
        _ => url::form_urlencoded::parse(body)
            .find(|(k, _)| k == FORM_FIELD)
            .map(|(_, v)| v.into_owned()),
    }
}

/// Forms put the token first, so this reads only the start of an upload.
async fn multipart_field(body: Bytes, boundary: String) -> Option<String> {
    let constraints =
        multer::Constraints::new().size_limit(multer::SizeLimit::new().for_field(FORM_FIELD, 1024));
    let stream = poem::Body::from(body).into_bytes_stream();
    let mut form = multer::Multipart::with_constraints(stream, boundary, constraints);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(FORM_FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(token_part: &str) -> Bytes {
        Bytes::from(format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\ntrust\r\n\
             {token_part}\
             --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"etr.csv\"\r\n\
             Content-Type: text/csv\r\n\r\nRTH,Oxford\r\n--XyZ--\r\n"
        ))
    }

    fn request(content_type: &str) -> Request {
        Request::builder()
            .method(Method::POST)
            .content_type(content_type)
            .finish()
    }

    #[tokio::test]
    async fn the_token_is_found_in_a_multipart_upload() {
        let body = multipart(
            "--XyZ\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc123\r\n",
        );
        let req = request("multipart/form-data; boundary=XyZ");
        assert_eq!(form_field(&req, &body).await.as_deref(), Some("abc123"));
        assert_eq!(form_field(&req, &multipart("")).await, None);
    }

    #[tokio::test]
    async fn the_token_is_found_in_a_urlencoded_form() {
        let req = request("application/x-www-form-urlencoded");
        let body = Bytes::from_static(b"email=a%40b.nhs.uk&csrf_token=xyz");
        assert_eq!(form_field(&req, &body).await.as_deref(), Some("xyz"));
    }
}
