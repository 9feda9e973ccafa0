//! Fixed-window rate limits counted in the database, so that every replica
//! enforces the same limit.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::db::statement;

pub struct Limit {
    pub max: i32,
    pub window_secs: i64,
}

/// Sign-in links per email address: enough for a lost email or two.
pub const SIGN_IN_PER_ADDRESS: Limit = Limit {
    max: 5,
    window_secs: 15 * 60,
};
/// Sign-in requests per client address: generous for a shared hospital NAT.
pub const SIGN_IN_PER_CLIENT: Limit = Limit {
    max: 50,
    window_secs: 15 * 60,
};

/// One account's submissions (ideas, reports, consultation responses) per
/// hour: a busy person sends a handful; a script posting hundreds is
/// stopped before it floods the board's inbox.
pub fn submissions_per_account(max_per_hour: i32) -> Limit {
    Limit {
        max: max_per_hour,
        window_secs: 60 * 60,
    }
}

/// Counts one submission by `user` inside the submission's own transaction,
/// so a refused or failed submission is not counted. Refuses with 429 (and
/// when the window resets) once the hour's limit is reached.
///
/// Call it last, just before commit, in every kind of submission: then all
/// of them lock in one order on PostgreSQL (the idempotency key, then the
/// count), and on SQLite its query carries the transaction's held-back
/// inserts in the same round trip. A refusal rolls them all back.
pub async fn count_submission(
    txn: &impl ConnectionTrait,
    user: uuid::Uuid,
    max_per_hour: i32,
) -> Result<(), crate::error::AppError> {
    let bucket = format!("submissions:{user}");
    match hit(txn, &bucket, &submissions_per_account(max_per_hour)).await? {
        Some(retry_after_secs) => Err(crate::error::AppError::TooManyRequests { retry_after_secs }),
        None => Ok(()),
    }
}

/// Counts one hit. `Ok(None)` when within the limit, `Ok(Some(secs))` with
/// the seconds until the window resets when over it.
pub async fn hit(
    db: &impl ConnectionTrait,
    bucket: &str,
    limit: &Limit,
) -> Result<Option<u64>, DbErr> {
    let now = Utc::now();
    let epoch = now.timestamp();
    let window_start = epoch - epoch.rem_euclid(limit.window_secs);
    let stmt = statement(
        db.get_database_backend(),
        "INSERT INTO rate_limits (bucket, window_start, hits, created_at, updated_at) VALUES ($1, $2, 1, $3, $3) \
         ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1, updated_at = $3 \
         RETURNING hits",
        vec![bucket.into(), window_start.into(), now.into()],
    );
    let hits: i32 = match db.query_one_raw(stmt).await? {
        Some(row) => row.try_get("", "hits")?,
        None => 1,
    };
    if hits > limit.max {
        Ok(Some(
            (window_start + limit.window_secs - epoch).max(1) as u64
        ))
    } else {
        Ok(None)
    }
}

/// Forgets windows that ended more than a day ago.
pub async fn prune(db: &DatabaseConnection) -> Result<(), DbErr> {
    let cutoff = Utc::now().timestamp() - 86_400;
    let txn = crate::db::begin_write(db).await?;
    txn.execute_raw(statement(
        db.get_database_backend(),
        "DELETE FROM rate_limits WHERE window_start < $1",
        vec![cutoff.into()],
    ))
    .await?;
    txn.commit().await
}
