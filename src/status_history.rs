//! The public status history shared by ideas and reports: each change with
//! its note, and the messages for refused changes. Each kind keeps its own
//! workflow and its own compare-and-set on `version`.

use chrono::{DateTime, Utc};
use entity::status_changes;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::db::WriteTransaction;
use crate::error::{AppError, FieldError};

/// One entry of an item's public status history.
#[derive(Debug, Clone)]
pub struct StatusEntry {
    pub from: Option<String>,
    pub to: String,
    pub note: String,
    pub note_html: String,
    pub at: DateTime<Utc>,
}

/// The item's history, oldest first.
pub async fn history(
    conn: &impl ConnectionTrait,
    subject_type: &str,
    subject_id: Uuid,
) -> Result<Vec<StatusEntry>, DbErr> {
    Ok(status_changes::Entity::find()
        .filter(status_changes::Column::SubjectType.eq(subject_type))
        .filter(status_changes::Column::SubjectId.eq(subject_id))
        .order_by_asc(status_changes::Column::CreatedAt)
        .order_by_asc(status_changes::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|c| entry(c.from_status, c.to_status, c.note, c.created_at))
        .collect())
}

fn entry(from: Option<String>, to: String, note: String, at: DateTime<Utc>) -> StatusEntry {
    StatusEntry {
        note_html: crate::markdown::render(&note),
        from,
        to,
        note,
        at,
    }
}

/// Records the entry a new item's history starts with (its status on
/// submission, by its author) and returns it as `history` will read it.
pub async fn record_first(
    txn: &WriteTransaction,
    subject_type: &str,
    subject_id: Uuid,
    to: &str,
    author: Uuid,
    at: DateTime<Utc>,
) -> Result<StatusEntry, DbErr> {
    record(
        txn,
        Change {
            subject_type,
            subject_id,
            from: None,
            to,
            note: "",
            actor: author,
            at,
        },
    )
    .await?;
    Ok(entry(None, to.to_owned(), String::new(), at))
}

/// A change to record: `from` is None for the first entry, made on submission.
pub struct Change<'a> {
    pub subject_type: &'a str,
    pub subject_id: Uuid,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub note: &'a str,
    pub actor: Uuid,
    pub at: DateTime<Utc>,
}

/// Records a change. Returns the entry's id, which keys the emails it causes.
pub async fn record(txn: &WriteTransaction, change: Change<'_>) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    txn.insert_later(status_changes::ActiveModel {
        id: Set(id),
        subject_type: Set(change.subject_type.to_owned()),
        subject_id: Set(change.subject_id),
        from_status: Set(change.from.map(str::to_owned)),
        to_status: Set(change.to.to_owned()),
        note: Set(change.note.to_owned()),
        actor_id: Set(Some(change.actor)),
        created_at: Set(change.at),
        updated_at: Set(change.at),
    })
    .await?;
    Ok(id)
}

/// "An idea that is declined can move to: under review".
pub fn not_allowed(item: &str, from: &str, allowed: &[&str]) -> FieldError {
    FieldError::new(
        "status",
        format!(
            "{item} that is {} can move to: {}",
            from.to_lowercase(),
            allowed.join(", ").to_lowercase()
        ),
    )
}

/// The change was based on a version someone else has since replaced.
pub fn stale(item: &str, current_version: i32) -> AppError {
    AppError::Conflict(format!(
        "This {item} was changed by someone else while you were looking at it (now version {current_version}). Reload it and try again"
    ))
}

/// Another change committed between reading and writing.
pub fn lost_race(item: &str) -> AppError {
    AppError::Conflict(format!(
        "This {item} was changed by someone else at the same time. Reload it and try again"
    ))
}
