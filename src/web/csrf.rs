//! CSRF protection for every unsafe request made with cookies. Tokens are an
//! HMAC of the session (or, before sign-in, of the anonymous cookie), so one
//! site cannot forge them and no server-side store is needed.

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

pub fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Checks an unsafe request. API calls with a bearer token carry no ambient
/// authority and need no token; anything that relies on cookies does.
pub fn check(
    req: &Request,
    body: &[u8],
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
    let presented = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| form_field(body, FORM_FIELD));
    let (Some(binding), Some(presented)) = (caller.csrf_binding.as_deref(), presented) else {
        return Err(AppError::CsrfRejected);
    };
    if key.verify("csrf", binding, &presented) {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
