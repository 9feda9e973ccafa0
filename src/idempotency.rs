//! `Idempotency-Key` on API creates: the first request's result is
//! remembered (in the same transaction as the create), and a retry with the
//! same key returns it instead of creating anything twice.

use chrono::Utc;
use entity::idempotency_keys;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::WriteTransaction;
use crate::error::{AppError, FieldError};

pub const HEADER: &str = "Idempotency-Key";
const MAX_KEY_LEN: usize = 200;

/// A client's key and a fingerprint of what it asked for.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    request_hash: String,
}

impl IdempotencyKey {
    /// `what` names the operation; `request` is the parsed body, so that the
    /// same key sent with a different request is refused rather than replayed.
    pub fn parse(
        raw: Option<&str>,
        what: &str,
        request: &impl serde::Serialize,
    ) -> Result<Option<Self>, AppError> {
        let Some(raw) = raw else { return Ok(None) };
        let key = raw.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AppError::Validation(vec![FieldError::new(
                HEADER,
                format!("{HEADER} must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
            )]));
        }
        let body = serde_json::to_vec(request).map_err(AppError::internal)?;
        let mut hasher = Sha256::new();
        hasher.update(what.as_bytes());
        hasher.update([0]);
        hasher.update(&body);
        Ok(Some(Self {
            key: key.to_owned(),
            request_hash: hex(&hasher.finalize()),
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The id created by an earlier request with this key, if there was one.
pub async fn replay(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    key: &IdempotencyKey,
) -> Result<Option<Uuid>, AppError> {
    let found = idempotency_keys::Entity::find()
        .filter(idempotency_keys::Column::UserId.eq(user_id))
        .filter(idempotency_keys::Column::Key.eq(key.key.as_str()))
        .one(conn)
        .await?;
    let Some(found) = found else { return Ok(None) };
    if found.request_hash != key.request_hash {
        return Err(AppError::Conflict(format!(
            "This {HEADER} was already used for a different request. Use a new key for a new request"
        )));
    }
    Uuid::parse_str(&found.response_body)
        .map(Some)
        .map_err(AppError::internal)
}

/// Remembers that the request with `key` created `created`.
pub async fn remember(
    txn: &WriteTransaction,
    user_id: Uuid,
    key: &IdempotencyKey,
    created: Uuid,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    txn.insert_later(idempotency_keys::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        key: Set(key.key.clone()),
        request_hash: Set(key.request_hash.clone()),
        response_status: Set(201),
        response_body: Set(created.to_string()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await
}

/// When a create with a key failed because a concurrent request with the
/// same key won (a unique-key violation), answers as that request did.
pub async fn settle<T>(
    db: &sea_orm::DatabaseConnection,
    user_id: Uuid,
    key: Option<&IdempotencyKey>,
    result: Result<Created<T>, AppError>,
) -> Result<Created<T>, AppError> {
    match (result, key) {
        (Err(err), Some(key)) => match replay(db, user_id, key).await {
            Ok(Some(id)) => Ok(Created::Replayed(id)),
            _ => Err(err),
        },
        (result, _) => result,
    }
}

/// The result of a create that may have been a replay: what the create
/// made (its id, or the item as written, so that it need not be read back),
/// or the id of the item the first request made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created<T = Uuid> {
    New(T),
    Replayed(Uuid),
}

/// Something a create made, known by its id.
pub trait Identified {
    fn id(&self) -> Uuid;
}

impl Identified for Uuid {
    fn id(&self) -> Uuid {
        *self
    }
}

impl<T: Identified> Created<T> {
    pub fn id(&self) -> Uuid {
        match self {
            Created::New(made) => made.id(),
            Created::Replayed(id) => *id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_must_be_short_visible_ascii() {
        assert!(IdempotencyKey::parse(None, "x", &1).unwrap().is_none());
        assert!(
            IdempotencyKey::parse(Some("abc-123"), "x", &1)
                .unwrap()
                .is_some()
        );
        assert!(IdempotencyKey::parse(Some(" "), "x", &1).is_err());
        assert!(IdempotencyKey::parse(Some("a b"), "x", &1).is_err());
        assert!(IdempotencyKey::parse(Some(&"k".repeat(201)), "x", &1).is_err());
    }

    #[test]
    fn the_fingerprint_covers_operation_and_body() {
        let a = IdempotencyKey::parse(Some("k"), "idea", &"one")
            .unwrap()
            .unwrap();
        let b = IdempotencyKey::parse(Some("k"), "idea", &"two")
            .unwrap()
            .unwrap();
        let c = IdempotencyKey::parse(Some("k"), "report", &"one")
            .unwrap()
            .unwrap();
        assert_ne!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
    }
}
