//! Group commit for SQLite: writers to one file take turns on one open
//! transaction, each inside a savepoint, and the transaction commits once
//! for all of them when no other writer is waiting.
//!
//! SQLite lets one connection write at a time, so writers queue for the
//! file's turn ([`Writer::join`]). Committing each writer's transaction on
//! its own costs every writer a `BEGIN IMMEDIATE`, a `COMMIT` and a sync of
//! the write-ahead log while the others wait, and the turn was the service's
//! limit under load (docs/load.md). Here a writer's work is a savepoint in
//! the group's transaction: released, it waits for the group to commit, so
//! nothing is acknowledged before it is durable. A writer whose savepoint
//! is rolled back takes nothing else with it; a commit that fails fails
//! every writer of its group, none of which has been acknowledged.
//!
//! Who commits: a writer that finishes with nobody waiting for the turn
//! commits at once; otherwise it gives the turn on, queues again, and
//! commits the group when its turn comes back unless someone already has.
//! So every open group has a writer responsible for closing it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, RuntimeErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// The most writers one commit answers for: past it the group commits
/// even with writers waiting, so no acknowledgement waits on a long queue.
const MOST_MEMBERS: usize = 32;

/// Each writer's work is a savepoint in the group's transaction. A
/// finished writer's savepoint is released by the next writer's first
/// statement (or by the commit), saving a round trip in the turn; the two
/// names alternate, so that a writer whose first statement never ran
/// cannot roll back to the savepoint before it: its `ROLLBACK TO` fails,
/// and the group with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Savepoint {
    A,
    B,
}

impl Savepoint {
    fn other(self) -> Self {
        match self {
            Savepoint::A => Savepoint::B,
            Savepoint::B => Savepoint::A,
        }
    }

    fn open(self) -> &'static str {
        match self {
            Savepoint::A => "SAVEPOINT hub_write_a",
            Savepoint::B => "SAVEPOINT hub_write_b",
        }
    }

    fn release(self) -> &'static str {
        match self {
            Savepoint::A => "RELEASE hub_write_a",
            Savepoint::B => "RELEASE hub_write_b",
        }
    }

    /// Undoes the work of a writer that left without committing.
    fn roll_back(self) -> &'static str {
        match self {
            Savepoint::A => "ROLLBACK TO hub_write_a; RELEASE hub_write_a",
            Savepoint::B => "ROLLBACK TO hub_write_b; RELEASE hub_write_b",
        }
    }
}

/// How a group ended: `None` while open.
type Outcome = Option<Result<(), String>>;

/// The writers to one SQLite file, shared by every pool the process opened
/// on it.
pub(super) struct Writer {
    /// The file's turn to write, handed out in arrival order.
    turn: Arc<Semaphore>,
    /// Writers waiting for their turn to begin (not writers waiting to close
    /// a group): while there are some, a finishing writer leaves the group
    /// open for them.
    waiting: AtomicUsize,
    group: Mutex<Option<Group>>,
    next_id: AtomicU64,
}

struct Group {
    id: u64,
    /// Whether other writers may join. A writer that may answer from what
    /// it read without committing (most do: "already tagged", "stale")
    /// must not see others' uncommitted work, so it writes alone, after
    /// committing any open group.
    shared: bool,
    txn: Arc<DatabaseTransaction>,
    /// Writers whose work is in and who wait for the commit.
    members: usize,
    /// A writer left without committing after its savepoint was sent: the
    /// next to use the transaction rolls back to the savepoint first.
    roll_back_first: Option<Savepoint>,
    /// The last finished writer's savepoint, not yet released.
    unreleased: Option<Savepoint>,
    outcome: watch::Sender<Outcome>,
}

/// A writer's place in a group, holding the file's turn. Dropped without
/// [`Member::finish`] or [`Member::leave`], its work is undone.
pub(super) struct Member {
    writer: Arc<Writer>,
    group_id: u64,
    /// This writer's savepoint, once it may have reached the database.
    savepoint: Mutex<Option<Savepoint>>,
    done: bool,
    turn: Option<OwnedSemaphorePermit>,
}

impl Writer {
    pub(super) fn new() -> Self {
        Writer {
            turn: Arc::new(Semaphore::new(1)),
            waiting: AtomicUsize::new(0),
            group: Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, Option<Group>> {
        lock(&self.group)
    }

    /// Waits up to `wait` for the file's turn, then joins the open group or
    /// opens one (`shared`), or commits any open group and opens one of its
    /// own. The transaction is the group's; the caller's work must begin
    /// with [`Member::opening`].
    pub(super) async fn join(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        wait: Duration,
        shared: bool,
    ) -> Result<(Member, Arc<DatabaseTransaction>), DbErr> {
        let turn = {
            let _waiting = Waiting::count(&self.waiting);
            match tokio::time::timeout(wait, self.turn.clone().acquire_owned()).await {
                Ok(Ok(turn)) => turn,
                Ok(Err(_)) => {
                    return Err(DbErr::Custom("the SQLite write queue is closed".to_owned()));
                }
                // As long as SQLite's own busy timeout: a writer that waits
                // longer (the queue stuck behind a transaction that never
                // ends) fails as "unavailable" instead of hanging its request.
                Err(_) => return Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            }
        };
        let (group_id, txn) = self.open_group(db, shared).await?;
        let member = Member {
            writer: self.clone(),
            group_id,
            savepoint: Mutex::new(None),
            done: false,
            turn: Some(turn),
        };
        Ok((member, txn))
    }

    /// The open group, first undoing a departed writer's work, or a new one.
    /// Called with the turn held.
    async fn open_group(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        shared: bool,
    ) -> Result<(u64, Arc<DatabaseTransaction>), DbErr> {
        let open = self.state().as_ref().map(|group| (group.id, group.shared));
        if let Some((id, open_to_others)) = open
            && !(shared && open_to_others)
        {
            // Its members learn how it went; this writer starts afresh.
            if let Err(err) = self.close(id).await {
                tracing::error!(error = %err, "a write group did not commit");
            }
        }
        let departed = self
            .state()
            .as_ref()
            .filter(|group| group.roll_back_first.is_some())
            .map(|group| group.id);
        if let Some(id) = departed {
            // In a task of its own: a request going away part way through
            // must not leave the departed writer's work in the group.
            let writer = self.clone();
            let _ = tokio::spawn(async move { writer.undo_departed(id).await }).await;
        }
        let open = self
            .state()
            .as_ref()
            .map(|group| (group.id, group.txn.clone()));
        if let Some(open) = open {
            return Ok(open);
        }
        let txn = db
            .begin_with_options(TransactionOptions {
                // A plain BEGIN would read first and fail with "database is
                // locked" on its first write if another process wrote.
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        let txn = Arc::new(txn);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        *self.state() = Some(Group {
            id,
            shared,
            txn: txn.clone(),
            members: 0,
            roll_back_first: None,
            unreleased: None,
            outcome: watch::channel(None).0,
        });
        Ok((id, txn))
    }

    /// Rolls group `id` back to the savepoint of a writer that left without
    /// committing. If that fails, the transaction is not as its members
    /// left it, and none of them may be acknowledged: the group ends.
    async fn undo_departed(&self, id: u64) {
        let departed = self
            .state()
            .as_ref()
            .filter(|group| group.id == id)
            .and_then(|group| Some((group.txn.clone(), group.roll_back_first?)));
        let Some((txn, savepoint)) = departed else {
            return;
        };
        let undone = txn.execute_unprepared(savepoint.roll_back()).await;
        drop(txn);
        match undone {
            // Cleared only once it has run.
            Ok(_) => {
                if let Some(group) = self.state().as_mut().filter(|group| group.id == id) {
                    group.roll_back_first = None;
                }
            }
            Err(err) => self.end(id, err.to_string()),
        }
    }

    /// Commits group `id` if it is still open, with the turn held, and tells
    /// its members; in a task of its own, so that the request that happens
    /// to close the group going away cannot stop its commit half way.
    async fn close(self: &Arc<Self>, id: u64) -> Result<(), DbErr> {
        let writer = self.clone();
        // Answered as its other members are: the commit was not this
        // writer's doing alone.
        match tokio::spawn(async move { writer.commit_group(id).await }).await {
            Ok(result) => result.map_err(|err| failed(&err.to_string())),
            Err(err) => Err(failed(&err.to_string())),
        }
    }

    async fn commit_group(&self, id: u64) -> Result<(), DbErr> {
        let Some(group) = self.take(id) else {
            return Ok(());
        };
        let Group {
            txn,
            roll_back_first,
            outcome,
            ..
        } = group;
        let result = async {
            let txn = Arc::try_unwrap(txn).map_err(|_| {
                DbErr::Custom("a write group's transaction was still in use".to_owned())
            })?;
            // The commit releases every savepoint left.
            if let Some(savepoint) = roll_back_first {
                txn.execute_unprepared(savepoint.roll_back()).await?;
            }
            txn.commit().await
        }
        .await;
        outcome.send_replace(Some(
            result.as_ref().map(|_| ()).map_err(ToString::to_string),
        ));
        result
    }

    /// Ends group `id` without committing (rolled back when the last
    /// handle on its transaction is dropped), telling its members why.
    fn end(&self, id: u64, why: String) {
        if let Some(group) = self.take(id) {
            group.outcome.send_replace(Some(Err(why)));
        }
    }

    /// Group `id`, out of the state, if it is the open one.
    fn take(&self, id: u64) -> Option<Group> {
        let mut state = self.state();
        match state.as_ref() {
            Some(group) if group.id == id => state.take(),
            _ => None,
        }
    }

    /// Writers waiting for their turn to begin.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    fn is_open(&self, id: u64) -> bool {
        self.state().as_ref().is_some_and(|group| group.id == id)
    }
}

impl Member {
    /// The statements that begin this writer's work, the first time its
    /// statements go out: the release of the last finished writer's
    /// savepoint, and its own.
    pub(super) fn opening(&self) -> Vec<&'static str> {
        let mut mine = lock(&self.savepoint);
        if mine.is_some() {
            return Vec::new();
        }
        let before = {
            let mut state = self.writer.state();
            state
                .as_mut()
                .filter(|group| group.id == self.group_id)
                .and_then(|group| group.unreleased.take())
        };
        let savepoint = before.map_or(Savepoint::A, Savepoint::other);
        *mine = Some(savepoint);
        match before {
            Some(before) => vec![before.release(), savepoint.open()],
            None => vec![savepoint.open()],
        }
    }

    /// Whether this writer's statements may have reached the database.
    pub(super) fn has_begun(&self) -> bool {
        lock(&self.savepoint).is_some()
    }

    /// The writer's work is in (its savepoint released): waits until the
    /// group commits, committing it when this writer is the one to.
    pub(super) async fn finish(mut self, txn: Arc<DatabaseTransaction>) -> Result<(), DbErr> {
        self.done = true;
        // The group's commit needs the only handle on its transaction.
        drop(txn);
        let writer = self.writer.clone();
        let id = self.group_id;
        let (outcome, close_now) = {
            let mut state = writer.state();
            match state.as_mut() {
                Some(group) if group.id == id => {
                    group.members += 1;
                    group.unreleased = *lock(&self.savepoint);
                    let nobody_waiting = writer.waiting.load(Ordering::Acquire) == 0;
                    (
                        group.outcome.subscribe(),
                        !group.shared || nobody_waiting || group.members >= MOST_MEMBERS,
                    )
                }
                _ => return Err(ended()),
            }
        };
        let turn = self.turn.take();
        if close_now {
            let result = writer.close(id).await;
            drop(turn);
            return result;
        }
        drop(turn);
        let mut closer = Closer {
            writer,
            id,
            armed: true,
        };
        closer.wait(outcome).await
    }

    /// The writer sent nothing, so it read nothing of the others' work and
    /// goes without waiting. A group with nobody else in it ends here.
    pub(super) async fn leave(mut self) -> Result<(), DbErr> {
        self.done = true;
        let alone = self
            .writer
            .state()
            .as_ref()
            .is_some_and(|group| group.id == self.group_id && group.members == 0);
        if alone {
            // An empty commit: nothing was written.
            return self.writer.close(self.group_id).await;
        }
        Ok(())
    }
}

impl Drop for Member {
    /// Runs while the turn is still held (fields drop after this).
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let nobody_waits = {
            let mut state = self.writer.state();
            let Some(group) = state.as_mut().filter(|group| group.id == self.group_id) else {
                return;
            };
            if group.members == 0 {
                true
            } else {
                if let Some(savepoint) = *lock(&self.savepoint) {
                    group.roll_back_first = Some(savepoint);
                }
                false
            }
        };
        if nobody_waits {
            // The group ends here, rolled back.
            self.writer
                .end(self.group_id, "the group was rolled back".to_owned());
        }
    }
}

/// A member waiting for its group's commit; dropped before it came (the
/// request cancelled), it leaves a task to close the group in its place.
struct Closer {
    writer: Arc<Writer>,
    id: u64,
    armed: bool,
}

impl Closer {
    async fn wait(&mut self, mut outcome: watch::Receiver<Outcome>) -> Result<(), DbErr> {
        let turn = tokio::time::timeout(
            super::write::WRITE_TURN_TIMEOUT,
            self.writer.turn.clone().acquire_owned(),
        );
        let turn = tokio::select! {
            biased;
            seen = outcome.wait_for(Option::is_some) => {
                self.armed = false;
                return match seen {
                    Ok(seen) => settled(seen.clone()),
                    Err(_) => Err(ended()),
                };
            }
            turn = turn => turn,
        };
        match turn {
            Ok(Ok(turn)) => {
                self.armed = false;
                // The group is still open only if nobody closed it while
                // this member queued; then it is this member's to close.
                let result = if self.writer.is_open(self.id) {
                    self.writer.close(self.id).await
                } else {
                    let seen = outcome.borrow().clone();
                    settled(seen)
                };
                drop(turn);
                result
            }
            Ok(Err(_)) => Err(DbErr::Custom("the SQLite write queue is closed".to_owned())),
            Err(_) => {
                // The turn is slow to come back, but this member's work is
                // in the group and will be committed or not: a task closes
                // the group in its place, and it answers with how that went.
                self.armed = false;
                self.close_later();
                match tokio::time::timeout(
                    super::write::WRITE_TURN_TIMEOUT,
                    outcome.wait_for(Option::is_some),
                )
                .await
                {
                    Ok(Ok(seen)) => settled(seen.clone()),
                    Ok(Err(_)) => Err(ended()),
                    Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
                }
            }
        }
    }

    /// Leaves a task to commit the group once the turn comes.
    fn close_later(&self) {
        let writer = self.writer.clone();
        let id = self.id;
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Ok(turn) = writer.turn.clone().acquire_owned().await {
                        if let Err(err) = writer.commit_group(id).await {
                            tracing::error!(error = %err, "a write group did not commit");
                        }
                        drop(turn);
                    }
                });
            }
            // No runtime to close it on: its members are told it ended.
            Err(_) => writer.end(id, "no runtime to commit the group on".to_owned()),
        }
    }
}

impl Drop for Closer {
    fn drop(&mut self) {
        if self.armed {
            self.close_later();
        }
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; the value is still whole.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts a writer waiting for its turn while it exists.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A member's answer from its group's outcome. A group that failed is
/// reported as the database being unavailable: the member's own work was
/// fine, and trying again is the remedy.
fn settled(outcome: Outcome) -> Result<(), DbErr> {
    match outcome {
        Some(Ok(())) => Ok(()),
        Some(Err(why)) => Err(failed(&why)),
        None => Err(ended()),
    }
}

fn failed(why: &str) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(format!(
        "the shared commit failed: {why}"
    )))
}

fn ended() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(
        "the write group ended without committing".to_owned(),
    ))
}
