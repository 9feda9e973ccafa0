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
    DbErr, EntityTrait, ExecResult, IntoActiveModel, QueryResult, QueryTrait, Statement,
    TransactionTrait,
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

    /// Inserts a row given as a model, as [`WriteTransaction::insert_later`]
    /// does, for a caller that keeps the model to answer with.
    pub async fn insert_model_later<M, A>(&self, row: &M) -> Result<(), DbErr>
    where
        M: Clone + IntoActiveModel<A>,
        A: ActiveModelTrait,
    {
        // A model converts to unchanged values, which an insert leaves out.
        self.insert_later(row.clone().into_active_model().reset_all())
            .await
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
mod tests;
