//! Follows the change log into the index. Each batch is committed with the
//! last applied sequence number as the commit payload, so after a crash the
//! indexer resumes from there: nothing missing, and (documents being
//! replaced by key) nothing twice.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use entity::change_log;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tantivy::Term;
use tokio::sync::watch;
use uuid::Uuid;

use super::documents::{self, SearchDoc};
use super::schema::SearchIndex;
use crate::error::AppError;

const BATCH: u64 = 1_000;
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
    let rows = change_log::Entity::find()
        .filter(
            Condition::any()
                .add(change_log::Column::Seq.gt(from))
                .add(change_log::Column::CreatedAt.gt(recent)),
        )
        .order_by_asc(change_log::Column::Seq)
        .limit(BATCH)
        .all(db)
        .await?;
    let pending: Vec<&change_log::Model> = {
        let recent_rows = index
            .recent
            .lock()
            .map_err(|_| AppError::internal(anyhow::anyhow!("search bookkeeping lock poisoned")))?;
        rows.iter()
            .filter(|r| r.seq > from || !recent_rows.contains_key(&r.seq))
            .collect()
    };
    if pending.is_empty() {
        return Ok(0);
    }
    let last = pending
        .iter()
        .map(|r| r.seq)
        .max()
        .unwrap_or(from)
        .max(from);
    let mut items: BTreeMap<(String, Uuid), ()> = BTreeMap::new();
    for row in &pending {
        items.insert((row.entity_type.clone(), row.entity_id), ());
    }
    let mut docs: Vec<(String, Uuid, Option<SearchDoc>)> = Vec::with_capacity(items.len());
    for (kind, id) in items.into_keys() {
        let doc = documents::load(db, &kind, id).await?;
        docs.push((kind, id, doc));
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

/// Replaces the documents and commits with `last` as the payload.
pub fn write(
    index: &SearchIndex,
    docs: Vec<(String, Uuid, Option<SearchDoc>)>,
    last: i64,
) -> Result<(), AppError> {
    let fields = index.fields;
    let mut writer = index.writer.lock().map_err(|_| {
        AppError::internal(anyhow::anyhow!("the search index writer lock is poisoned"))
    })?;
    for (kind, id, doc) in docs {
        writer.delete_term(Term::from_field_text(
            fields.key,
            &documents::key(&kind, id),
        ));
        if let Some(doc) = doc {
            writer
                .add_document(doc.to_tantivy(&fields))
                .map_err(AppError::internal)?;
        }
    }
    let mut commit = writer.prepare_commit().map_err(AppError::internal)?;
    commit.set_payload(&last.to_string());
    commit.commit().map_err(AppError::internal)?;
    drop(writer);
    index.reader.reload().map_err(AppError::internal)?;
    index.set_applied(last);
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
async fn fill(db: &impl ConnectionTrait, index: &SearchIndex) -> Result<(), AppError> {
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

/// Rebuilds the whole index from the database: every idea, report and
/// comment, in batches, reporting `(done, total)` as it goes. The change
/// log position is taken first, so anything written meanwhile is applied
/// again afterwards by the indexer.
pub async fn rebuild(
    db: &impl ConnectionTrait,
    index: &SearchIndex,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, AppError> {
    use entity::{comments, ideas, reports};

    let position = change_log::Entity::find()
        .order_by_desc(change_log::Column::Seq)
        .one(db)
        .await?
        .map(|r| r.seq)
        .unwrap_or(0);
    let mut items: Vec<(String, Uuid)> = Vec::new();
    for id in ideas::Entity::find()
        .select_only()
        .column(ideas::Column::Id)
        .into_tuple::<Uuid>()
        .all(db)
        .await?
    {
        items.push(("idea".to_owned(), id));
    }
    for id in reports::Entity::find()
        .select_only()
        .column(reports::Column::Id)
        .into_tuple::<Uuid>()
        .all(db)
        .await?
    {
        items.push(("report".to_owned(), id));
    }
    for id in comments::Entity::find()
        .select_only()
        .column(comments::Column::Id)
        .into_tuple::<Uuid>()
        .all(db)
        .await?
    {
        items.push(("comment".to_owned(), id));
    }
    let total = items.len() as u64;
    {
        let writer = index.writer.lock().map_err(|_| {
            AppError::internal(anyhow::anyhow!("the search index writer lock is poisoned"))
        })?;
        writer.delete_all_documents().map_err(AppError::internal)?;
    }
    let mut done = 0u64;
    progress(done, total);
    for chunk in items.chunks(BATCH as usize) {
        let mut docs = Vec::with_capacity(chunk.len());
        for (kind, id) in chunk {
            docs.push((kind.clone(), *id, documents::load(db, kind, *id).await?));
        }
        write(index, docs, position)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    if items.is_empty() {
        write(index, Vec::new(), position)?;
    }
    Ok(total)
}
