//! The audit trail and the change log, written inside the caller's transaction
//! so that a change, its audit event and its index entry commit together.

use chrono::Utc;
use entity::{audit_events, change_log};
use sea_orm::{DbErr, Set};
use uuid::Uuid;

use crate::db::WriteTransaction;

pub struct AuditEvent<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Option<Uuid>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// Records an event with the transaction's next round trip (it is read
/// only after commit).
pub async fn record(txn: &WriteTransaction, event: AuditEvent<'_>) -> Result<(), DbErr> {
    let now = Utc::now();
    txn.insert_later(audit_events::ActiveModel {
        id: Set(Uuid::now_v7()),
        actor_user_id: Set(event.actor),
        action: Set(event.action.to_owned()),
        subject_type: Set(event.subject_type.to_owned()),
        subject_id: Set(event.subject_id),
        before: Set(event.before),
        after: Set(event.after),
        request_id: Set(crate::telemetry::current_request_id()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await
}

/// Marks an item as changed so that the search index picks it up.
pub async fn changed(
    txn: &WriteTransaction,
    entity_type: &str,
    entity_id: Uuid,
) -> Result<(), DbErr> {
    let now = Utc::now();
    txn.insert_later(change_log::ActiveModel {
        entity_type: Set(entity_type.to_owned()),
        entity_id: Set(entity_id),
        op: Set("upsert".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .await
}
