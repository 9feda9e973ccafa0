//! Write transactions: the SQLite file's turn to write, and inserts sent
//! with the next statement (see [`super::batch`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ConnAcquireErr, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, ExecResult, QueryResult, QueryTrait,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::batch;

/// How long a SQLite writer waits for its turn, in the process's queue and
/// then in SQLite's busy handler.
pub(super) const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// A transaction that will write. On SQLite it also holds the file's turn
/// to write (see [`begin_write`]), given up when it commits, rolls back or
/// is dropped. It reads and writes like the transaction it wraps; every
/// statement of the transaction goes through it, so that inserts it holds
/// back ([`WriteTransaction::insert_later`]) reach the database before
/// anything that comes after them.
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    held_back: Mutex<Vec<Statement>>,
    /// Sendings of held-back inserts begun and not known to have worked. A
    /// sending that failed or was abandoned stays counted: its inserts are
    /// no longer held, so the transaction must not commit without them.
    unconfirmed: AtomicUsize,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTransaction {
    /// Inserts a row whose insert nobody waits on (an audit event, a
    /// change-log row). On SQLite it is sent with the transaction's next
    /// statement that returns rows, or before its next other statement, or
    /// at commit, whichever comes first; a failure surfaces there. Elsewhere
    /// it is inserted at once.
    pub async fn insert_later<A>(&self, row: A) -> Result<(), DbErr>
    where
        A: ActiveModelTrait,
    {
        let insert = <A::Entity as EntityTrait>::insert(row).build(self.get_database_backend());
        self.hold_back(insert).await
    }

    /// Inserts several rows of one table as [`WriteTransaction::insert_later`] does.
    pub async fn insert_many_later<A, I>(&self, rows: I) -> Result<(), DbErr>
    where
        A: ActiveModelTrait,
        I: IntoIterator<Item = A>,
    {
        let rows: Vec<A> = rows.into_iter().collect();
        if rows.is_empty() {
            return Ok(());
        }
        let insert =
            <A::Entity as EntityTrait>::insert_many(rows).build(self.get_database_backend());
        self.hold_back(insert).await
    }

    pub async fn commit(self) -> Result<(), DbErr> {
        self.send_held_back().await?;
        if self.unconfirmed.load(Ordering::Acquire) > 0 {
            // Rolled back when dropped.
            return Err(DbErr::Custom(
                "inserts held back for this transaction were not written".to_owned(),
            ));
        }
        self.txn.commit().await
    }

    async fn hold_back(&self, insert: Statement) -> Result<(), DbErr> {
        if self.get_database_backend() != DatabaseBackend::Sqlite {
            self.txn.execute_raw(insert).await?;
            return Ok(());
        }
        let full = {
            let mut held = self.held();
            held.push(insert);
            held.iter().map(batch::value_count).sum::<usize>() >= batch::MAX_VALUES
        };
        if full {
            self.send_held_back().await?;
        }
        Ok(())
    }

    /// Sends what was held back, in one round trip.
    async fn send_held_back(&self) -> Result<(), DbErr> {
        let held = std::mem::take(&mut *self.held());
        if !held.is_empty() {
            self.unconfirmed.fetch_add(1, Ordering::AcqRel);
            self.txn.execute_raw(batch::join(held)).await?;
            self.unconfirmed.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// `statement`, preceded by what was held back when it fits in one
    /// batch; otherwise what was held back is sent first on its own.
    /// `statement`, preceded by what was held back when it fits in one
    /// batch (then `true`: the caller is sending held-back inserts);
    /// otherwise what was held back is sent first on its own.
    async fn with_held_back(&self, statement: Statement) -> Result<(Statement, bool), DbErr> {
        {
            let mut held = self.held();
            if held.is_empty() {
                return Ok((statement, false));
            }
            let values: usize = held.iter().map(batch::value_count).sum();
            if values + batch::value_count(&statement) <= batch::MAX_VALUES {
                let mut all = std::mem::take(&mut *held);
                all.push(statement);
                self.unconfirmed.fetch_add(1, Ordering::AcqRel);
                return Ok((batch::join(all), true));
            }
        }
        self.send_held_back().await?;
        Ok((statement, false))
    }

    /// Confirms held-back inserts once the statement carrying them
    /// succeeded. When it failed, which of its parts failed is unknown, so
    /// the sending stays unconfirmed and the transaction cannot commit.
    fn sent<T>(&self, result: Result<T, DbErr>, carried: bool) -> Result<T, DbErr> {
        if carried && result.is_ok() {
            self.unconfirmed.fetch_sub(1, Ordering::AcqRel);
        }
        result
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Vec<Statement>> {
        // Nothing panics while holding the lock; a poisoned list is still whole.
        self.held_back
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }

    /// Sends what was held back first, as its own round trip: joined with
    /// the statement, SQLite would count the held-back rows in the
    /// statement's rows affected, which callers check (compare-and-set).
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.send_held_back().await?;
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.send_held_back().await?;
        self.txn.execute_unprepared(sql).await
    }

    /// Held-back inserts return no rows, so the rows are the statement's own.
    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let (stmt, carried) = self.with_held_back(stmt).await?;
        let result = self.txn.query_one_raw(stmt).await;
        self.sent(result, carried)
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let (stmt, carried) = self.with_held_back(stmt).await?;
        let result = self.txn.query_all_raw(stmt).await;
        self.sent(result, carried)
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

pub(super) async fn begin_write_within(
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
    Ok(WriteTransaction {
        txn,
        held_back: Mutex::new(Vec::new()),
        unconfirmed: AtomicUsize::new(0),
        _turn: turn,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use entity::change_log;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ActiveValue::Set, Database, PaginatorTrait};

    /// A migrated SQLite file of its own, removed when dropped.
    struct Scratch {
        db: DatabaseConnection,
        dir: PathBuf,
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    async fn scratch(migrated: bool) -> Scratch {
        let dir = std::env::temp_dir().join(format!("hub-write-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.join("write.db").display());
        let db = Database::connect(url.as_str()).await.expect("SQLite");
        if migrated {
            Migrator::up(&db, None).await.expect("migrations");
        }
        Scratch { db, dir }
    }

    fn change(entity_type: &str) -> change_log::ActiveModel {
        let now = Utc::now();
        change_log::ActiveModel {
            entity_type: Set(entity_type.to_owned()),
            entity_id: Set(uuid::Uuid::now_v7()),
            op: Set("upsert".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }

    async fn count_result(conn: &impl ConnectionTrait, entity_type: &str) -> Result<u64, DbErr> {
        use sea_orm::{ColumnTrait, QueryFilter};
        change_log::Entity::find()
            .filter(change_log::Column::EntityType.eq(entity_type))
            .count(conn)
            .await
    }

    async fn count(conn: &impl ConnectionTrait, entity_type: &str) -> u64 {
        count_result(conn, entity_type).await.expect("a count")
    }

    #[tokio::test]
    async fn a_writer_that_waits_too_long_for_its_turn_fails_as_unavailable() {
        let scratch = scratch(false).await;
        let db = &scratch.db;
        let held = begin_write(db).await.expect("the first writer's turn");
        let waited = begin_write_within(db, Duration::from_millis(50)).await;
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
        begin_write_within(db, Duration::from_millis(50))
            .await
            .expect("the turn after a commit");
    }

    #[tokio::test]
    async fn held_back_inserts_are_seen_by_the_next_query_and_kept_by_commit() {
        let scratch = scratch(true).await;
        let txn = begin_write(&scratch.db).await.expect("a write");
        txn.insert_later(change("held")).await.expect("held back");
        txn.insert_many_later([change("held"), change("held")])
            .await
            .expect("held back");
        // Not yet sent: another connection cannot see them, nor could the
        // transaction itself before its next statement.
        assert!(!txn.held().is_empty());
        assert_eq!(count(&txn, "held").await, 3);
        assert!(txn.held().is_empty());
        txn.insert_later(change("held")).await.expect("held back");
        txn.commit().await.expect("commit");
        assert_eq!(count(&scratch.db, "held").await, 4);
    }

    #[tokio::test]
    async fn held_back_inserts_come_before_a_later_update_and_leave_its_count_alone() {
        use sea_orm::{ColumnTrait, QueryFilter, sea_query::Expr};
        let scratch = scratch(true).await;
        let txn = begin_write(&scratch.db).await.expect("a write");
        txn.insert_many_later([change("before"), change("before")])
            .await
            .expect("held back");
        let updated = change_log::Entity::update_many()
            .col_expr(change_log::Column::Op, Expr::value("delete"))
            .filter(change_log::Column::EntityType.eq("before"))
            .exec(&txn)
            .await
            .expect("an update");
        // The update found both rows, and counts only what it changed.
        assert_eq!(updated.rows_affected, 2);
        txn.commit().await.expect("commit");
    }

    #[tokio::test]
    async fn held_back_inserts_are_dropped_with_a_transaction_that_does_not_commit() {
        let scratch = scratch(true).await;
        {
            let txn = begin_write(&scratch.db).await.expect("a write");
            txn.insert_later(change("dropped"))
                .await
                .expect("held back");
            assert_eq!(count(&txn, "dropped").await, 1);
            txn.insert_later(change("dropped"))
                .await
                .expect("held back");
        }
        assert_eq!(count(&scratch.db, "dropped").await, 0);
    }

    #[tokio::test]
    async fn more_held_back_values_than_one_batch_takes_are_all_inserted() {
        let scratch = scratch(true).await;
        let txn = begin_write(&scratch.db).await.expect("a write");
        // Five values a row: well past one batch's share of SQLite's
        // parameter limit.
        let rows = 2 * batch::MAX_VALUES / 5 + 7;
        for _ in 0..rows {
            txn.insert_later(change("many")).await.expect("held back");
        }
        assert_eq!(count(&txn, "many").await, rows as u64);
        txn.commit().await.expect("commit");
        assert_eq!(count(&scratch.db, "many").await, rows as u64);
    }

    #[tokio::test]
    async fn a_held_back_insert_that_fails_fails_the_transaction() {
        let scratch = scratch(true).await;
        let txn = begin_write(&scratch.db).await.expect("a write");
        let mut taken = change("taken");
        taken.seq = Set(1);
        txn.insert_later(taken.clone()).await.expect("held back");
        txn.insert_later(taken).await.expect("held back");
        assert!(txn.commit().await.is_err(), "two rows with one key");
        assert_eq!(count(&scratch.db, "taken").await, 0);
    }

    #[tokio::test]
    async fn a_transaction_whose_held_back_inserts_failed_cannot_commit_without_them() {
        let scratch = scratch(true).await;
        let txn = begin_write(&scratch.db).await.expect("a write");
        txn.insert_later(change("lost")).await.expect("held back");
        let mut taken = change("taken");
        taken.seq = Set(1);
        txn.insert_later(taken.clone()).await.expect("held back");
        txn.insert_later(taken).await.expect("held back");
        // The query carrying them fails; a caller that carried on anyway
        // must not commit the transaction without the inserts.
        assert!(count_result(&txn, "lost").await.is_err());
        txn.insert_later(change("after")).await.expect("held back");
        assert_eq!(count(&txn, "after").await, 1);
        assert!(txn.commit().await.is_err());
        assert_eq!(count(&scratch.db, "lost").await, 0);
        assert_eq!(count(&scratch.db, "after").await, 0);
    }
}
