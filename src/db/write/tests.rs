//! Write transactions on real SQLite files in WAL mode: group commit,
//! held-back inserts and the write turn, seen from other connections.

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
