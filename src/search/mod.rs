//! One tantivy index over everything, kept current from the change log,
//! queried with the caller's visibility applied first.

pub mod api;
pub mod consultations;
pub mod documents;
pub mod indexer;
pub mod pages;
pub mod query;
pub mod saved;
pub mod schema;
pub mod similar;
pub mod store;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{AppError, FieldError};
use query::{SearchRequest, Sort};

/// Builds a request from the parameters pages and the API share.
pub struct Params<'a> {
    pub q: &'a str,
    pub filters: Vec<(String, Vec<String>)>,
    pub from: &'a str,
    pub to: &'a str,
    pub sort: &'a str,
    pub cursor: &'a str,
    pub limit: Option<u64>,
}

fn date(field: &str, raw: &str) -> Result<Option<NaiveDate>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            AppError::Validation(vec![FieldError::new(field, "Enter a date like 2026-10-31")])
        })
}

impl Params<'_> {
    pub fn into_request(self) -> Result<SearchRequest, AppError> {
        let sort = Sort::parse(self.sort).ok_or_else(|| {
            AppError::Validation(vec![FieldError::new(
                "sort",
                "sort must be relevance, newest or most_supported",
            )])
        })?;
        let (offset, as_of) = if self.cursor.is_empty() {
            (0, None)
        } else {
            let cursor = crate::pagination::Cursor::decode(self.cursor)?;
            let (offset, as_of) = cursor.key.split_once('@').ok_or_else(bad_cursor)?;
            let offset = offset
                .parse::<usize>()
                .ok()
                .filter(|o| *o <= query::MAX_OFFSET)
                .ok_or_else(bad_cursor)?;
            let as_of = as_of
                .parse::<i64>()
                .ok()
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(bad_cursor)?;
            (offset, Some(as_of))
        };
        let limit = crate::pagination::limit(self.limit)? as usize;
        Ok(SearchRequest {
            q: self.q.to_owned(),
            filters: self.filters,
            from: date("from", self.from)?,
            to: date("to", self.to)?,
            sort,
            offset,
            limit,
            as_of,
            since: None,
            exact_only: false,
        })
    }
}

/// How a kind of item is named on pages.
pub fn kind_label(kind: &str) -> &'static str {
    crate::triage::audit::subject_label(kind).unwrap_or("Item")
}

fn bad_cursor() -> AppError {
    AppError::Validation(vec![FieldError::new("cursor", "The cursor is not valid")])
}

/// The opaque cursor for the next page: its offset, and the moment the
/// first page stood at, so that new arrivals do not shift later pages.
pub fn cursor_for(offset: usize, as_of: DateTime<Utc>) -> String {
    crate::pagination::Cursor {
        key: format!("{offset}@{}", as_of.timestamp_micros()),
        id: uuid::Uuid::nil(),
    }
    .encode()
}
