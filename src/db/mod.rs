//! Database connection: SQLite (embedded default) or PostgreSQL from one code base.

use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    Statement,
};

use crate::settings::Settings;

mod batch;
mod group;
mod write;

use write::WRITE_TURN_TIMEOUT;
pub use write::{WriteTransaction, begin_write, begin_write_in_group};

pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    if settings.is_sqlite() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            DbErr::Custom(format!(
                "cannot create data dir {}: {e}",
                settings.data_dir.display()
            ))
        })?;
    }
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // A connection that died with its server (a PostgreSQL restart) is
        // noticed before use instead of failing a request. An embedded
        // SQLite connection has no server to lose, and the check is a round
        // trip to the connection's thread on every acquire, so it is skipped.
        .test_before_acquire(!settings.is_sqlite())
        // SQLite has one writer, so a few connections suffice; PostgreSQL scales further.
        .max_connections(if settings.is_sqlite() { 8 } else { 20 })
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                // FULL: an acknowledged write survives power loss, not just a crash.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(WRITE_TURN_TIMEOUT)
        });
    Database::connect(options).await
}

/// The time now as the database keeps it (PostgreSQL to the microsecond),
/// for rows that are answered from what was written rather than read back
/// and claims compared with what is stored: both then show the same time.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Row locks where the database has them (SQLite serialises writers anyway).
pub fn locked<E: sea_orm::EntityTrait>(
    txn: &impl ConnectionTrait,
    query: sea_orm::Select<E>,
) -> sea_orm::Select<E> {
    use sea_orm::QuerySelect;
    match txn.get_database_backend() {
        DatabaseBackend::Postgres => query.lock_exclusive(),
        _ => query,
    }
}

/// Runs a statement written with `$1`-style placeholders on either backend.
pub fn statement(backend: DatabaseBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => sqlite_placeholders(sql),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
            while chars.peek().is_some_and(char::is_ascii_digit) {
                out.push(chars.next().unwrap_or_default());
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `lower(column) LIKE '%text%'`: a case-insensitive "contains" on both
/// backends, with `%` and `_` in the text taken literally.
pub fn contains_ignoring_case(
    column: impl sea_orm::sea_query::IntoColumnRef,
    text: &str,
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column)))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

/// True when the database answers: used by the readiness probe.
pub async fn ping(db: &DatabaseConnection) -> bool {
    ping_within(db, PING_TIMEOUT).await
}

/// How long readiness waits for the database. The pool itself keeps trying
/// to connect for up to its acquire timeout (5 s), which would hide a
/// restart of a few seconds from a load balancer polling readiness.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

async fn ping_within(db: &DatabaseConnection, wait: Duration) -> bool {
    matches!(
        tokio::time::timeout(wait, db.execute_unprepared("SELECT 1")).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_database_that_does_not_answer_in_time_is_not_ready() {
        // A server that takes connections and never answers, as one caught
        // mid-restart does.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let port = listener.local_addr().expect("an address").port();
        let silent = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let mut options = ConnectOptions::new(format!("postgres://hub@127.0.0.1:{port}/hub"));
        options.connect_lazy(true);
        let db = Database::connect(options).await.expect("a lazy pool");
        let asked = std::time::Instant::now();
        assert!(!ping_within(&db, Duration::from_millis(200)).await);
        // Not the pool's own 30 s of waiting for a connection.
        assert!(asked.elapsed() < Duration::from_secs(5));
        silent.abort();
    }

    #[test]
    fn postgres_placeholders_become_numbered_sqlite_ones() {
        assert_eq!(
            super::sqlite_placeholders("UPDATE t SET a = $1 WHERE b = $2 AND c = '$'"),
            "UPDATE t SET a = ?1 WHERE b = ?2 AND c = '$'"
        );
    }
}
