//! The audit trail of an item as the board reads it: every change, who made
//! it and when, what it was before and after; a timeline on a page and CSV.
//! Audit events are only ever inserted, in the transaction of the change they
//! record: nothing in the service updates or deletes them.

use entity::audit_events;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::auth::people;
use crate::error::AppError;

/// One change as listed.
#[derive(Debug, Clone)]
pub struct Entry {
    pub event: audit_events::Model,
    /// The person who made the change, or "The system" for background work.
    pub actor: String,
    pub before: String,
    pub after: String,
}

/// The kinds of item that have a timeline, and what pages call them.
pub const SUBJECTS: &[(&str, &str)] = &[
    ("idea", "Idea"),
    ("report", "Report"),
    ("comment", "Comment"),
    ("consultation", "Consultation"),
    ("consultation_response", "Consultation response"),
    ("section_comment", "Section comment"),
];

pub fn subject_label(subject_type: &str) -> Option<&'static str> {
    SUBJECTS
        .iter()
        .find(|(t, _)| *t == subject_type)
        .map(|(_, l)| *l)
}

fn compact(value: &Option<serde_json::Value>) -> String {
    value.as_ref().map(|v| v.to_string()).unwrap_or_default()
}

/// Every change to one item, oldest first.
pub async fn timeline(
    conn: &impl ConnectionTrait,
    subject_type: &str,
    subject_id: Uuid,
) -> Result<Vec<Entry>, AppError> {
    let events = audit_events::Entity::find()
        .filter(audit_events::Column::SubjectType.eq(subject_type))
        .filter(audit_events::Column::SubjectId.eq(subject_id))
        .order_by_asc(audit_events::Column::CreatedAt)
        .order_by_asc(audit_events::Column::Id)
        .all(conn)
        .await?;
    let actors = people::load(conn, events.iter().filter_map(|e| e.actor_user_id)).await?;
    Ok(events
        .into_iter()
        .map(|event| Entry {
            actor: match event.actor_user_id {
                Some(id) => actors
                    .get(&id)
                    .map_or_else(|| "A former account".to_owned(), |p| p.name.clone()),
                None => "The system".to_owned(),
            },
            before: compact(&event.before),
            after: compact(&event.after),
            event,
        })
        .collect())
}

/// The timeline as CSV, one row per change.
pub fn csv(entries: &[Entry]) -> Result<String, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "at",
            "actor",
            "action",
            "subject_type",
            "subject_id",
            "before",
            "after",
            "request_id",
        ])
        .map_err(AppError::internal)?;
    for e in entries {
        writer
            .write_record([
                e.event.created_at.to_rfc3339(),
                crate::text::defuse_csv_cell(&e.actor),
                e.event.action.clone(),
                e.event.subject_type.clone(),
                e.event
                    .subject_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                crate::text::defuse_csv_cell(&e.before),
                crate::text::defuse_csv_cell(&e.after),
                e.event.request_id.clone().unwrap_or_default(),
            ])
            .map_err(AppError::internal)?;
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}
