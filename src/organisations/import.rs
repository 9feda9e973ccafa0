//! Importing organisations into the register from an NHS ODS CSV file.
//!
//! A file is checked as a whole when it is uploaded (size, encoding, columns,
//! number of rows) so that a wrong file is refused at once, with a message.
//! Every row is validated then too, so the rejected rows are known from the
//! start. The valid rows are upserted by ODS code in the background, in
//! batches: each batch commits with the import's progress, so progress can be
//! watched and an import interrupted by a crash resumes after its last batch.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{organisation_imports, organisations};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Unchanged,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::auth::domain;
use crate::error::AppError;
use crate::idempotency::{self, IdempotencyKey};

/// Larger than any ODS file: the full GP practice list is a few MiB.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
pub const MAX_ROWS: usize = 500_000;
pub const MAX_NAME_CHARS: usize = 300;
/// Rejected rows kept for the report. `rejected_count` counts them all; a
/// file with more than this many bad rows is almost certainly the wrong file,
/// and keeping every one would make the report unreadable and huge.
pub const MAX_REJECTED_LISTED: usize = 10_000;
/// Rows per transaction: big enough to be quick, small enough that progress
/// moves and that a transaction never holds SQLite's write lock for long.
const BATCH_ROWS: usize = 500;
/// A running import whose progress has not moved for this long has lost its
/// process (a crash or a restart) and may be taken over by another.
const STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);
/// How often the worker looks for abandoned imports.
const POLL: Duration = Duration::from_secs(15);
/// The Close Date column of the standard ODS layout (etr.csv, epraccur.csv, ...).
const ODS_CLOSE_DATE_COLUMN: usize = 11;
const SUBJECT: &str = "organisation_import";

/// What the admin may say the organisations in a file are. The kinds after
/// `trust` are those the register already uses.
pub const KINDS: &[(&str, &str)] = &[
    ("trust", "NHS trust"),
    ("icb", "Integrated care board"),
    ("gp", "GP practice"),
    ("acute", "Acute trust"),
    ("mental_health", "Mental health trust"),
    ("community", "Community health trust"),
    ("ambulance", "Ambulance trust"),
    ("supplier", "Supplier"),
    ("other", "Other"),
];
pub const DEFAULT_KIND: &str = "trust";

pub fn parse_kind(raw: &str) -> Option<&'static str> {
    let raw = raw.trim();
    KINDS
        .iter()
        .find(|(value, _)| value.eq_ignore_ascii_case(raw))
        .map(|(value, _)| *value)
}

pub fn kind_label(kind: &str) -> &str {
    KINDS
        .iter()
        .find(|(value, _)| *value == kind)
        .map_or(kind, |(_, label)| *label)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Running,
    Done,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Status {
        match raw {
            "running" => Status::Running,
            "done" => Status::Done,
            "failed" => Status::Failed,
            _ => Status::Pending,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "Waiting to start",
            Status::Running => "Importing",
            Status::Done => "Finished",
            Status::Failed => "Failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Status::Done | Status::Failed)
    }
}

/// Why a whole file was refused. The messages speak to the person uploading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    #[error("The file must be smaller than 20 MB")]
    TooLarge,
    #[error("The file must be a CSV file saved as UTF-8 text")]
    NotText,
    #[error("The file has no rows to import")]
    Empty,
    #[error("The file has more than 500,000 rows: split it into smaller files")]
    TooManyRows,
    #[error(
        "The header row must name an ODS code column (ods_code or Organisation Code) and a name column (name or Name)"
    )]
    MissingColumns,
    #[error("The file could not be read as CSV")]
    Unreadable,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub line: u64,
    pub ods_code: String,
    pub name: String,
    pub reason: String,
}

/// A valid row, ready to upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRow {
    pub ods_code: String,
    pub name: String,
    pub kind: &'static str,
    /// The ODS Close Date, as people read it.
    pub closed_on: Option<String>,
}

/// A whole file, validated: one entry per data row, in file order.
#[derive(Debug)]
pub struct Parsed {
    pub rows: Vec<Result<ValidRow, RejectedRow>>,
}

impl Parsed {
    pub fn rejected(&self) -> impl Iterator<Item = &RejectedRow> {
        self.rows.iter().filter_map(|r| r.as_ref().err())
    }
}

/// The report kept in the import's `rejected` column: the kind chosen on
/// upload (a resumed import needs it) and the rejected rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub kind: String,
    pub rows: Vec<RejectedRow>,
}

impl Report {
    pub fn of(import: &organisation_imports::Model) -> Report {
        import
            .rejected
            .clone()
            .and_then(|json| serde_json::from_value(json).ok())
            .unwrap_or_default()
    }
}

/// The text of an uploaded file, refused when too large or not UTF-8 text.
pub fn decode(bytes: &[u8]) -> Result<String, FileProblem> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(FileProblem::TooLarge);
    }
    // Spreadsheet programs save "CSV UTF-8" with a byte order mark.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| FileProblem::NotText)?;
    if text.contains('\0') {
        return Err(FileProblem::NotText);
    }
    Ok(text.to_owned())
}

/// Where the fields of a row are.
struct Columns {
    code: usize,
    name: usize,
    kind: Option<usize>,
    close_date: Option<usize>,
}

impl Columns {
    /// ODS downloads have no header row and a fixed layout.
    const ODS: Columns = Columns {
        code: 0,
        name: 1,
        kind: None,
        close_date: Some(ODS_CLOSE_DATE_COLUMN),
    };

    /// The columns a header row names; `None` when the row is not a header.
    fn from_header(record: &csv::StringRecord) -> Option<Result<Columns, FileProblem>> {
        let find = |names: &[&str]| {
            record
                .iter()
                .position(|cell| names.contains(&normalise_header(cell).as_str()))
        };
        let code = find(&["ods code", "organisation code", "organization code", "code"]);
        let name = find(&["name", "organisation name", "organization name"]);
        if code.is_none() && name.is_none() {
            return None;
        }
        Some(match (code, name) {
            (Some(code), Some(name)) => Ok(Columns {
                code,
                name,
                kind: find(&["kind"]),
                close_date: find(&["close date"]),
            }),
            _ => Err(FileProblem::MissingColumns),
        })
    }
}

fn normalise_header(cell: &str) -> String {
    cell.trim()
        .to_lowercase()
        .split(|c: char| c == '_' || c == '-' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads and validates every row. `default_kind` applies to rows that do not
/// name their own kind.
pub fn parse(text: &str, default_kind: &'static str) -> Result<Parsed, FileProblem> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let mut columns = Columns::ODS;
    let mut pending_first = None;
    if let Some(first) = records.next() {
        let first = first.map_err(|_| FileProblem::Unreadable)?;
        match Columns::from_header(&first) {
            Some(found) => columns = found?,
            None => pending_first = Some(first),
        }
    }
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut rows = Vec::new();
    for record in pending_first.into_iter().map(Ok).chain(records) {
        let record = record.map_err(|_| FileProblem::Unreadable)?;
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(FileProblem::TooManyRows);
        }
        let line = record.position().map_or(0, csv::Position::line);
        rows.push(validate(&record, line, &columns, default_kind, &mut seen));
    }
    if rows.is_empty() {
        return Err(FileProblem::Empty);
    }
    Ok(Parsed { rows })
}

fn validate(
    record: &csv::StringRecord,
    line: u64,
    columns: &Columns,
    default_kind: &'static str,
    seen: &mut HashMap<String, u64>,
) -> Result<ValidRow, RejectedRow> {
    let cell = |index: usize| record.get(index).unwrap_or("").trim();
    let raw_code = cell(columns.code);
    let raw_name = cell(columns.name);
    let reject = |reason: String| RejectedRow {
        line,
        ods_code: raw_code.chars().take(20).collect(),
        name: raw_name.chars().take(MAX_NAME_CHARS).collect(),
        reason,
    };
    let ods_code = match domain::ods_code(raw_code) {
        Ok(Some(code)) => code,
        Ok(None) => return Err(reject("The ODS code is missing".into())),
        Err(message) => return Err(reject(message.into())),
    };
    if raw_name.is_empty() {
        return Err(reject("The name is missing".into()));
    }
    if raw_name.chars().count() > MAX_NAME_CHARS {
        return Err(reject(format!(
            "The name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if raw_name.chars().any(char::is_control) {
        return Err(reject("The name contains control characters".into()));
    }
    let kind = match columns.kind.map(cell).filter(|k| !k.is_empty()) {
        None => default_kind,
        Some(raw) => match parse_kind(raw) {
            Some(kind) => kind,
            None => {
                let known: Vec<&str> = KINDS.iter().map(|(value, _)| *value).collect();
                return Err(reject(format!(
                    "The kind must be one of: {}",
                    known.join(", ")
                )));
            }
        },
    };
    if let Some(first) = seen.get(&ods_code) {
        return Err(reject(format!(
            "ODS code {ods_code} is also on line {first}: only the first is imported"
        )));
    }
    seen.insert(ods_code.clone(), line);
    let closed_on = columns
        .close_date
        .map(cell)
        .filter(|d| !d.is_empty())
        .map(readable_date);
    Ok(ValidRow {
        ods_code,
        name: raw_name.to_owned(),
        kind,
        closed_on,
    })
}

/// ODS dates are `YYYYMMDD`; anything else is kept as it was written.
fn readable_date(raw: &str) -> String {
    NaiveDate::parse_from_str(raw, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .map(|d| d.format("%-d %B %Y").to_string())
        .unwrap_or_else(|_| raw.chars().filter(|c| !c.is_control()).take(30).collect())
}

const CLOSED_PREFIX: &str = "Closed ";
const CLOSED_SUFFIX: &str = " (NHS ODS)";

fn is_closure_note(part: &str) -> bool {
    part.starts_with(CLOSED_PREFIX) && part.ends_with(CLOSED_SUFFIX)
}

/// The note after an import: whatever an admin or the seed wrote is kept,
/// and the import owns one "Closed ... (NHS ODS)" part, which it adds, changes
/// or removes. Running the same import twice gives the same note.
fn merge_note(existing: Option<&str>, closed_on: Option<&str>) -> Option<String> {
    let mut parts: Vec<String> = existing
        .unwrap_or("")
        .split("; ")
        .filter(|p| !p.is_empty() && !is_closure_note(p))
        .map(str::to_owned)
        .collect();
    if let Some(date) = closed_on {
        parts.push(format!("{CLOSED_PREFIX}{date}{CLOSED_SUFFIX}"));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A file name fit to show: no path, no control characters, bounded.
pub fn clean_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "upload.csv".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Decodes, reads and validates an uploaded file. Reading 20 MB of CSV takes
/// a while, so it runs off the async worker threads.
pub async fn prepare(
    bytes: &[u8],
    default_kind: &'static str,
) -> Result<(String, Parsed), FileProblem> {
    let text = decode(bytes)?;
    parse_off_thread(text, default_kind).await
}

async fn parse_off_thread(
    text: String,
    default_kind: &'static str,
) -> Result<(String, Parsed), FileProblem> {
    tokio::task::spawn_blocking(move || parse(&text, default_kind).map(|parsed| (text, parsed)))
        .await
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "reading an organisation import file failed");
            Err(FileProblem::Unreadable)
        })
}

/// Accepts an upload: records the import and starts it in the background.
/// A file that cannot be imported at all is refused with the reason. With an
/// idempotency key, a retried upload answers with the import the first
/// one started.
pub async fn accept(
    db: &DatabaseConnection,
    created_by: Uuid,
    file_name: &str,
    kind: &'static str,
    bytes: &[u8],
    key: Option<&IdempotencyKey>,
) -> Result<Result<organisation_imports::Model, FileProblem>, AppError> {
    if let Some(earlier) = replayed(db, created_by, key).await? {
        return Ok(Ok(earlier));
    }
    let (source, parsed) = match prepare(bytes, kind).await {
        Ok(prepared) => prepared,
        Err(problem) => return Ok(Err(problem)),
    };
    let new = NewImport {
        created_by: Some(created_by),
        file_name,
        kind,
        source,
    };
    match create(db, new, &parsed, Start::Queued, key).await {
        Ok(import) => {
            spawn(db.clone(), import.id);
            Ok(Ok(import))
        }
        // A concurrent retry with the same key may have won the race.
        Err(err) => match replayed(db, created_by, key).await? {
            Some(earlier) => Ok(Ok(earlier)),
            None => Err(err.into()),
        },
    }
}

async fn replayed(
    db: &DatabaseConnection,
    user: Uuid,
    key: Option<&IdempotencyKey>,
) -> Result<Option<organisation_imports::Model>, AppError> {
    let Some(key) = key else { return Ok(None) };
    match idempotency::replay(db, user, key).await? {
        Some(id) => Ok(find(db, id).await?),
        None => Ok(None),
    }
}

/// What an idempotency key of an upload stands for: the file by its digest
/// (not 20 MB of it) and the choices made with it.
pub fn upload_fingerprint(file_name: &str, kind: &str, bytes: &[u8]) -> impl Serialize {
    let digest: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (file_name.to_owned(), kind.to_owned(), digest)
}

/// Timestamps written by an import are also its claim on the work (see
/// `claim` and `still_ours`), so they must read back exactly as written.
fn now() -> DateTime<Utc> {
    crate::db::now()
}

/// Whether the import starts at once in this process (the command line) or
/// waits to be claimed (uploads, which a background task then claims).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Queued,
    Now,
}

pub struct NewImport<'a> {
    pub created_by: Option<Uuid>,
    pub file_name: &'a str,
    pub kind: &'static str,
    pub source: String,
}

/// Records a new import of an already parsed file, with its audit event
/// (and the idempotency key that asked for it, if any).
#[tracing::instrument(skip_all, fields(file_name = new.file_name))]
pub async fn create(
    db: &DatabaseConnection,
    new: NewImport<'_>,
    parsed: &Parsed,
    start: Start,
    key: Option<&IdempotencyKey>,
) -> Result<organisation_imports::Model, DbErr> {
    let rejected_count = parsed.rejected().count();
    let report = Report {
        kind: new.kind.to_owned(),
        rows: parsed
            .rejected()
            .take(MAX_REJECTED_LISTED)
            .cloned()
            .collect(),
    };
    let report = serde_json::to_value(&report).map_err(|e| DbErr::Custom(e.to_string()))?;
    let stamp = now();
    let status = match start {
        Start::Queued => Status::Pending,
        Start::Now => Status::Running,
    };
    let txn = crate::db::begin_write(db).await?;
    let import = organisation_imports::ActiveModel {
        id: Set(Uuid::now_v7()),
        created_by: Set(new.created_by),
        file_name: Set(clean_file_name(new.file_name)),
        source: Set(new.source),
        status: Set(status.as_str().to_owned()),
        total_rows: Set(count(parsed.rows.len())),
        processed_rows: Set(0),
        created_count: Set(0),
        updated_count: Set(0),
        rejected_count: Set(count(rejected_count)),
        rejected: Set(Some(report)),
        error: Set(None),
        created_at: Set(stamp),
        updated_at: Set(stamp),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: new.created_by,
            action: "organisation_import.started",
            subject_type: SUBJECT,
            subject_id: Some(import.id),
            before: None,
            after: Some(serde_json::json!({
                "file_name": import.file_name,
                "kind": new.kind,
                "total_rows": import.total_rows,
                "rejected_count": import.rejected_count,
            })),
        },
    )
    .await?;
    if let (Some(key), Some(user)) = (key, new.created_by) {
        idempotency::remember(&txn, user, key, import.id).await?;
    }
    txn.commit().await?;
    Ok(import)
}

/// Row counts fit i32 because files are limited to `MAX_ROWS`.
fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub async fn find(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<organisation_imports::Model>, DbErr> {
    organisation_imports::Entity::find_by_id(id).one(conn).await
}

pub async fn recent(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<organisation_imports::Model>, DbErr> {
    organisation_imports::Entity::find()
        .order_by_desc(organisation_imports::Column::CreatedAt)
        .order_by_desc(organisation_imports::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// Takes the import for this process: a queued one, or a running one whose
/// process stopped moving. Exactly one of several competing processes wins.
/// Returns the claimed import.
async fn claim(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<organisation_imports::Model>, DbErr> {
    let stamp = now();
    let txn = crate::db::begin_write(db).await?;
    let claimed = organisation_imports::Entity::update_many()
        .col_expr(
            organisation_imports::Column::Status,
            Expr::value(Status::Running.as_str()),
        )
        .col_expr(organisation_imports::Column::UpdatedAt, Expr::value(stamp))
        .filter(organisation_imports::Column::Id.eq(id))
        .filter(claimable(stamp))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    if claimed.rows_affected != 1 {
        return Ok(None);
    }
    find(db, id).await
}

fn claimable(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(organisation_imports::Column::Status.eq(Status::Pending.as_str()))
        .add(
            Condition::all()
                .add(organisation_imports::Column::Status.eq(Status::Running.as_str()))
                .add(organisation_imports::Column::UpdatedAt.lt(now - STALE_AFTER)),
        )
}

/// Runs an import to the end and returns it finished; `None` when another
/// process has it. Calls `on_progress` after every batch.
///
/// A database that cannot be reached leaves the import running, to be
/// resumed when it is abandoned; any other failure marks it failed.
pub async fn run(
    db: &DatabaseConnection,
    id: Uuid,
    mut on_progress: impl FnMut(&organisation_imports::Model) + Send,
) -> Result<Option<organisation_imports::Model>, DbErr> {
    let Some(import) = claim(db, id).await? else {
        return Ok(None);
    };
    run_claimed(db, import, &mut on_progress).await
}

/// Like `run`, for an import created with `Start::Now` by this process.
pub async fn run_started(
    db: &DatabaseConnection,
    import: organisation_imports::Model,
    mut on_progress: impl FnMut(&organisation_imports::Model) + Send,
) -> Result<Option<organisation_imports::Model>, DbErr> {
    run_claimed(db, import, &mut on_progress).await
}

async fn run_claimed(
    db: &DatabaseConnection,
    import: organisation_imports::Model,
    on_progress: &mut (impl FnMut(&organisation_imports::Model) + Send),
) -> Result<Option<organisation_imports::Model>, DbErr> {
    let id = import.id;
    match process(db, import, on_progress).await {
        Ok(outcome) => Ok(outcome),
        Err(err) if crate::error::is_unreachable(&err) => Err(err),
        Err(err) => {
            tracing::error!(import_id = %id, error = %err, "organisation import failed");
            finish(
                db,
                id,
                None,
                Err("The import stopped because of a problem on our side. Upload the file again to retry."),
            )
            .await
        }
    }
}

async fn process(
    db: &DatabaseConnection,
    mut import: organisation_imports::Model,
    on_progress: &mut (impl FnMut(&organisation_imports::Model) + Send),
) -> Result<Option<organisation_imports::Model>, DbErr> {
    let report = Report::of(&import);
    let kind = parse_kind(&report.kind).unwrap_or(DEFAULT_KIND);
    // Progress reports need only the counts: the file moves to the parser.
    let source = std::mem::take(&mut import.source);
    let parsed = match parse_off_thread(source, kind).await {
        Ok((_, parsed)) => parsed,
        // The file was checked on upload, so this is a stored file that no
        // longer reads: say so rather than import part of it.
        Err(problem) => {
            let message = format!("The stored file could not be read again: {problem}");
            return finish(db, import.id, Some(import.updated_at), Err(&message)).await;
        }
    };
    on_progress(&import);
    // Resume after the last committed batch: its rows and counts are in.
    let done = usize::try_from(import.processed_rows).unwrap_or(0);
    for batch in parsed
        .rows
        .get(done..)
        .unwrap_or_default()
        .chunks(BATCH_ROWS)
    {
        let valid: Vec<&ValidRow> = batch.iter().filter_map(|r| r.as_ref().ok()).collect();
        let txn = crate::db::begin_write(db).await?;
        let (created, updated) = upsert(&txn, &valid).await?;
        let stamp = now();
        let recorded = organisation_imports::Entity::update_many()
            .col_expr(
                organisation_imports::Column::ProcessedRows,
                Expr::value(import.processed_rows + count(batch.len())),
            )
            .col_expr(
                organisation_imports::Column::CreatedCount,
                Expr::value(import.created_count + created),
            )
            .col_expr(
                organisation_imports::Column::UpdatedCount,
                Expr::value(import.updated_count + updated),
            )
            .col_expr(organisation_imports::Column::UpdatedAt, Expr::value(stamp))
            .filter(still_ours(import.id, import.updated_at))
            .exec(&txn)
            .await?;
        if recorded.rows_affected != 1 {
            // Another process took the import over (this one stalled past
            // STALE_AFTER); dropping the transaction undoes this batch.
            tracing::warn!(import_id = %import.id, "organisation import taken over by another process");
            return Ok(None);
        }
        txn.commit().await?;
        import.processed_rows += count(batch.len());
        import.created_count += created;
        import.updated_count += updated;
        import.updated_at = stamp;
        on_progress(&import);
    }
    finish(db, import.id, Some(import.updated_at), Ok(())).await
}

/// The import is still this process's: it is running and nobody has written
/// to it since this process last did.
fn still_ours(id: Uuid, last_written: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(organisation_imports::Column::Id.eq(id))
        .add(organisation_imports::Column::Status.eq(Status::Running.as_str()))
        .add(organisation_imports::Column::UpdatedAt.eq(last_written))
}

/// Marks the import done, or failed with `Err(message)` (which people see, so
/// it must say nothing of internals), with the closing audit event.
/// `last_written` is this process's claim, when it still holds one.
async fn finish(
    db: &DatabaseConnection,
    id: Uuid,
    last_written: Option<DateTime<Utc>>,
    outcome: Result<(), &str>,
) -> Result<Option<organisation_imports::Model>, DbErr> {
    let status = match outcome {
        Ok(()) => Status::Done,
        Err(_) => Status::Failed,
    };
    let claim = match last_written {
        Some(stamp) => still_ours(id, stamp),
        None => Condition::all()
            .add(organisation_imports::Column::Id.eq(id))
            .add(organisation_imports::Column::Status.eq(Status::Running.as_str())),
    };
    let txn = crate::db::begin_write(db).await?;
    let finished = organisation_imports::Entity::update_many()
        .col_expr(
            organisation_imports::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(
            organisation_imports::Column::Error,
            Expr::value(outcome.err().map(str::to_owned)),
        )
        .col_expr(organisation_imports::Column::UpdatedAt, Expr::value(now()))
        .filter(claim)
        .exec(&txn)
        .await?;
    if finished.rows_affected != 1 {
        return Ok(None);
    }
    let Some(import) = find(&txn, id).await? else {
        return Ok(None);
    };
    audit::record(
        &txn,
        AuditEvent {
            actor: import.created_by,
            action: "organisation_import.finished",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: None,
            after: Some(serde_json::json!({
                "status": import.status,
                "total_rows": import.total_rows,
                "created_count": import.created_count,
                "updated_count": import.updated_count,
                "rejected_count": import.rejected_count,
                "error": import.error,
            })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Some(import))
}

/// Creates the organisations that are new and updates those that changed;
/// returns how many of each.
async fn upsert(txn: &impl ConnectionTrait, rows: &[&ValidRow]) -> Result<(i32, i32), DbErr> {
    if rows.is_empty() {
        return Ok((0, 0));
    }
    let existing: HashMap<String, organisations::Model> = organisations::Entity::find()
        .filter(organisations::Column::OdsCode.is_in(rows.iter().map(|r| r.ods_code.as_str())))
        .all(txn)
        .await?
        .into_iter()
        .filter_map(|org| org.ods_code.clone().map(|code| (code, org)))
        .collect();
    let stamp = Utc::now();
    let mut created = Vec::new();
    let mut updated = 0;
    for row in rows {
        match existing.get(&row.ods_code) {
            Some(org) => {
                // ODS names are in capitals: a register entry already
                // written in mixed case is kept rather than shouted.
                let name = if org.name.to_lowercase() == row.name.to_lowercase() {
                    org.name.clone()
                } else {
                    row.name.clone()
                };
                let note = merge_note(org.note.as_deref(), row.closed_on.as_deref());
                if name == org.name && row.kind == org.kind && note == org.note {
                    continue;
                }
                organisations::Entity::update(organisations::ActiveModel {
                    id: Unchanged(org.id),
                    name: Set(name),
                    kind: Set(row.kind.to_owned()),
                    note: Set(note),
                    updated_at: Set(stamp),
                    ..Default::default()
                })
                .exec(txn)
                .await?;
                updated += 1;
            }
            None => created.push(organisations::ActiveModel {
                id: Set(Uuid::now_v7()),
                name: Set(row.name.clone()),
                kind: Set(row.kind.to_owned()),
                ods_code: Set(Some(row.ods_code.clone())),
                note: Set(merge_note(None, row.closed_on.as_deref())),
                created_at: Set(stamp),
                updated_at: Set(stamp),
            }),
        }
    }
    let created_count = count(created.len());
    if !created.is_empty() {
        organisations::Entity::insert_many(created)
            .exec_without_returning(txn)
            .await?;
    }
    Ok((created_count, updated))
}

/// Runs an upload's import in the background; errors are logged here.
pub fn spawn(db: DatabaseConnection, id: Uuid) {
    tokio::spawn(async move {
        if let Err(err) = run(&db, id, |_| {}).await {
            tracing::warn!(import_id = %id, error = %err, "organisation import paused by a database error; the worker resumes it later");
        }
    });
}

/// Resumes imports that a stopped process left behind (at start-up, then
/// every so often), until `shutdown`.
pub async fn worker(db: DatabaseConnection, mut shutdown: watch::Receiver<bool>) {
    loop {
        let resumed = async {
            for id in abandoned(&db).await? {
                tracing::info!(import_id = %id, "resuming an interrupted organisation import");
                run(&db, id, |_| {}).await?;
            }
            Ok::<_, DbErr>(())
        };
        // Stopping mid-batch is safe: the open transaction rolls back and
        // the import resumes after its last committed batch.
        tokio::select! {
            outcome = resumed => {
                if let Err(err) = outcome {
                    tracing::warn!(error = %err, "organisation import worker could not reach the database");
                }
            }
            _ = shutdown.changed() => break,
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep(POLL) => {}
        }
        if *shutdown.borrow() {
            break;
        }
    }
}

async fn abandoned(db: &DatabaseConnection) -> Result<Vec<Uuid>, DbErr> {
    organisation_imports::Entity::find()
        .select_only()
        .column(organisation_imports::Column::Id)
        .filter(claimable(now()))
        .order_by_asc(organisation_imports::Column::CreatedAt)
        .into_tuple()
        .all(db)
        .await
}

/// A rejected-rows report as CSV. Cells that a spreadsheet would run as a
/// formula are prefixed with `'`, so opening the report cannot run anything
/// an uploaded file smuggled in.
pub fn rejected_csv(rows: &[RejectedRow]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["line", "ods_code", "name", "reason"])?;
    for row in rows {
        writer.write_record([
            row.line.to_string(),
            crate::text::defuse_csv_cell(&row.ods_code),
            crate::text::defuse_csv_cell(&row.name),
            crate::text::defuse_csv_cell(&row.reason),
        ])?;
    }
    writer
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_file_is_read_row_by_row_each_row_accepted_or_refused_with_a_reason() {
        let mut hostile = crate::hostile::Hostile::new(99);
        let mut accepted = 0;
        for case in 0..1_500 {
            let mut file = String::from("Organisation Code,Name,Postcode,Open Date,Close Date\n");
            for row in 0..(case % 7) {
                let mut cells: Vec<String> = (0..5).map(|_| hostile.text(3)).collect();
                // Half the rows have a well-formed code, so that names get through.
                if row % 2 == 0 {
                    cells[0] = format!("R{}{}", (b'A' + (case % 26) as u8) as char, row);
                }
                file.push_str(&cells.join(","));
                file.push('\n');
            }
            let Ok(text) = decode(file.as_bytes()) else {
                continue;
            };
            if let Ok(parsed) = parse(&text, DEFAULT_KIND) {
                for row in &parsed.rows {
                    match row {
                        Ok(valid) => {
                            accepted += 1;
                            assert!(!valid.ods_code.is_empty() && !valid.name.is_empty());
                        }
                        Err(rejected) => assert!(
                            !rejected.reason.is_empty(),
                            "case {case}: a refused row says why ({file:?})"
                        ),
                    }
                }
            }
        }
        assert!(
            accepted > 100,
            "only {accepted} rows were accepted: the test reads too little"
        );
    }

    fn rows(text: &str) -> Vec<Result<ValidRow, RejectedRow>> {
        parse(text, DEFAULT_KIND).expect("parses").rows
    }

    #[test]
    fn ods_downloads_without_a_header_use_the_standard_layout() {
        let parsed = rows(
            "\"RTH\",\"OXFORD UNIVERSITY HOSPITALS NHS FOUNDATION TRUST\",\"Y61\",\"QU9\",\"HEADLEY WAY\",\"\",\"OXFORD\",\"\",\"\",\"OX3 9DU\",\"20010401\",\"\",\"\"\n\
             \"RQ6\",\"ROYAL LIVERPOOL AND BROADGREEN\",\"Y62\",\"QYG\",\"PRESCOT STREET\",\"\",\"LIVERPOOL\",\"\",\"\",\"L7 8XP\",\"19940401\",\"20190930\",\"\"\n",
        );
        let first = parsed[0].as_ref().expect("valid");
        assert_eq!(first.ods_code, "RTH");
        assert_eq!(first.kind, "trust");
        assert_eq!(first.closed_on, None);
        let closed = parsed[1].as_ref().expect("valid");
        assert_eq!(closed.closed_on.as_deref(), Some("30 September 2019"));
    }

    #[test]
    fn a_header_row_names_the_columns_in_any_order() {
        let parsed = rows("Name,Kind,ods_code\nWest Suffolk,acute,rgr\nSomewhere ICB,,QJG\n");
        assert_eq!(
            parsed[0],
            Ok(ValidRow {
                ods_code: "RGR".into(),
                name: "West Suffolk".into(),
                kind: "acute",
                closed_on: None
            })
        );
        assert_eq!(parsed[1].as_ref().map(|r| r.kind), Ok("trust"));
    }

    #[test]
    fn bad_rows_are_rejected_with_their_line_and_reason() {
        let long = "x".repeat(301);
        let text = format!(
            "ods_code,name,kind\nRTH,Oxford,\nR-1,Bad code,\n,No code,\nRAL,,\nRBA,{long},\nRTH,Oxford again,\nRGR,West Suffolk,castle\n"
        );
        let parsed = rows(&text);
        let reasons: Vec<(u64, &str)> = parsed
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 6);
        assert_eq!(reasons[0].0, 3);
        assert!(reasons[0].1.contains("3 to 10 letters"));
        assert_eq!(reasons[1], (4, "The ODS code is missing"));
        assert_eq!(reasons[2], (5, "The name is missing"));
        assert!(reasons[3].1.contains("longer than 300"));
        assert_eq!(
            reasons[4],
            (
                7,
                "ODS code RTH is also on line 2: only the first is imported"
            )
        );
        assert!(reasons[5].1.starts_with("The kind must be one of"));
    }

    #[test]
    fn whole_files_are_refused_with_a_reason() {
        assert_eq!(
            decode(&vec![b'a'; MAX_FILE_BYTES + 1]),
            Err(FileProblem::TooLarge)
        );
        assert_eq!(decode(b"RTH,\xff\xfe"), Err(FileProblem::NotText));
        assert_eq!(
            decode(b"\xEF\xBB\xBFRTH,Oxford").as_deref(),
            Ok("RTH,Oxford")
        );
        assert_eq!(parse("", DEFAULT_KIND).err(), Some(FileProblem::Empty));
        assert_eq!(
            parse("ods_code,name\n\n", DEFAULT_KIND).err(),
            Some(FileProblem::Empty)
        );
        assert_eq!(
            parse("ods_code,title\nRTH,Oxford\n", DEFAULT_KIND).err(),
            Some(FileProblem::MissingColumns)
        );
        let many = "RTH,Oxford\n".repeat(MAX_ROWS + 1);
        assert_eq!(
            parse(&many, DEFAULT_KIND).err(),
            Some(FileProblem::TooManyRows)
        );
    }

    #[test]
    fn the_import_owns_only_its_closure_note() {
        let seeded = "global digital exemplar (2016 list)";
        assert_eq!(merge_note(Some(seeded), None).as_deref(), Some(seeded));
        let closed = merge_note(Some(seeded), Some("30 September 2019"));
        assert_eq!(
            closed.as_deref(),
            Some("global digital exemplar (2016 list); Closed 30 September 2019 (NHS ODS)")
        );
        assert_eq!(
            merge_note(closed.as_deref(), Some("30 September 2019")),
            closed
        );
        assert_eq!(merge_note(closed.as_deref(), None).as_deref(), Some(seeded));
        assert_eq!(merge_note(None, None), None);
    }

    #[test]
    fn formulas_in_the_rejected_report_are_neutralised() {
        let csv = rejected_csv(&[RejectedRow {
            line: 2,
            ods_code: "=HYPERLINK(\"x\")".into(),
            name: "@SUM(A1)".into(),
            reason: "The ODS code must be 3 to 10 letters and numbers, like RTH".into(),
        }])
        .expect("csv");
        let text = String::from_utf8(csv).expect("utf8");
        assert!(text.contains("\"'=HYPERLINK(\"\"x\"\")\""), "{text}");
        assert!(text.contains(",'@SUM(A1),"), "{text}");
    }

    #[test]
    fn file_names_lose_their_path_and_control_characters() {
        assert_eq!(clean_file_name("C:\\Users\\me\\etr.csv"), "etr.csv");
        assert_eq!(clean_file_name("../../etc/x\n.csv"), "x.csv");
        assert_eq!(clean_file_name(""), "upload.csv");
    }

    #[test]
    fn kinds_are_recognised_in_any_case() {
        assert_eq!(parse_kind(" ICB "), Some("icb"));
        assert_eq!(parse_kind("castle"), None);
        assert_eq!(kind_label("gp"), "GP practice");
    }
}
