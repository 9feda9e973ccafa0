//! Security headers on every response.

use base64::Engine;
use poem::Response;
use poem::http::HeaderValue;
use sha2::{Digest, Sha256};

/// The one inline script: it tells the NHS frontend CSS that JavaScript runs,
/// before first paint, so components do not flash. Allowed by its hash.
pub const BODY_CLASS_SCRIPT: &str = "document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '');";

pub fn script_hash(script: &str) -> String {
    let digest = Sha256::digest(script.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

pub fn page_csp() -> String {
    format!(
        "default-src 'self'; script-src 'self' {}; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        script_hash(BODY_CLASS_SCRIPT)
    )
}

pub fn apply(resp: &mut Response, csp: &str, https: bool) {
    let headers = resp.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if !headers.contains_key(name)
            && let Ok(v) = HeaderValue::from_str(value)
        {
            headers.insert(name, v);
        }
    };
    put("content-security-policy", csp);
    put("x-content-type-options", "nosniff");
    put("x-frame-options", "DENY");
    // Sign-in links carry a token in their query: never send it onwards.
    put("referrer-policy", "no-referrer");
    put(
        "permissions-policy",
        "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    );
    put("cross-origin-opener-policy", "same-origin");
    if https {
        put(
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
}
