//! Follows the change log into the index. Each batch is committed with the
//! last applied sequence number as the commit payload, so after a crash the
//! indexer resumes from there: nothing missing, and (documents being
//! replaced by key) nothing twice.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use entity::change_log;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use tantivy::Term;
use tokio::sync::watch;
use uuid::Uuid;

use super::documents::{self, SearchDoc};
use super::schema::SearchIndex;
use crate::error::AppError;

const BATCH: u64 = 1_000;
/// A rebuild commits this often, marked partial.
const COMMIT_EVERY: u64 = 100_000;
/// The payload of a rebuild's intermediate commits.
pub const PARTIAL: &str = "partial";
/// On PostgreSQL a sequence number is taken at insert and becomes visible
/// at commit, so a lower number can appear after a higher one was applied.
/// Rows this recent are read again; applying an item twice is harmless.
const LOOKBACK_SECONDS: i64 = 10;
/// Short enough that an acknowledged write is searchable within a second.
const POLL: Duration = Duration::from_millis(250);

/// Applies one batch of the change log. Returns how many rows it read.
pub async fn apply_batch(
    db: &impl ConnectionTrait,
    index: &SearchIndex,
) -> Result<usize, AppError> {
    let from = index.applied();
    let recent = Utc::now() - chrono::Duration::seconds(LOOKBACK_SECONDS);
    let mut pending = change_log::Entity::find()
        .filter(change_log::Column::Seq.gt(from))
        .order_by_asc(change_log::Column::Seq)
        .limit(BATCH)
        .all(db)
        .await?;
    // SQLite numbers rows under its single write lock, so they become
    // visible in order and nothing can appear behind `from`.
    if db.get_database_backend() == DatabaseBackend::Postgres {
        pending.extend(committed_late(db, index, from, recent).await?);
    }
    if pending.is_empty() {
        return Ok(0);
    }
    let last = pending
        .iter()
        .map(|r| r.seq)
        .max()
        .unwrap_or(from)
        .max(from);
    let mut by_kind: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
    for row in &pending {
        by_kind
            .entry(row.entity_type.as_str())
            .or_default()
            .push(row.entity_id);
    }
    let mut docs: Vec<(String, Uuid, Vec<SearchDoc>)> = Vec::new();
    for (kind, mut ids) in by_kind {
        ids.sort();
        ids.dedup();
        let mut found = documents::load_many(db, kind, &ids).await?;
        docs.extend(
            ids.into_iter()
                .map(|id| (kind.to_owned(), id, found.remove(&id).unwrap_or_default())),
        );
    }
    write(index, docs, last)?;
    if let Ok(mut recent_rows) = index.recent.lock() {
        for row in &pending {
            recent_rows.insert(row.seq, row.created_at);
        }
        recent_rows.retain(|_, at| *at > recent);
    }
    Ok(pending.len())
}

/// Rows numbered at or below `from` that committed after it was applied
/// (PostgreSQL): only their numbers are read for the look-back window, and
/// only the rows not yet applied are fetched.
async fn committed_late(
    db: &impl ConnectionTrait,
    index: &SearchIndex,
    from: i64,
    recent: chrono::DateTime<Utc>,
) -> Result<Vec<change_log::Model>, AppError> {
    let seen: Vec<i64> = change_log::Entity::find()
        .select_only()
        .column(change_log::Column::Seq)
        .filter(change_log::Column::Seq.lte(from))
        .filter(change_log::Column::CreatedAt.gt(recent))
        .into_tuple()
        .all(db)
        .await?;
    let late: Vec<i64> = {
        let applied = index
            .recent
            .lock()
            .map_err(|_| AppError::internal(anyhow::anyhow!("search bookkeeping lock poisoned")))?;
        // After a restart nothing recent is known to be applied, so every
        // recent row counts as late: a batch at a time keeps the query's
        // parameters within bounds, and the rest follow in the next rounds.
        seen.into_iter()
            .filter(|seq| !applied.contains_key(seq))
            .take(BATCH as usize)
            .collect()
    };
    if late.is_empty() {
        return Ok(Vec::new());
    }
    Ok(change_log::Entity::find()
        .filter(change_log::Column::Seq.is_in(late))
        .all(db)
        .await?)
}

/// Replaces the documents and commits with `last` as the payload.
pub fn write(
    index: &SearchIndex,
    docs: Vec<(String, Uuid, Vec<SearchDoc>)>,
    last: i64,
) -> Result<(), AppError> {
    stage(index, docs)?;
    commit(index, &last.to_string())?;
    index.set_applied(last);
    Ok(())
}

/// Replaces the documents in the writer, to be made visible by `commit`.
fn stage(index: &SearchIndex, docs: Vec<(String, Uuid, Vec<SearchDoc>)>) -> Result<(), AppError> {
    let fields = index.fields;
    index.with_writer(|writer| {
        for (kind, id, doc) in docs {
            writer.delete_term(Term::from_field_text(
                fields.key,
                &documents::key(&kind, id),
            ));
            for doc in doc {
                writer
                    .add_document(doc.to_tantivy(&fields))
                    .map_err(AppError::internal)?;
            }
        }
        Ok(())
    })
}

/// Commits what is staged with `payload` and reloads the searchers.
fn commit(index: &SearchIndex, payload: &str) -> Result<(), AppError> {
    index.with_writer(|writer| {
        let mut commit = writer.prepare_commit().map_err(AppError::internal)?;
        commit.set_payload(payload);
        commit.commit().map_err(AppError::internal)?;
        Ok(())
    })?;
    index.reader.reload().map_err(AppError::internal)?;
    Ok(())
}

/// Applies batches until the change log is exhausted.
pub async fn catch_up(db: &impl ConnectionTrait, index: &SearchIndex) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let applied = apply_batch(db, index).await?;
        total += applied;
        if applied < BATCH as usize {
            return Ok(total);
        }
    }
}

/// Runs until shutdown: fills a new index from the tables, switches to a
/// generation `hub reindex` built, and applies what is new every poll.
pub async fn run(state: crate::app_state::AppState, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(err) = state.search.follow_pointer() {
            tracing::warn!(error = %err, "cannot switch to the rebuilt search index");
        }
        state.search.release_retired();
        let index = state.search.current();
        if state.search.needs_fill() {
            match fill(&state.db, &index).await {
                Ok(()) => state.search.filled(),
                Err(err) => {
                    tracing::warn!(error = %err, "filling the search index failed; retrying")
                }
            }
        }
        match catch_up(&state.db, &index).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, applied = index.applied(), "search index updated"),
            Err(err) => tracing::warn!(error = %err, "search indexing failed; retrying"),
        }
        drop(index);
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Fills a new, empty index from the tables, logging progress by tenths.
pub(crate) async fn fill(db: &impl ConnectionTrait, index: &SearchIndex) -> Result<(), AppError> {
    let mut logged = 0;
    let total = rebuild(db, index, |done, total| {
        let tenth = (done * 10).checked_div(total).unwrap_or(10);
        if tenth > logged {
            logged = tenth;
            tracing::info!(done, total, "filling the search index");
        }
    })
    .await?;
    tracing::info!(items = total, "the search index is filled");
    Ok(())
}

/// Rebuilds the whole index from the database: every idea, report,
/// comment, consultation and response, loaded a thousand at a time, reporting `(done, total)` as it
/// goes. The change log position is taken first, so anything written
/// meanwhile is applied again afterwards by the indexer. Commits along the
/// way are marked partial, so that an interrupted rebuild is redone.
pub async fn rebuild(
    db: &impl ConnectionTrait,
    index: &SearchIndex,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, AppError> {
    use entity::{comments, consultation_responses, consultations, ideas, reports};

    // Start from a position the log can no longer fill in below: on
    // PostgreSQL a lower sequence number can commit late, and the indexer
    // re-reads only its look-back window after the switch.
    let settled = Utc::now() - chrono::Duration::seconds(LOOKBACK_SECONDS);
    let position = change_log::Entity::find()
        .filter(change_log::Column::CreatedAt.lt(settled))
        .order_by_desc(change_log::Column::Seq)
        .one(db)
        .await?
        .map(|r| r.seq)
        .unwrap_or(0);
    let kinds: [(&str, Vec<Uuid>); 5] = [
        (
            "idea",
            all_ids::<ideas::Entity>(db, ideas::Column::Id).await?,
        ),
        (
            "report",
            all_ids::<reports::Entity>(db, reports::Column::Id).await?,
        ),
        (
            "comment",
            all_ids::<comments::Entity>(db, comments::Column::Id).await?,
        ),
        (
            super::consultations::CONSULTATION,
            all_ids::<consultations::Entity>(db, consultations::Column::Id).await?,
        ),
        (
            super::consultations::RESPONSE,
            all_ids::<consultation_responses::Entity>(db, consultation_responses::Column::Id)
                .await?,
        ),
    ];
    let total: u64 = kinds.iter().map(|(_, ids)| ids.len() as u64).sum();
    index.with_writer(|writer| {
        writer.delete_all_documents().map_err(AppError::internal)?;
        Ok(())
    })?;
    // Marked partial from the start: if this is interrupted, it is redone.
    commit(index, PARTIAL)?;
    let mut done = 0u64;
    let mut staged = 0u64;
    progress(done, total);
    for (kind, ids) in &kinds {
        for chunk in ids.chunks(BATCH as usize) {
            let mut found = documents::load_many(db, kind, chunk).await?;
            let docs = chunk
                .iter()
                .map(|id| {
                    (
                        (*kind).to_owned(),
                        *id,
                        found.remove(id).unwrap_or_default(),
                    )
                })
                .collect();
            stage(index, docs)?;
            done += chunk.len() as u64;
            staged += chunk.len() as u64;
            // Bounded memory and visible progress, without a commit (a
            // segment flush) per chunk.
            if staged >= COMMIT_EVERY {
                commit(index, PARTIAL)?;
                staged = 0;
            }
            progress(done, total);
        }
    }
    commit(index, &position.to_string())?;
    index.set_applied(position);
    Ok(total)
}

/// Every id in a table, for a rebuild to walk through.
async fn all_ids<E: sea_orm::EntityTrait>(
    db: &impl ConnectionTrait,
    id: E::Column,
) -> Result<Vec<Uuid>, sea_orm::DbErr> {
    E::find()
        .select_only()
        .column(id)
        .into_tuple::<Uuid>()
        .all(db)
        .await
}
