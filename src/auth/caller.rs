//! Who is making a request: resolved once per request from the session
//! cookie or the bearer token, then handed to handlers as `Data<&Caller>`.

use chrono::{Duration, Utc};
use entity::{api_tokens, sessions, users};
use poem::Request;
use poem::http::header;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::crypto::{ServerKey, hash_token};
use crate::app_state::AppState;
use crate::error::AppError;
use crate::web::{cookies, csrf};

/// How long a session lasts without use. Activity slides it forward.
pub const SESSION_IDLE: Duration = Duration::days(7);
/// Activity is written back at most this often, to spare the database.
const TOUCH_EVERY: Duration = Duration::minutes(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    None,
    Session { session_id: Uuid },
    ApiToken { token_id: Uuid },
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<users::Model>,
    pub credential: Credential,
    /// What CSRF tokens are bound to: the session token's hash, or the anonymous cookie.
    pub csrf_binding: Option<String>,
    /// Set when a new anonymous cookie must be sent with the response.
    pub new_anon_cookie: Option<String>,
    /// Set when the browser sent a session cookie that no longer works.
    pub stale_session_cookie: bool,
}

impl Caller {
    pub fn anonymous(binding: Option<String>) -> Self {
        Self {
            user: None,
            credential: Credential::None,
            csrf_binding: binding,
            new_anon_cookie: None,
            stale_session_cookie: false,
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.user.as_ref().map(|u| u.id)
    }

    pub fn csrf_token(&self, key: &ServerKey) -> String {
        self.csrf_binding
            .as_deref()
            .map(|b| csrf::token_for(key, b))
            .unwrap_or_default()
    }
}

/// Resolves the caller. A bad bearer token is refused outright (the client
/// asked to be someone and is not); a bad session cookie is just signed out.
pub async fn resolve(req: &Request, state: &AppState) -> Result<Caller, AppError> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION) {
        let token = auth
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or(AppError::Unauthorized)?;
        return from_api_token(state, token).await;
    }

    if let Some(token) = cookies::read(req, cookies::SESSION) {
        if let Some(caller) = from_session(state, &token).await? {
            return Ok(caller);
        }
        let mut caller = anonymous(req);
        caller.stale_session_cookie = true;
        return Ok(caller);
    }
    Ok(anonymous(req))
}

fn anonymous(req: &Request) -> Caller {
    match cookies::read(req, cookies::ANON).filter(|v| {
        v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }) {
        Some(anon) => Caller::anonymous(Some(format!("anon:{anon}"))),
        None => {
            let fresh = super::crypto::new_token();
            let mut caller = Caller::anonymous(Some(format!("anon:{fresh}")));
            caller.new_anon_cookie = Some(fresh);
            caller
        }
    }
}

async fn from_session(state: &AppState, token: &str) -> Result<Option<Caller>, AppError> {
    let hash = hash_token(token);
    let now = Utc::now();
    // One query for the session and its person: this runs on every request.
    let Some((session, Some(user))) = sessions::Entity::find()
        .find_also_related(users::Entity)
        .filter(sessions::Column::TokenHash.eq(&hash))
        .filter(sessions::Column::ExpiresAt.gt(now))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    if now - session.last_seen_at > TOUCH_EVERY {
        let mut active: sessions::ActiveModel = session.clone().into();
        active.last_seen_at = Set(now);
        active.expires_at = Set(now + SESSION_IDLE);
        active.updated_at = Set(now);
        let txn = crate::db::begin_write(&state.db).await?;
        active.update(&txn).await?;
        txn.commit().await?;
    }
    Ok(Some(Caller {
        user: Some(user),
        credential: Credential::Session {
            session_id: session.id,
        },
        csrf_binding: Some(format!("session:{hash}")),
        new_anon_cookie: None,
        stale_session_cookie: false,
    }))
}

async fn from_api_token(state: &AppState, token: &str) -> Result<Caller, AppError> {
    let now = Utc::now();
    // One query for the token and its holder: this runs on every request.
    let Some((found, Some(user))) = api_tokens::Entity::find()
        .find_also_related(users::Entity)
        .filter(api_tokens::Column::TokenHash.eq(hash_token(token)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(&state.db)
        .await?
    else {
        return Err(AppError::Unauthorized);
    };
    if found.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY) {
        let mut active: api_tokens::ActiveModel = found.clone().into();
        active.last_used_at = Set(Some(now));
        active.updated_at = Set(now);
        let txn = crate::db::begin_write(&state.db).await?;
        active.update(&txn).await?;
        txn.commit().await?;
    }
    Ok(Caller {
        user: Some(user),
        credential: Credential::ApiToken { token_id: found.id },
        csrf_binding: None,
        new_anon_cookie: None,
        stale_session_cookie: false,
    })
}
