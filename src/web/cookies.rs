//! The two cookies: the session, and an anonymous id that CSRF tokens are
//! bound to before sign-in.

use poem::Request;
use poem::http::header;

pub const SESSION: &str = "hub_session";
pub const ANON: &str = "hub_anon";

pub fn read(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|line| {
            line.split(';').find_map(|pair| {
                let (k, v) = pair.trim().split_once('=')?;
                (k == name && !v.is_empty() && v.len() <= 128).then(|| v.to_owned())
            })
        })
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Lax always, Secure over https.
pub fn set(name: &str, value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, secure)
}
