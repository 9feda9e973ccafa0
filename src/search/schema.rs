//! The fields of the search index and one generation of it on disk. The
//! index is derived data: when its schema changes it is rebuilt from the
//! database (see `store`).

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::Context;
use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

/// Bump when the fields below change: the index is then rebuilt on start.
pub const SCHEMA_VERSION: &str = "1";
const VERSION_FILE: &str = "schema-version";
/// Filter fields are matched whole and case-insensitively (`theme:"cyber security"`).
pub const KEYWORD: &str = "keyword";

#[derive(Debug, Clone, Copy)]
pub struct SearchFields {
    /// "idea:{uuid}" and so on: unique, so an item is replaced, never doubled.
    pub key: Field,
    pub id: Field,
    pub kind: Field,
    pub title: Field,
    pub body: Field,
    pub status: Field,
    pub theme: Field,
    pub category: Field,
    pub severity: Field,
    pub organisation: Field,
    pub respondent: Field,
    pub created: Field,
    pub support: Field,
    /// "public", "board", "user:{uuid}": who may see the item.
    pub visible_to: Field,
    pub facets: Field,
    pub link: Field,
}

pub fn schema() -> (Schema, SearchFields) {
    let mut builder = Schema::builder();
    let stemmed = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(KEYWORD)
            .set_index_option(IndexRecordOption::Basic),
    );
    let fields = SearchFields {
        key: builder.add_text_field("key", STRING),
        id: builder.add_text_field("id", STRING | STORED),
        kind: builder.add_text_field("kind", keyword.clone() | STORED),
        title: builder.add_text_field("title", stemmed.clone()),
        body: builder.add_text_field("body", stemmed),
        status: builder.add_text_field("status", keyword.clone() | STORED),
        theme: builder.add_text_field("theme", keyword.clone()),
        category: builder.add_text_field("category", keyword.clone()),
        severity: builder.add_text_field("severity", keyword.clone()),
        organisation: builder.add_text_field("organisation", keyword.clone()),
        respondent: builder.add_text_field("respondent", keyword),
        // Microseconds, so that items from the same second sort newest first.
        created: builder.add_date_field(
            "created",
            DateOptions::from(INDEXED | FAST | STORED)
                .set_precision(DateTimePrecision::Microseconds),
        ),
        support: builder.add_u64_field("support", FAST | STORED),
        visible_to: builder.add_text_field("visible_to", STRING),
        facets: builder.add_facet_field("facets", INDEXED),
        link: builder.add_text_field("link", STORED),
    };
    (builder.build(), fields)
}

/// How much the writer may use: a little for the service's steady trickle
/// of changes, every core and more memory (fewer, larger segments) for a
/// rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterSize {
    Service,
    Rebuild,
}

impl WriterSize {
    fn threads(self) -> usize {
        match self {
            WriterSize::Service => 1,
            WriterSize::Rebuild => std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(1, 4),
        }
    }

    fn memory_bytes(self) -> usize {
        match self {
            WriterSize::Service => 50_000_000,
            WriterSize::Rebuild => 200_000_000 * self.threads(),
        }
    }
}

pub struct SearchIndex {
    pub index: Index,
    pub reader: IndexReader,
    /// None when opened read-only (another process writes it).
    writer: Mutex<Option<IndexWriter>>,
    pub fields: SearchFields,
    /// The change-log sequence number the index has applied up to.
    applied: AtomicI64,
    /// Opened after a rebuild was interrupted: it must be filled again.
    pub partial: bool,
    /// Change-log rows applied within the look-back window, by sequence
    /// number, so that late-committed rows are noticed and others skipped.
    pub(crate) recent: Mutex<std::collections::BTreeMap<i64, chrono::DateTime<chrono::Utc>>>,
}

impl SearchIndex {
    /// Creates an empty index in `dir`, which must not hold one yet.
    pub fn create(dir: &Path, writer: WriterSize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let (schema, _) = schema();
        Index::create_in_dir(dir, schema).context("cannot create the search index")?;
        std::fs::write(dir.join(VERSION_FILE), SCHEMA_VERSION)?;
        Self::open_with(dir, writer)
    }

    /// Whether `dir` holds an index written with this schema version.
    pub fn is_current(dir: &Path) -> bool {
        std::fs::read_to_string(dir.join(VERSION_FILE))
            .is_ok_and(|version| version.trim() == SCHEMA_VERSION)
    }

    /// Opens the index in `dir` for searching and for the service's writes.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        Self::open_with(dir, WriterSize::Service)
    }

    /// Opens the index in `dir` for searching only, alongside the process
    /// that writes it (`hub digests send` next to a running `hub serve`).
    pub fn open_read_only(dir: &Path) -> anyhow::Result<Self> {
        Self::open_inner(dir, None)
    }

    /// Runs `f` with the writer (staging, committing, clearing).
    pub fn with_writer<T>(
        &self,
        f: impl FnOnce(&mut IndexWriter) -> Result<T, crate::error::AppError>,
    ) -> Result<T, crate::error::AppError> {
        let mut guard = self.writer.lock().map_err(|_| {
            crate::error::AppError::internal(anyhow::anyhow!(
                "the search index writer lock is poisoned"
            ))
        })?;
        let writer = guard.as_mut().ok_or_else(|| {
            crate::error::AppError::internal(anyhow::anyhow!(
                "this search index was opened read-only"
            ))
        })?;
        f(writer)
    }

    fn open_with(dir: &Path, size: WriterSize) -> anyhow::Result<Self> {
        Self::open_inner(dir, Some(size))
    }

    fn open_inner(dir: &Path, size: Option<WriterSize>) -> anyhow::Result<Self> {
        let index = Index::open_in_dir(dir).context("cannot open the search index")?;
        index.tokenizers().register(
            KEYWORD,
            TextAnalyzer::builder(RawTokenizer::default())
                .filter(LowerCaser)
                .build(),
        );
        let (_, fields) = schema();
        let payload = index.load_metas()?.payload;
        let partial = payload.as_deref() == Some(super::indexer::PARTIAL);
        let applied = payload.and_then(|p| p.parse::<i64>().ok()).unwrap_or(0);
        let writer = match size {
            Some(size) => Some(
                index
                    .writer_with_num_threads(size.threads(), size.memory_bytes())
                    .context("the search index is in use by another process")?,
            ),
            None => None,
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            applied: AtomicI64::new(applied),
            partial,
            recent: Mutex::new(std::collections::BTreeMap::new()),
        })
    }

    /// Stops the writer, waiting for background merges to finish.
    pub fn finish(self) {
        let writer = match self.writer.into_inner() {
            Ok(writer) => writer,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(Err(err)) = writer.map(IndexWriter::wait_merging_threads) {
            tracing::warn!(error = %err, "search index merges did not finish cleanly");
        }
    }

    pub fn applied(&self) -> i64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// Which of `keys` (as `documents::key` makes them) the last commit does
    /// not hold: the load run's check that every acknowledged write was
    /// indexed.
    pub fn missing<'k>(&self, keys: &'k [String]) -> anyhow::Result<Vec<&'k str>> {
        self.reader.reload()?;
        let searcher = self.reader.searcher();
        let mut missing = Vec::new();
        for key in keys {
            let query = tantivy::query::TermQuery::new(
                tantivy::Term::from_field_text(self.fields.key, key),
                tantivy::schema::IndexRecordOption::Basic,
            );
            if searcher.search(&query, &tantivy::collector::Count)? == 0 {
                missing.push(key.as_str());
            }
        }
        Ok(missing)
    }

    pub(crate) fn set_applied(&self, seq: i64) {
        self.applied.store(seq, Ordering::SeqCst);
    }
}
