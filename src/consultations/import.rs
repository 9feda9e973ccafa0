//! Importing responses collected elsewhere (a form, an email inbox, post)
//! from CSV. Every row is checked first; good rows are imported, bad rows
//! change nothing and are reported with their reasons. Importing the same
//! file again imports nothing twice: a respondent's email address (or, without
//! one, their name) identifies their response within a consultation.
//!
//! Columns (the header row names them; order does not matter):
//! - `respondent_name` (required), `respondent_email` (optional)
//! - `respondent_type`: nhs_staff, supplier, expert, patient_or_public or other
//! - `capacity`: individual (the default) or organisation; `organisation`
//! - `interests_declared`: yes or no (default no); `products_affected`, `commercial_interest`
//! - `consent`: named, anonymous or private (required)
//! - `submitted_at`: an RFC 3339 time or a date (default: the time of import)
//! - `q1`, `q2`, ...: the answer to question 1, 2, ... (choices by their text,
//!   several separated by `;`; the agreement scale as 1 to 5 or its words)
//! - `section:ANCHOR`: a comment on that section of the current version

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{consultation_responses, users};
use poem_openapi::Object;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, Set,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::authoring::ConsultationView;
use super::domain::{AGREEMENT, Capacity, Consent, Phase, QuestionKind};
use super::responding::{self, ResponseInput};
use crate::audit::{self, AuditEvent};
use crate::auth::domain::{EmailAddress, RespondentType};
use crate::error::{AppError, FieldError};
use crate::text::TextField;

pub const MAX_ROWS: usize = 50_000;
/// Ample for 50,000 rows of long answers sent in one request.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
const ALREADY_IMPORTED: &str =
    "This respondent's response is already imported (same email address, or same name without one)";
/// Rows per transaction, so that progress moves and locks stay short.
const BATCH: usize = 200;

#[derive(Debug, Clone, Serialize, Object)]
pub struct RejectedResponseRow {
    /// The line in the file (the header is line 1).
    pub line: u64,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct ImportReport {
    pub rows: u64,
    pub imported: u64,
    pub rejected: Vec<RejectedResponseRow>,
}

/// A checked row, ready to store.
struct Row {
    name: String,
    email: Option<String>,
    respondent_type: &'static str,
    submitted_at: DateTime<Utc>,
    input: ResponseInput,
    comments: Vec<(String, String, String)>,
}

enum Column {
    Field(&'static str),
    Question(usize),
    Section(String),
}

const FIELDS: &[&str] = &[
    "respondent_name",
    "respondent_email",
    "respondent_type",
    "capacity",
    "organisation",
    "interests_declared",
    "products_affected",
    "commercial_interest",
    "consent",
    "submitted_at",
];

fn columns(headers: &csv::StringRecord, view: &ConsultationView) -> Result<Vec<Column>, AppError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for header in headers.iter() {
        let name = header.trim().trim_start_matches('\u{feff}').to_lowercase();
        if let Some(field) = FIELDS.iter().find(|f| **f == name) {
            out.push(Column::Field(field));
        } else if let Some(n) = name.strip_prefix('q').and_then(|n| n.parse::<usize>().ok()) {
            if n == 0 || n > view.questions.len() {
                problems.push(format!("Column {header}: there is no question {n}"));
            }
            out.push(Column::Question(n));
        } else if let Some(anchor) = name.strip_prefix("section:") {
            if view.section(anchor).is_none() {
                problems.push(format!("Column {header}: there is no section with the anchor {anchor} in the current version"));
            }
            out.push(Column::Section(anchor.to_owned()));
        } else {
            problems.push(format!(
                "Column {header} is not one this import understands"
            ));
        }
    }
    for required in ["respondent_name", "respondent_type", "consent"] {
        if !out
            .iter()
            .any(|c| matches!(c, Column::Field(f) if *f == required))
        {
            problems.push(format!("The column {required} is missing"));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(AppError::Validation(
            problems
                .into_iter()
                .map(|p| FieldError::new("file", p))
                .collect(),
        ))
    }
}

fn check_row<'r>(
    view: &ConsultationView,
    cols: &[Column],
    record: &'r csv::StringRecord,
    now: DateTime<Utc>,
) -> Result<Row, Vec<String>> {
    let mut fields: HashMap<&'static str, &'r str> = HashMap::new();
    let mut answers: HashMap<Uuid, Vec<String>> = HashMap::new();
    let mut comments = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for (col, value) in cols.iter().zip(record.iter()) {
        let value = value.trim();
        match col {
            Column::Field(f) => {
                fields.insert(f, value);
            }
            Column::Question(n) => {
                let Some(q) = view.questions.get(n - 1) else {
                    continue;
                };
                if value.is_empty() {
                    continue;
                }
                let values: Vec<String> = match q.kind {
                    QuestionKind::MultiChoice => {
                        value.split(';').map(|v| v.trim().to_owned()).collect()
                    }
                    QuestionKind::AgreementScale => {
                        let level = AGREEMENT
                            .iter()
                            .position(|a| a.eq_ignore_ascii_case(value))
                            .map(|i| (i + 1).to_string())
                            .unwrap_or_else(|| value.to_owned());
                        vec![level]
                    }
                    _ => vec![value.to_owned()],
                };
                answers.insert(q.model.id, values);
            }
            Column::Section(anchor) => {
                if value.is_empty() {
                    continue;
                }
                let Some(section) = view.section(anchor) else {
                    continue;
                };
                let field = TextField {
                    name: "comment",
                    ..super::domain::SECTION_COMMENT
                };
                if let Some(body) = field.check(value, &mut errors) {
                    comments.push((anchor.clone(), section.title.clone(), body));
                }
            }
        }
    }
    fn field<'r>(fields: &HashMap<&'static str, &'r str>, name: &str) -> &'r str {
        fields.get(name).copied().unwrap_or("")
    }
    let get = |name: &str| -> &'r str { field(&fields, name) };
    let name = TextField {
        name: "respondent_name",
        label: "respondent_name",
        max_chars: 200,
        multiline: false,
        required: Some("respondent_name is empty"),
    }
    .check(get("respondent_name"), &mut errors);
    let email = match get("respondent_email") {
        "" => None,
        raw => match EmailAddress::parse(raw) {
            Ok(e) => Some(e.as_str().to_owned()),
            Err(message) => {
                errors.push(FieldError::new("respondent_email", message));
                None
            }
        },
    };
    let respondent_type = RespondentType::parse(get("respondent_type")).map(RespondentType::as_str);
    if respondent_type.is_none() {
        errors.push(FieldError::new(
            "respondent_type",
            "respondent_type must be nhs_staff, supplier, expert, patient_or_public or other",
        ));
    } else if !view.audience.admits(respondent_type) {
        errors.push(FieldError::new(
            "respondent_type",
            format!(
                "This consultation is for {}",
                view.audience.label().to_lowercase()
            ),
        ));
    }
    let submitted_at = match get("submitted_at") {
        "" => Some(now),
        raw => raw
            .parse::<DateTime<Utc>>()
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|d| d.and_utc())
            })
            .filter(|t| *t <= now),
    };
    if submitted_at.is_none() {
        errors.push(FieldError::new("submitted_at", "submitted_at must be a past time such as 2026-11-02T10:00:00Z or a date such as 2026-11-02"));
    }
    let capacity: String = match get("capacity") {
        "" => Capacity::Individual.as_str().to_owned(),
        raw => Capacity::parse(raw).map_or_else(|| raw.to_owned(), |c| c.as_str().to_owned()),
    };
    let interests = match get("interests_declared").to_lowercase().as_str() {
        "" | "no" => "no".to_owned(),
        other => other.to_owned(),
    };
    let input = ResponseInput {
        capacity,
        organisation_name: get("organisation").to_owned(),
        interests,
        products_affected: get("products_affected").to_owned(),
        commercial_interest: get("commercial_interest").to_owned(),
        consent: get("consent").to_owned(),
        answers,
    };
    // The same checks as a response made on the site.
    let about_and_answers = responding::check_import(
        view,
        &input,
        respondent_type.unwrap_or("other"),
        !comments.is_empty(),
    );
    if let Err(more) = about_and_answers {
        errors.extend(more);
    }
    if Consent::parse(get("consent")).is_none() && !errors.iter().any(|e| e.field == "consent") {
        errors.push(FieldError::new(
            "consent",
            "consent must be named, anonymous or private",
        ));
    }
    match (name, respondent_type, submitted_at) {
        (Some(name), Some(respondent_type), Some(submitted_at)) if errors.is_empty() => Ok(Row {
            name,
            email,
            respondent_type,
            submitted_at,
            input,
            comments,
        }),
        _ => Err(errors.into_iter().map(|e| e.message).collect()),
    }
}

/// Reads and checks the whole file, then imports the good rows in batches,
/// calling `progress(done, total)` after each.
/// `actor` is the board member importing (None from the command line).
pub async fn import(
    db: &DatabaseConnection,
    actor: Option<&users::Model>,
    view: &ConsultationView,
    csv_text: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<ImportReport, AppError> {
    if matches!(view.phase, Phase::Draft | Phase::OutcomePublished) {
        return Err(AppError::Conflict(
            "Responses can be imported once the consultation is published and until its outcome is"
                .to_owned(),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(csv_text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            AppError::Validation(vec![FieldError::new(
                "file",
                format!("The file is not CSV: {e}"),
            )])
        })?
        .clone();
    let cols = columns(&headers, view)?;
    let now = Utc::now();
    let mut rejected = Vec::new();
    let mut good: Vec<(u64, Row)> = Vec::new();
    let existing: Vec<consultation_responses::Model> = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(view.consultation.id))
        .filter(consultation_responses::Column::Source.eq("import"))
        .all(db)
        .await?;
    let mut seen: HashSet<String> = existing.iter().map(identity_of_model).collect();
    let mut rows = 0u64;
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        rows += 1;
        if rows as usize > MAX_ROWS {
            return Err(AppError::Validation(vec![FieldError::new(
                "file",
                format!("The file has more than {MAX_ROWS} rows: split it"),
            )]));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                rejected.push(RejectedResponseRow {
                    line,
                    reasons: vec![format!("The row could not be read: {e}")],
                });
                continue;
            }
        };
        match check_row(view, &cols, &record, now) {
            Ok(row) => {
                if seen.insert(identity(&row.email, &row.name)) {
                    good.push((line, row));
                } else {
                    rejected.push(RejectedResponseRow {
                        line,
                        reasons: vec![ALREADY_IMPORTED.to_owned()],
                    });
                }
            }
            Err(reasons) => rejected.push(RejectedResponseRow { line, reasons }),
        }
    }
    let total = good.len() as u64;
    let mut processed = 0u64;
    let mut imported = 0u64;
    progress(0, total);
    for batch in good.chunks(BATCH) {
        let txn = crate::db::begin_write(db).await?;
        // Another import of the same file may have committed since the check above.
        let emails: Vec<String> = batch.iter().filter_map(|(_, r)| r.email.clone()).collect();
        let names: Vec<String> = batch
            .iter()
            .filter(|(_, r)| r.email.is_none())
            .map(|(_, r)| r.name.clone())
            .collect();
        let taken: HashSet<String> = consultation_responses::Entity::find()
            .filter(consultation_responses::Column::ConsultationId.eq(view.consultation.id))
            .filter(consultation_responses::Column::Source.eq("import"))
            .filter(
                Condition::any()
                    .add(consultation_responses::Column::RespondentEmail.is_in(emails))
                    .add(consultation_responses::Column::RespondentName.is_in(names)),
            )
            .all(&txn)
            .await?
            .iter()
            .map(identity_of_model)
            .collect();
        let mut written = 0u64;
        for (line, row) in batch {
            if taken.contains(&identity(&row.email, &row.name)) {
                rejected.push(RejectedResponseRow {
                    line: *line,
                    reasons: vec![ALREADY_IMPORTED.to_owned()],
                });
                continue;
            }
            written += 1;
            let declared = row.input.interests == "yes";
            let response = consultation_responses::ActiveModel {
                id: Set(Uuid::now_v7()),
                consultation_id: Set(view.consultation.id),
                respondent_id: Set(None),
                respondent_name: Set(Some(row.name.clone())),
                respondent_email: Set(row.email.clone()),
                respondent_type: Set(row.respondent_type.to_owned()),
                capacity: Set(row.input.capacity.clone()),
                organisation_name: Set(Some(row.input.organisation_name.trim().to_owned())
                    .filter(|o| !o.is_empty() && row.input.capacity == "organisation")),
                interests_declared: Set(Some(declared)),
                // Checked (and kept) only when interests are declared.
                products_affected: Set(if declared {
                    row.input.products_affected.trim().to_owned()
                } else {
                    String::new()
                }),
                commercial_interest: Set(if declared {
                    row.input.commercial_interest.trim().to_owned()
                } else {
                    String::new()
                }),
                consent: Set(row.input.consent.trim().to_owned()),
                status: Set("submitted".to_owned()),
                submitted_at: Set(Some(row.submitted_at)),
                source: Set("import".to_owned()),
                redaction_reason: Set(None),
                redacted_by: Set(None),
                redacted_at: Set(None),
                version: Set(1),
                assignee_id: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
            let answers = responding::stored_answers(view, &row.input);
            let mut words = responding::ResponseDetail::without_words(response);
            responding::store_answers(&txn, &mut words, &answers).await?;
            for (anchor, title, body) in &row.comments {
                responding::store_comment(
                    &txn,
                    &mut words,
                    view.document.number,
                    anchor,
                    title,
                    body,
                )
                .await?;
            }
            audit::changed(&txn, responding::SUBJECT, words.response.id).await?;
        }
        audit::record(
            &txn,
            AuditEvent {
                actor: actor.map(|a| a.id),
                action: "consultation.responses_imported",
                subject_type: super::authoring::SUBJECT,
                subject_id: Some(view.consultation.id),
                before: None,
                after: Some(
                    json!({ "rows": batch.iter().map(|(line, _)| line).collect::<Vec<_>>() }),
                ),
            },
        )
        .await?;
        txn.commit().await?;
        imported += written;
        processed += batch.len() as u64;
        progress(processed, total);
    }
    rejected.sort_by_key(|r| r.line);
    Ok(ImportReport {
        rows,
        imported,
        rejected,
    })
}

fn identity(email: &Option<String>, name: &str) -> String {
    match email {
        Some(e) => format!("email:{}", e.to_lowercase()),
        None => format!("name:{}", name.trim().to_lowercase()),
    }
}

fn identity_of_model(r: &consultation_responses::Model) -> String {
    identity(
        &r.respondent_email,
        r.respondent_name.as_deref().unwrap_or_default(),
    )
}
