//! Email: everything goes through the outbox table, written in the same
//! transaction as the change that causes it, then sent by the worker.

pub mod templates;
pub mod transport;
pub mod worker;

use chrono::Utc;
use entity::email_outbox;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, QueryTrait, Set};
use uuid::Uuid;

/// An email ready to be enqueued.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    /// Extra headers such as `List-Unsubscribe`.
    pub headers: Vec<(String, String)>,
}

/// Enqueues an email under an idempotency key. Enqueuing the same key again
/// does nothing, so an email can never be sent twice however often the
/// caller retries. Returns whether it was newly enqueued.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    key: &str,
    email: OutgoingEmail,
) -> Result<bool, DbErr> {
    let now = Utc::now();
    let headers = (!email.headers.is_empty()).then(|| {
        serde_json::Value::Object(
            email
                .headers
                .into_iter()
                .map(|(k, v)| (k, v.into()))
                .collect(),
        )
    });
    let row = email_outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        idempotency_key: Set(key.to_owned()),
        to_address: Set(email.to),
        subject: Set(email.subject),
        text_body: Set(email.text),
        html_body: Set(email.html),
        headers: Set(headers),
        status: Set("pending".to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let mut insert = email_outbox::Entity::insert(row)
        .on_conflict(
            OnConflict::column(email_outbox::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .into_query();
    // A row comes back only when it was inserted. Asked as a query, it can
    // also carry a write transaction's held-back inserts in one round trip.
    insert.returning_col(email_outbox::Column::Id);
    Ok(conn.query_one(&insert).await?.is_some())
}
