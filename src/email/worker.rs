//! The email worker: claims due outbox rows, sends them, marks them sent, and
//! retries failures with exponential backoff. Replicas share the work through
//! row locks (PostgreSQL `FOR UPDATE SKIP LOCKED`); on SQLite one process runs.

use std::time::Duration;

use chrono::Utc;
use entity::email_outbox;
use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, EntityTrait, Set,
};
use tokio::sync::watch;

use super::transport::Mailer;
use crate::app_state::AppState;
use crate::db::statement;

/// How long a claimed row stays with one worker before another may retry it
/// (a worker that crashed mid-send).
const CLAIM_FOR: chrono::Duration = chrono::Duration::minutes(5);
const BATCH: i64 = 20;
const POLL: Duration = Duration::from_secs(1);
const MAX_BACKOFF: chrono::Duration = chrono::Duration::hours(6);

pub async fn run(state: AppState, mailer: Mailer, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(backend = %mailer.describe(), "email worker started");
    let mut housekeeping = tokio::time::Instant::now();
    loop {
        match send_due(&state, &mailer).await {
            Ok(sent) if sent > 0 => continue,
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "email worker could not reach the database"),
        }
        if housekeeping.elapsed() > Duration::from_secs(600) {
            housekeeping = tokio::time::Instant::now();
            if let Err(err) = crate::auth::rate_limit::prune(&state.db).await {
                tracing::warn!(error = %err, "pruning rate limits failed");
            }
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = state.outbox_ready.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
    tracing::info!("email worker stopped");
}

/// Sends what is due now; returns how many rows it handled.
pub async fn send_due(state: &AppState, mailer: &Mailer) -> Result<usize, DbErr> {
    let rows = claim(&state.db).await?;
    let count = rows.len();
    for row in rows {
        let outcome = match build(&row, &state.settings.mail_from) {
            Ok(message) => mailer.send(message).await,
            Err(err) => Err(err),
        };
        record(state, row, outcome).await?;
    }
    Ok(count)
}

async fn claim(db: &DatabaseConnection) -> Result<Vec<email_outbox::Model>, DbErr> {
    let now = Utc::now();
    let lock = match db.get_database_backend() {
        DatabaseBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "UPDATE email_outbox SET status = 'sending', attempts = attempts + 1, locked_until = $1, updated_at = $2 \
         WHERE id IN (SELECT id FROM email_outbox \
           WHERE (status = 'pending' OR (status = 'sending' AND locked_until < $2)) AND next_attempt_at <= $2 \
           ORDER BY next_attempt_at LIMIT $3 {lock}) \
         RETURNING *"
    );
    let stmt = statement(
        db.get_database_backend(),
        &sql,
        vec![(now + CLAIM_FOR).into(), now.into(), BATCH.into()],
    );
    let txn = crate::db::begin_write(db).await?;
    let claimed = email_outbox::Entity::find()
        .from_raw_sql(stmt)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

async fn record(
    state: &AppState,
    row: email_outbox::Model,
    outcome: Result<(), String>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let attempts = row.attempts;
    let id = row.id;
    let mut active: email_outbox::ActiveModel = row.into();
    active.locked_until = Set(None);
    active.updated_at = Set(now);
    match outcome {
        Ok(()) => {
            active.status = Set("sent".to_owned());
            active.sent_at = Set(Some(now));
            active.last_error = Set(None);
        }
        Err(error) if attempts >= state.settings.email_max_attempts => {
            tracing::error!(email_id = %id, attempts, %error, "email failed for good");
            active.status = Set("failed".to_owned());
            active.last_error = Set(Some(error));
        }
        Err(error) => {
            let delay = backoff(state.settings.email_retry_base, attempts);
            tracing::warn!(email_id = %id, attempts, retry_in_secs = delay.num_seconds(), %error, "email failed; will retry");
            active.status = Set("pending".to_owned());
            active.next_attempt_at = Set(now + delay);
            active.last_error = Set(Some(error));
        }
    }
    let txn = crate::db::begin_write(&state.db).await?;
    active.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// base, 2×base, 4×base ... capped at six hours.
pub fn backoff(base: Duration, attempts: i32) -> chrono::Duration {
    let base = chrono::Duration::from_std(base).unwrap_or(chrono::Duration::seconds(30));
    let factor = 2i32.saturating_pow(attempts.clamp(1, 20) as u32 - 1);
    (base * factor).min(MAX_BACKOFF)
}

fn build(row: &email_outbox::Model, from: &Mailbox) -> Result<Message, String> {
    let to: Mailbox = row
        .to_address
        .parse()
        .map_err(|e| format!("bad recipient: {e}"))?;
    let domain = from.email.domain().to_owned();
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        // One Message-ID per outbox row: a receiving server that sees the
        // same row twice (after a crash mid-send) can tell.
        .message_id(Some(format!("<{}@{domain}>", row.id)));
    if let Some(serde_json::Value::Object(extra)) = &row.headers {
        for (name, value) in extra {
            let (Some(value), Ok(name)) =
                (value.as_str(), HeaderName::new_from_ascii(name.clone()))
            else {
                return Err(format!("bad header {name}"));
            };
            builder = builder.raw_header(HeaderValue::new(name, value.to_owned()));
        }
    }
    let result = match &row.html_body {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            row.text_body.clone(),
            html.clone(),
        )),
        None => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(row.text_body.clone()),
        ),
    };
    result.map_err(|e| format!("cannot build email: {e}"))
}

/// Emails that failed for good, newest first, for the admins' page.
pub async fn failed(db: &impl ConnectionTrait) -> Result<Vec<email_outbox::Model>, DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    email_outbox::Entity::find()
        .filter(email_outbox::Column::Status.eq("failed"))
        .order_by_desc(email_outbox::Column::UpdatedAt)
        .limit(200)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 1).num_seconds(), 30);
        assert_eq!(backoff(base, 2).num_seconds(), 60);
        assert_eq!(backoff(base, 4).num_seconds(), 240);
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
