//! Writing a consultation: its details and document, its questions,
//! publishing it, and new versions of the document once published.

use chrono::Utc;
use entity::{consultation_questions, consultation_versions, consultations, users};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::domain::{
    Audience, CHANGE_SUMMARY, ConsultationDetails, DOCUMENT, MAX_QUESTIONS, Phase, QuestionDetails,
    QuestionKind,
};
use crate::audit::{self, AuditEvent};
use crate::auth::caller::Caller;
use crate::auth::policy;
use crate::db::WriteTransaction;
use crate::error::{AppError, FieldError};
use crate::markdown::{self, Section};
use crate::status_history;

pub const SUBJECT: &str = "consultation";

/// A question with its choices read.
#[derive(Debug, Clone)]
pub struct Question {
    pub model: consultation_questions::Model,
    pub kind: QuestionKind,
    pub options: Vec<String>,
}

impl Question {
    fn of(model: consultation_questions::Model) -> Self {
        Question {
            kind: QuestionKind::parse(&model.kind).unwrap_or(QuestionKind::FreeText),
            options: serde_json::from_str(&model.options).unwrap_or_default(),
            model,
        }
    }

    /// The question's number as respondents see it.
    pub fn number(&self) -> i32 {
        self.model.position
    }
}

/// A consultation with the document version shown and its questions.
#[derive(Debug, Clone)]
pub struct ConsultationView {
    pub consultation: consultations::Model,
    pub phase: Phase,
    pub audience: Audience,
    pub document: consultation_versions::Model,
    pub sections: Vec<Section>,
    pub questions: Vec<Question>,
}

impl ConsultationView {
    pub fn section(&self, anchor: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.anchor == anchor)
    }
}

pub async fn find_by_slug(
    conn: &impl ConnectionTrait,
    slug: &str,
) -> Result<consultations::Model, AppError> {
    consultations::Entity::find()
        .filter(consultations::Column::Slug.eq(slug))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// The consultation at `slug` if the caller may see it (a draft is the
/// board's alone: to anyone else it does not exist).
pub async fn visible(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    slug: &str,
) -> Result<consultations::Model, AppError> {
    let found = find_by_slug(conn, slug).await?;
    if policy::can_see_consultation(caller, &found) {
        Ok(found)
    } else {
        Err(AppError::NotFound)
    }
}

/// The consultation at `slug` with its current document, if the caller may see it.
pub async fn visible_view(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    slug: &str,
) -> Result<ConsultationView, AppError> {
    // The consultation and the version it shows in one query: every
    // response, saved or submitted, starts here.
    let (found, document) = consultations::Entity::find()
        .find_also_related(consultation_versions::Entity)
        .filter(consultations::Column::Slug.eq(slug))
        .filter(
            Expr::col((
                consultation_versions::Entity,
                consultation_versions::Column::Number,
            ))
            .equals((consultations::Entity, consultations::Column::CurrentVersion)),
        )
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    if !policy::can_see_consultation(caller, &found) {
        return Err(AppError::NotFound);
    }
    with_questions(conn, found, document.ok_or(AppError::NotFound)?).await
}

/// The consultation at `slug` for a board member managing it, with who they are.
pub async fn board_view(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    slug: &str,
) -> Result<(users::Model, ConsultationView), AppError> {
    let user = policy::require(caller, policy::Permission::ManageConsultations)?.clone();
    let found = find_by_slug(conn, slug).await?;
    Ok((user, view(conn, found, None).await?))
}

pub async fn questions(
    conn: &impl ConnectionTrait,
    consultation_id: Uuid,
) -> Result<Vec<Question>, AppError> {
    Ok(consultation_questions::Entity::find()
        .filter(consultation_questions::Column::ConsultationId.eq(consultation_id))
        .order_by_asc(consultation_questions::Column::Position)
        .all(conn)
        .await?
        .into_iter()
        .map(Question::of)
        .collect())
}

pub async fn versions(
    conn: &impl ConnectionTrait,
    consultation_id: Uuid,
) -> Result<Vec<consultation_versions::Model>, AppError> {
    Ok(consultation_versions::Entity::find()
        .filter(consultation_versions::Column::ConsultationId.eq(consultation_id))
        .order_by_asc(consultation_versions::Column::Number)
        .all(conn)
        .await?)
}

/// The consultation with version `number` of its document (the current one
/// when None).
pub async fn view(
    conn: &impl ConnectionTrait,
    consultation: consultations::Model,
    number: Option<i32>,
) -> Result<ConsultationView, AppError> {
    let number = number.unwrap_or(consultation.current_version);
    let document = consultation_versions::Entity::find()
        .filter(consultation_versions::Column::ConsultationId.eq(consultation.id))
        .filter(consultation_versions::Column::Number.eq(number))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    with_questions(conn, consultation, document).await
}

async fn with_questions(
    conn: &impl ConnectionTrait,
    consultation: consultations::Model,
    document: consultation_versions::Model,
) -> Result<ConsultationView, AppError> {
    Ok(ConsultationView {
        phase: Phase::of(&consultation, Utc::now()),
        audience: Audience::from_column(&consultation.audience),
        sections: markdown::sections(&document.document),
        questions: questions(conn, consultation.id).await?,
        document,
        consultation,
    })
}

/// Every consultation the caller may see, open ones first, then by closing time.
pub async fn list(
    conn: &impl ConnectionTrait,
    caller: &Caller,
) -> Result<Vec<(consultations::Model, Phase)>, AppError> {
    let now = Utc::now();
    let mut found: Vec<(consultations::Model, Phase)> = consultations::Entity::find()
        .order_by_desc(consultations::Column::ClosesAt)
        .all(conn)
        .await?
        .into_iter()
        .filter(|c| policy::can_see_consultation(caller, c))
        .map(|c| {
            let phase = Phase::of(&c, now);
            (c, phase)
        })
        .collect();
    let rank = |p: Phase| match p {
        Phase::Open => 0,
        Phase::Upcoming => 1,
        Phase::Draft => 2,
        Phase::Closed => 3,
        Phase::OutcomePublished => 4,
    };
    found.sort_by_key(|(_, phase)| rank(*phase));
    Ok(found)
}

fn slug_taken() -> AppError {
    AppError::Validation(vec![FieldError::new(
        "slug",
        "Another consultation already uses this short name. Choose another",
    )])
}

#[tracing::instrument(skip_all)]
pub async fn create(
    db: &DatabaseConnection,
    author: &users::Model,
    details: ConsultationDetails,
) -> Result<consultations::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    if consultations::Entity::find()
        .filter(consultations::Column::Slug.eq(details.slug.as_str()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(slug_taken());
    }
    let now = Utc::now();
    let consultation = consultations::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(details.slug),
        title: Set(details.title),
        summary: Set(details.summary),
        audience: Set(details.audience.to_column()),
        opens_at: Set(details.opens_at),
        closes_at: Set(details.closes_at),
        status: Set("draft".to_owned()),
        current_version: Set(1),
        outcome_summary: Set(String::new()),
        outcome_published_at: Set(None),
        created_by: Set(Some(author.id)),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    // Two people creating the same slug at once: the unique index decides.
    .map_err(|err| match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => slug_taken(),
        _ => err.into(),
    })?;
    consultation_versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        consultation_id: Set(consultation.id),
        number: Set(1),
        document: Set(details.document),
        change_summary: Set(String::new()),
        published_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(author.id),
            action: "consultation.created",
            subject_type: SUBJECT,
            subject_id: Some(consultation.id),
            before: None,
            after: Some(json!({ "slug": consultation.slug, "title": consultation.title })),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, consultation.id).await?;
    txn.commit().await?;
    Ok(consultation)
}

/// Reads the consultation for a change based on `expected` (None: the
/// caller did not say) and bumps its version, so that of two concurrent
/// changes exactly one wins.
async fn claim(
    txn: &WriteTransaction,
    id: Uuid,
    expected: Option<i32>,
) -> Result<consultations::Model, AppError> {
    let found = consultations::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(expected) = expected
        && expected != found.version
    {
        return Err(status_history::stale("consultation", found.version));
    }
    let updated = consultations::Entity::update_many()
        .col_expr(
            consultations::Column::Version,
            Expr::col(consultations::Column::Version).add(1),
        )
        .col_expr(consultations::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(consultations::Column::Id.eq(id))
        .filter(consultations::Column::Version.eq(found.version))
        .exec(txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(status_history::lost_race("consultation"));
    }
    Ok(found)
}

fn refuse(field: &str, message: &str) -> AppError {
    AppError::Validation(vec![FieldError::new(field, message)])
}

/// Changes the details. A draft can change everything; once published the
/// short name, opening time, audience and document stay as respondents saw
/// them (the document changes by a new version).
#[tracing::instrument(skip_all)]
pub async fn update(
    db: &DatabaseConnection,
    actor: &users::Model,
    id: Uuid,
    details: ConsultationDetails,
    expected_version: Option<i32>,
) -> Result<consultations::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let before = claim(&txn, id, expected_version).await?;
    let phase = Phase::of(&before, Utc::now());
    if phase == Phase::OutcomePublished {
        return Err(AppError::Conflict(
            "The outcome has been published, so the consultation can no longer change".to_owned(),
        ));
    }
    if phase != Phase::Draft {
        let mut errors = Vec::new();
        if details.slug != before.slug {
            errors.push(FieldError::new(
                "slug",
                "The short name cannot change once published: links to it have been shared",
            ));
        }
        if details.opens_at != before.opens_at {
            errors.push(FieldError::new(
                "opens_at",
                "The opening time cannot change once published",
            ));
        }
        if details.audience.to_column() != before.audience {
            errors.push(FieldError::new(
                "audience",
                "Who the consultation is for cannot change once published",
            ));
        }
        let current = current_document(&txn, &before).await?;
        if details.document.trim() != current.document.trim() {
            errors.push(FieldError::new(
                "document",
                "Publish a new version to change the document of a published consultation",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
    }
    if details.slug != before.slug
        && consultations::Entity::find()
            .filter(consultations::Column::Slug.eq(details.slug.as_str()))
            .one(&txn)
            .await?
            .is_some()
    {
        return Err(slug_taken());
    }
    let now = Utc::now();
    let mut row: consultations::ActiveModel = before.clone().into();
    row.slug = Set(details.slug);
    row.title = Set(details.title);
    row.summary = Set(details.summary);
    row.audience = Set(details.audience.to_column());
    row.opens_at = Set(details.opens_at);
    row.closes_at = Set(details.closes_at);
    row.version = Set(before.version + 1);
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    if phase == Phase::Draft {
        consultation_versions::Entity::update_many()
            .col_expr(
                consultation_versions::Column::Document,
                Expr::value(details.document),
            )
            .col_expr(consultation_versions::Column::UpdatedAt, Expr::value(now))
            .filter(consultation_versions::Column::ConsultationId.eq(id))
            .filter(consultation_versions::Column::Number.eq(1))
            .exec(&txn)
            .await?;
    }
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "consultation.updated",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: Some(json!({ "slug": before.slug, "title": before.title, "closes_at": before.closes_at, "version": before.version })),
            after: Some(json!({ "slug": after.slug, "title": after.title, "closes_at": after.closes_at, "version": after.version })),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, id).await?;
    txn.commit().await?;
    Ok(after)
}

async fn current_document(
    conn: &impl ConnectionTrait,
    consultation: &consultations::Model,
) -> Result<consultation_versions::Model, AppError> {
    consultation_versions::Entity::find()
        .filter(consultation_versions::Column::ConsultationId.eq(consultation.id))
        .filter(consultation_versions::Column::Number.eq(consultation.current_version))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

fn questions_locked() -> AppError {
    AppError::Conflict(
        "Questions cannot change once the consultation is published: responses depend on them"
            .to_owned(),
    )
}

/// Adds a question at the end (drafts only).
pub async fn add_question(
    db: &DatabaseConnection,
    actor: &users::Model,
    consultation_id: Uuid,
    question: QuestionDetails,
) -> Result<consultation_questions::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let consultation = claim(&txn, consultation_id, None).await?;
    if consultation.status != "draft" {
        return Err(questions_locked());
    }
    let existing = questions(&txn, consultation_id).await?;
    if existing.len() >= MAX_QUESTIONS {
        return Err(refuse(
            "prompt",
            &format!("A consultation can ask at most {MAX_QUESTIONS} questions"),
        ));
    }
    let now = Utc::now();
    let saved = consultation_questions::ActiveModel {
        id: Set(Uuid::now_v7()),
        consultation_id: Set(consultation_id),
        position: Set(existing.last().map_or(1, |q| q.model.position + 1)),
        kind: Set(question.kind.as_str().to_owned()),
        prompt: Set(question.prompt),
        help_text: Set(question.help_text),
        required: Set(question.required),
        options: Set(json!(question.options).to_string()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "consultation.question_added",
            subject_type: SUBJECT,
            subject_id: Some(consultation_id),
            before: None,
            after: Some(
                json!({ "question": saved.id, "prompt": saved.prompt, "kind": saved.kind }),
            ),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// Changes, moves or removes a question (drafts only).
pub enum QuestionEdit {
    Replace(QuestionDetails),
    MoveUp,
    MoveDown,
    Remove,
}

pub async fn edit_question(
    db: &DatabaseConnection,
    actor: &users::Model,
    consultation_id: Uuid,
    question_id: Uuid,
    edit: QuestionEdit,
) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let consultation = claim(&txn, consultation_id, None).await?;
    if consultation.status != "draft" {
        return Err(questions_locked());
    }
    let mut list = questions(&txn, consultation_id).await?;
    let index = list
        .iter()
        .position(|q| q.model.id == question_id)
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let described = |q: &consultation_questions::Model| {
        json!({
            "question": q.id,
            "position": q.position,
            "kind": q.kind,
            "prompt": q.prompt,
            "help_text": q.help_text,
            "required": q.required,
            "options": q.options,
        })
    };
    let before = described(&list[index].model);
    let (action, after) = match edit {
        QuestionEdit::Replace(details) => {
            let mut row: consultation_questions::ActiveModel = list[index].model.clone().into();
            row.kind = Set(details.kind.as_str().to_owned());
            row.prompt = Set(details.prompt);
            row.help_text = Set(details.help_text);
            row.required = Set(details.required);
            row.options = Set(json!(details.options).to_string());
            row.updated_at = Set(now);
            let updated = row.update(&txn).await?;
            ("consultation.question_changed", Some(described(&updated)))
        }
        QuestionEdit::Remove => {
            consultation_questions::Entity::delete_by_id(question_id)
                .exec(&txn)
                .await?;
            list.remove(index);
            renumber(&txn, &list).await?;
            ("consultation.question_removed", None)
        }
        QuestionEdit::MoveUp | QuestionEdit::MoveDown => {
            let target = match edit {
                QuestionEdit::MoveUp => index.checked_sub(1),
                _ => Some(index + 1).filter(|i| *i < list.len()),
            };
            let mut position = list[index].model.position;
            if let Some(target) = target {
                list.swap(index, target);
                renumber(&txn, &list).await?;
                position = target as i32 + 1;
            }
            (
                "consultation.question_moved",
                Some(json!({ "question": question_id, "position": position })),
            )
        }
    };
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action,
            subject_type: SUBJECT,
            subject_id: Some(consultation_id),
            before: Some(before),
            after,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

async fn renumber(txn: &WriteTransaction, list: &[Question]) -> Result<(), AppError> {
    for (i, question) in list.iter().enumerate() {
        let position = i as i32 + 1;
        if question.model.position != position {
            consultation_questions::Entity::update_many()
                .col_expr(
                    consultation_questions::Column::Position,
                    Expr::value(position),
                )
                .filter(consultation_questions::Column::Id.eq(question.model.id))
                .exec(txn)
                .await?;
        }
    }
    Ok(())
}

/// Publishes a draft: it opens at its opening time.
#[tracing::instrument(skip_all)]
pub async fn publish(
    db: &DatabaseConnection,
    actor: &users::Model,
    id: Uuid,
    expected_version: Option<i32>,
) -> Result<consultations::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let before = claim(&txn, id, expected_version).await?;
    if before.status != "draft" {
        return Err(AppError::Conflict(
            "This consultation is already published".to_owned(),
        ));
    }
    let now = Utc::now();
    if before.closes_at <= now {
        return Err(refuse(
            "closes_at",
            "The closing time has passed. Change it before publishing",
        ));
    }
    let mut row: consultations::ActiveModel = before.clone().into();
    row.status = Set("published".to_owned());
    row.version = Set(before.version + 1);
    row.updated_at = Set(now);
    let after = row.update(&txn).await?;
    consultation_versions::Entity::update_many()
        .col_expr(consultation_versions::Column::PublishedAt, Expr::value(now))
        .filter(consultation_versions::Column::ConsultationId.eq(id))
        .filter(consultation_versions::Column::Number.eq(1))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "consultation.published",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: Some(json!({ "status": before.status })),
            after: Some(json!({ "status": after.status, "opens_at": after.opens_at, "closes_at": after.closes_at })),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, id).await?;
    txn.commit().await?;
    Ok(after)
}

/// Publishes a new version of a published consultation's document. Comments
/// made on earlier versions stay with the version and section they were made on.
#[tracing::instrument(skip_all)]
pub async fn new_version(
    db: &DatabaseConnection,
    actor: &users::Model,
    id: Uuid,
    document: &str,
    change_summary: &str,
    expected_version: Option<i32>,
) -> Result<consultation_versions::Model, AppError> {
    let mut errors = Vec::new();
    let document = DOCUMENT.check(document, &mut errors);
    let change_summary = CHANGE_SUMMARY.check(change_summary, &mut errors);
    if let Some(doc) = &document
        && markdown::sections(doc).is_empty()
    {
        errors.push(FieldError::new(
            "document",
            "The proposed standard needs at least one section: start a line with # and a heading",
        ));
    }
    let (Some(document), Some(change_summary)) = (document, change_summary) else {
        return Err(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let before = claim(&txn, id, expected_version).await?;
    match Phase::of(&before, Utc::now()) {
        Phase::Draft => {
            return Err(AppError::Conflict(
                "A draft has one version: change its document instead".to_owned(),
            ));
        }
        Phase::OutcomePublished => {
            return Err(AppError::Conflict(
                "The outcome has been published, so the document can no longer change".to_owned(),
            ));
        }
        _ => {}
    }
    let current = current_document(&txn, &before).await?;
    if current.document.trim() == document.trim() {
        return Err(refuse(
            "document",
            "The document has not changed from the current version",
        ));
    }
    let now = Utc::now();
    let number = before.current_version + 1;
    let saved = consultation_versions::ActiveModel {
        id: Set(Uuid::now_v7()),
        consultation_id: Set(id),
        number: Set(number),
        document: Set(document),
        change_summary: Set(change_summary),
        published_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    consultations::Entity::update_many()
        .col_expr(consultations::Column::CurrentVersion, Expr::value(number))
        .filter(consultations::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "consultation.new_version",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: Some(json!({ "document_version": before.current_version })),
            after: Some(
                json!({ "document_version": number, "change_summary": saved.change_summary }),
            ),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, id).await?;
    txn.commit().await?;
    Ok(saved)
}
