//! Write transactions: the SQLite file's turn to write, group commit (see
//! [`super::group`]), and inserts sent with the next statement (see
//! [`super::batch`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    DbErr, EntityTrait, ExecResult, QueryResult, QueryTrait, Statement, TransactionTrait,
};

use super::batch;
use super::group::{self, Member, Writer};

/// How long a SQLite writer waits for its turn, in the process's queue and
/// then in SQLite's busy handler.
pub(super) const WRITE_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// A transaction that will write. On SQLite it is a savepoint in a group
/// of writers sharing one transaction and one commit (see
/// [`super::group`]), holding the file's turn to write until it commits,
/// rolls back or is dropped. It reads and writes like the transaction it
/// wraps; every statement of the transaction goes through it, so that
/// inserts it holds back ([`WriteTransaction::insert_later`]) reach the
/// database before anything that comes after them.
pub struct WriteTransaction {
    // Declared before `member`, so that it is dropped before the turn is
    // given back: the group's commit needs the only handle on it.
    txn: Arc<DatabaseTransaction>,
    held_back: Mutex<Vec<Statement>>,
    /// Sendings of held-back inserts begun and not known to have worked. A
    /// sending that failed or was abandoned stays counted: its inserts are
    /// no longer held, so the transaction must not commit without them.
    unconfirmed: AtomicUsize,
    /// SQLite: this writer's place in its group.
    member: Option<Member>,
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

    /// Makes the transaction's work durable. On SQLite the held-back
    /// inserts go out (its savepoint is released by the next writer's first
    /// statement or by the group's commit), then this waits for the
    /// group's commit. Failing, the member's work is undone as it goes.
    pub async fn commit(self) -> Result<(), DbErr> {
        let WriteTransaction {
            txn,
            held_back,
            unconfirmed,
            member,
        } = self;
        // Bound again so that on every way out, the request gone part way
        // included, the handle on the group's transaction is dropped before
        // the member gives the turn back (locals drop in reverse order):
        // whoever commits the group next needs the only one.
        let member = member;
        let txn = txn;
        if unconfirmed.load(Ordering::Acquire) > 0 {
            return Err(not_written());
        }
        let Some(member) = member else {
            let txn = Arc::try_unwrap(txn).map_err(|_| {
                DbErr::Custom("a write transaction was still in use at commit".to_owned())
            })?;
            return txn.commit().await;
        };
        let held = held_back
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !member.has_begun() && held.is_empty() {
            drop(txn);
            return member.leave().await;
        }
        if !held.is_empty() {
            let mut statements = opening(&member);
            statements.extend(held);
            txn.execute_raw(batch::join(statements)).await?;
        }
        member.finish(txn).await
    }

    async fn hold_back(&self, insert: Statement) -> Result<(), DbErr> {
        if self.member.is_none() {
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
            let mut statements = self.opening();
            statements.extend(held);
            self.unconfirmed.fetch_add(1, Ordering::AcqRel);
            self.txn.execute_raw(batch::join(statements)).await?;
            self.unconfirmed.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Sends what was held back, or else the savepoint if not yet sent.
    async fn send_opening(&self) -> Result<(), DbErr> {
        self.send_held_back().await?;
        let opening = self.opening();
        if !opening.is_empty() {
            self.txn.execute_raw(batch::join(opening)).await?;
        }
        Ok(())
    }

    /// `statement`, preceded by the savepoint when it has not been sent and
    /// by what was held back when it fits in one batch (then `true`: the
    /// caller is sending held-back inserts); otherwise what was held back
    /// is sent first on its own.
    async fn with_held_back(&self, statement: Statement) -> Result<(Statement, bool), DbErr> {
        {
            let mut held = self.held();
            let values: usize = held.iter().map(batch::value_count).sum();
            if held.is_empty() || values + batch::value_count(&statement) <= batch::MAX_VALUES {
                let carried = !held.is_empty();
                let mut all = self.opening();
                all.append(&mut held);
                if all.is_empty() {
                    return Ok((statement, false));
                }
                all.push(statement);
                if carried {
                    self.unconfirmed.fetch_add(1, Ordering::AcqRel);
                }
                return Ok((batch::join(all), carried));
            }
        }
        self.send_held_back().await?;
        Ok((statement, false))
    }

    /// The savepoint, when this writer's work has not begun yet.
    fn opening(&self) -> Vec<Statement> {
        self.member.as_ref().map(opening).unwrap_or_default()
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
        group::lock(&self.held_back)
    }
}

/// The member's savepoint (after releasing the one before it), once: from
/// here its work may be in the group's transaction, so leaving without
/// committing must undo it.
fn opening(member: &Member) -> Vec<Statement> {
    member
        .opening()
        .into_iter()
        .map(|sql| Statement::from_string(DatabaseBackend::Sqlite, sql))
        .collect()
}

fn not_written() -> DbErr {
    DbErr::Custom("inserts held back for this transaction were not written".to_owned())
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DatabaseBackend {
        self.txn.get_database_backend()
    }

    /// Sends what was held back (and the savepoint) first, as its own
    /// round trip: joined with the statement, SQLite would count rows
    /// changed before it, even the previous writer's, in the statement's
    /// rows affected, which callers check (compare-and-set).
    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.send_opening().await?;
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.send_opening().await?;
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
/// (a fair semaphore), and then work in the open group's transaction
/// ([`super::group`]). PostgreSQL locks rows and needs no queue.
///
/// On SQLite the transaction writes alone: it sees only committed work, so
/// it may answer from what it read without committing.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    begin_write_within(db, WRITE_TURN_TIMEOUT, false).await
}

/// Begins a transaction that will write, sharing its commit with other
/// writers of the same kind (see [`super::group`]): for the submission
/// paths, where the turn is busiest.
///
/// It may see those writers' work before it is committed, so it must end
/// with [`WriteTransaction::commit`] whenever its answer rests on what it
/// read (a retried request answered from its idempotency record): commit
/// waits for the group's commit. Dropped, it is rolled back at once, which
/// suits errors only.
pub async fn begin_write_in_group(db: &DatabaseConnection) -> Result<WriteTransaction, DbErr> {
    begin_write_within(db, WRITE_TURN_TIMEOUT, true).await
}

pub(super) async fn begin_write_within(
    db: &DatabaseConnection,
    wait: Duration,
    shared: bool,
) -> Result<WriteTransaction, DbErr> {
    let (txn, member) = match writer(db) {
        Some(writer) => {
            let (member, txn) = writer.join(db, wait, shared).await?;
            (txn, Some(member))
        }
        None => (Arc::new(db.begin().await?), None),
    };
    Ok(WriteTransaction {
        txn,
        held_back: Mutex::new(Vec::new()),
        unconfirmed: AtomicUsize::new(0),
        member,
    })
}

/// The writers to one SQLite file, shared by every pool the process opened
/// on it (the server, the workers, a command-line tool).
fn writer(db: &DatabaseConnection) -> Option<Arc<Writer>> {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return None;
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    static WRITERS: LazyLock<Mutex<HashMap<PathBuf, Arc<Writer>>>> =
        LazyLock::new(Default::default);
    // A poisoned map still holds valid writers: nothing panics while holding it.
    let mut writers = WRITERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(
        writers
            .entry(file)
            .or_insert_with(|| Arc::new(Writer::new()))
            .clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use entity::change_log;
    use migration::{Migrator, MigratorTrait};
    use sea_orm::sqlx::sqlite::SqliteJournalMode;
    use sea_orm::{ActiveValue::Set, ConnAcquireErr, Database, PaginatorTrait};

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
        // As the service connects: the write-ahead log, so readers on other
        // connections see the last commit while a group is open.
        let mut options = sea_orm::ConnectOptions::new(url);
        options
            .max_connections(4)
            .map_sqlx_sqlite_opts(|opts| opts.journal_mode(SqliteJournalMode::Wal));
        let db = Database::connect(options).await.expect("SQLite");
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
        let waited = begin_write_within(db, Duration::from_millis(50), false).await;
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
        begin_write_within(db, Duration::from_millis(50), false)
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

    /// A grouped writer holding the turn, with one row of `kind` held back.
    async fn grouped_writer_with(db: &DatabaseConnection, kind: &str) -> WriteTransaction {
        let txn = begin_write_in_group(db).await.expect("a write");
        txn.insert_later(change(kind)).await.expect("held back");
        txn
    }

    /// Waits until a writer queues behind the current one.
    async fn until_someone_waits(db: &DatabaseConnection) {
        until_waiting(db, 1).await;
    }

    /// Waits until `n` writers queue for their turn.
    async fn until_waiting(db: &DatabaseConnection, n: usize) {
        let writer = writer(db).expect("a SQLite file");
        for _ in 0..500 {
            if writer.waiting() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} writers queued");
    }

    #[tokio::test]
    async fn concurrent_writers_each_see_their_work_durable_when_commit_returns() {
        let scratch = scratch(true).await;
        let writers: Vec<_> = (0..24)
            .map(|n| {
                let db = scratch.db.clone();
                tokio::spawn(async move {
                    let mine = format!("writer-{n}");
                    let txn = begin_write_in_group(&db).await.expect("a write");
                    txn.insert_later(change(&mine)).await.expect("held back");
                    txn.commit().await.expect("commit");
                    // Another connection sees it as soon as commit returns.
                    count(&db, &mine).await
                })
            })
            .collect();
        for writer in writers {
            assert_eq!(writer.await.expect("a writer"), 1);
        }
    }

    #[tokio::test]
    async fn a_writer_rolled_back_in_a_group_leaves_the_others_work_to_commit() {
        let scratch = scratch(true).await;
        let db = scratch.db.clone();
        let first = grouped_writer_with(&db, "kept").await;
        let second = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write_in_group(&db).await.expect("the second writer");
                txn.insert_later(change("undone")).await.expect("held back");
                assert_eq!(count(&txn, "undone").await, 1);
                tokio::time::sleep(Duration::from_millis(200)).await;
                // Dropped without committing.
            }
        });
        until_someone_waits(&db).await;
        // With a writer waiting, the first gives the turn on and waits for
        // the group's commit: not acknowledged, not visible, until then.
        let committing = tokio::spawn(first.commit());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!committing.is_finished());
        assert_eq!(count(&db, "kept").await, 0);
        second.await.expect("the second writer");
        committing.await.expect("a task").expect("commit");
        assert_eq!(count(&db, "kept").await, 1);
        assert_eq!(count(&db, "undone").await, 0);
    }

    #[tokio::test]
    async fn a_group_whose_waiting_writer_went_away_is_still_committed() {
        let scratch = scratch(true).await;
        let db = scratch.db.clone();
        let first = grouped_writer_with(&db, "orphan").await;
        let (taken, turn_taken) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let second = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write_in_group(&db).await.expect("the second writer");
                let _ = taken.send(());
                let _ = released.await;
                // Leaves having written nothing.
                drop(txn);
            }
        });
        until_someone_waits(&db).await;
        let committing = tokio::spawn(first.commit());
        turn_taken.await.expect("the second writer's turn");
        // The first writer's request goes away while it waits for the
        // group's commit; nobody else is left to commit the group.
        committing.abort();
        let _ = committing.await;
        let _ = release.send(());
        second.await.expect("the second writer");
        for _ in 0..500 {
            if count(&db, "orphan").await == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the group was never committed");
    }

    #[tokio::test]
    async fn a_writer_alone_commits_the_open_group_before_it_begins() {
        let scratch = scratch(true).await;
        let db = scratch.db.clone();
        let grouped = grouped_writer_with(&db, "grouped").await;
        let alone = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write(&db).await.expect("a writer alone");
                // The group before it is committed: another connection
                // sees its work while this transaction is open.
                let seen = count(&db, "grouped").await;
                txn.insert_later(change("alone")).await.expect("held back");
                txn.commit().await.expect("commit");
                seen
            }
        });
        until_someone_waits(&db).await;
        grouped.commit().await.expect("the group's commit");
        assert_eq!(alone.await.expect("the writer alone"), 1);
        assert_eq!(count(&db, "alone").await, 1);
    }

    #[tokio::test]
    async fn a_grouped_writer_that_only_read_waits_for_the_commit_of_what_it_read() {
        let scratch = scratch(true).await;
        let db = scratch.db.clone();
        let first = grouped_writer_with(&db, "read").await;
        let reader = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write_in_group(&db).await.expect("the second writer");
                // Sees the first writer's work, not yet committed...
                assert_eq!(count(&txn, "read").await, 1);
                txn.commit().await.expect("commit");
                // ...and answers only once it is.
                count(&db, "read").await
            }
        });
        until_waiting(&db, 1).await;
        // A third writer, queued behind the reader, keeps the first from
        // closing the group for a while after the reader is done.
        let third = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write_in_group(&db).await.expect("the third writer");
                tokio::time::sleep(Duration::from_millis(200)).await;
                txn.commit().await.expect("commit");
            }
        });
        until_waiting(&db, 2).await;
        let committing = tokio::spawn(first.commit());
        assert_eq!(reader.await.expect("the reader"), 1);
        third.await.expect("the third writer");
        committing.await.expect("a task").expect("commit");
    }

    #[tokio::test]
    async fn writers_before_and_after_one_rolled_back_in_a_group_are_both_kept() {
        let scratch = scratch(true).await;
        let db = scratch.db.clone();
        let first = grouped_writer_with(&db, "before").await;
        let undone = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write_in_group(&db).await.expect("the second writer");
                txn.insert_later(change("undone")).await.expect("held back");
                assert_eq!(count(&txn, "undone").await, 1);
            }
        });
        until_waiting(&db, 1).await;
        let after = tokio::spawn({
            let db = db.clone();
            async move {
                let txn = begin_write_in_group(&db).await.expect("the third writer");
                txn.insert_later(change("after")).await.expect("held back");
                // Joining, it undid the second writer's work first.
                assert_eq!(count(&txn, "undone").await, 0);
                assert_eq!(count(&txn, "before").await, 1);
                txn.commit().await.expect("commit");
            }
        });
        until_waiting(&db, 2).await;
        let committing = tokio::spawn(first.commit());
        undone.await.expect("the second writer");
        after.await.expect("the third writer");
        committing.await.expect("a task").expect("commit");
        assert_eq!(count(&db, "before").await, 1);
        assert_eq!(count(&db, "undone").await, 0);
        assert_eq!(count(&db, "after").await, 1);
    }
}
