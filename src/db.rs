//! Database connection: SQLite (embedded default) or PostgreSQL from one code base.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnAcquireErr, ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, ExecResult, QueryResult, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::settings::Settings;

/// How long a SQLite writer waits for its turn, in the process's queue and
/// then in SQLite's busy handler.
const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(10);

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
        // noticed before use instead of failing a request.
        .test_before_acquire(true)
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

/// A transaction that will write. On SQLite it also holds the file's turn
/// to write (see [`begin_write`]), given up when it commits, rolls back or
/// is dropped. It reads and writes like the transaction it wraps.
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// Begins a transaction that will write.
///
/// SQLite lets one connection write at a time. A writer that finds the
/// lock taken waits in SQLite's busy handler, which polls with sleeps of up
/// to 100 ms: under load that is a long tail, and the order is luck. So
/// writers to a SQLite file first queue here for its turn, in arrival order
/// (a fair semaphore), and only then begin; a plain `BEGIN` would also read
/// first and fail with "database is locked" on its first write, so the
/// transaction takes the write lock up front (`BEGIN IMMEDIATE`).
/// PostgreSQL locks rows and needs no queue.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    begin_write_within(db, WRITE_TURN_TIMEOUT).await
}

async fn begin_write_within(
    db: &DatabaseConnection,
    wait: Duration,
) -> Result<WriteTransaction, DbErr> {
    let turn = match write_queue(db) {
        // As long as SQLite's own busy timeout: a writer that waits longer
        // (the queue stuck behind a transaction that never ends) fails as
        // "unavailable" instead of hanging its request.
        Some(queue) => match tokio::time::timeout(wait, queue.acquire_owned()).await {
            Ok(Ok(turn)) => Some(turn),
            Ok(Err(_)) => {
                return Err(DbErr::Custom("the SQLite write queue is closed".to_owned()));
            }
            Err(_) => return Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
        },
        None => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    Ok(WriteTransaction { txn, _turn: turn })
}

/// The queue of writers to one SQLite file, shared by every pool the
/// process opened on it (the server, the workers, a command-line tool).
fn write_queue(db: &DatabaseConnection) -> Option<Arc<Semaphore>> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<Semaphore>>>> =
        LazyLock::new(Default::default);
    // A poisoned map still holds valid queues: nothing panics while holding it.
    let mut queues = QUEUES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(
        queues
            .entry(file)
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone(),
    )
}

/// Row locks where the database has them (SQLite serialises writers anyway).
pub fn locked<E: sea_orm::EntityTrait>(
    txn: &DatabaseTransaction,
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

    #[tokio::test]
    async fn a_writer_that_waits_too_long_for_its_turn_fails_as_unavailable() {
        let dir = std::env::temp_dir().join(format!("hub-queue-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.join("queue.db").display());
        let db = Database::connect(url.as_str()).await.expect("SQLite");
        let held = begin_write(&db).await.expect("the first writer's turn");
        let waited = begin_write_within(&db, Duration::from_millis(50)).await;
        let err = waited.err().expect("the second writer gives up");
        assert!(
            matches!(err, DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            "{err:?}"
        );
        assert!(matches!(
            crate::error::AppError::from(err),
            crate::error::AppError::Unavailable
        ));
        // Once the turn is given back, the next writer gets it.
        held.commit().await.expect("commit");
        begin_write_within(&db, Duration::from_millis(50))
            .await
            .expect("the turn after a commit");
        db.close().await.expect("close");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn postgres_placeholders_become_numbered_sqlite_ones() {
        assert_eq!(
            super::sqlite_placeholders("UPDATE t SET a = $1 WHERE b = $2 AND c = '$'"),
            "UPDATE t SET a = ?1 WHERE b = ?2 AND c = '$'"
        );
    }
}
