//! Cursor pagination: a cursor names the last item of a page by its sort key
//! and id, so pages stay stable while new items arrive.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::api::bounded::Bounded;
use crate::error::{AppError, FieldError};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort key of the last item shown (a number or a time), as text.
    pub key: String,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.key, self.id))
    }

    pub fn decode(raw: &str) -> Result<Self, AppError> {
        let invalid = || {
            AppError::Validation(vec![FieldError::new(
                "cursor",
                "The cursor is not valid. Start again from the first page",
            )])
        };
        if raw.len() > 200 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (key, id) = text.rsplit_once('|').ok_or_else(invalid)?;
        Ok(Cursor {
            key: key.to_owned(),
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
        })
    }

    pub fn parse_optional(raw: Option<&str>) -> Result<Option<Self>, AppError> {
        raw.filter(|r| !r.is_empty()).map(Self::decode).transpose()
    }
}

/// The `limit` query parameter of a list, documented as 1 to `MAX_LIMIT`.
pub type PageSize = Bounded<1, { MAX_LIMIT as i64 }>;

/// The page size asked for in the API's `limit`, within bounds.
pub fn page_size(requested: Option<PageSize>) -> Result<u64, AppError> {
    limit(requested.map(Bounded::non_negative))
}

/// A requested page size, within bounds.
pub fn limit(requested: Option<u64>) -> Result<u64, AppError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(AppError::Validation(vec![FieldError::new(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = Cursor {
            key: "2026-11-21T10:00:00Z".into(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        assert!(Cursor::decode("not a cursor").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("nope")).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(limit(None).unwrap(), DEFAULT_LIMIT);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(101)).is_err());
    }
}
