//! Responding to a consultation: a draft saved as often as people like,
//! comments made from each section, submission before closing, edits until
//! closing, an emailed receipt and an emailed link to carry on elsewhere.

use std::collections::HashMap;

use chrono::Utc;
use entity::{
    consultation_answers, consultation_responses, consultations, section_comments, users,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::authoring::{ConsultationView, Question};
use super::domain::{
    AGREEMENT, ANSWER, COMMERCIAL_INTEREST, Capacity, Consent, ORGANISATION, PRODUCTS_AFFECTED,
    Phase, QuestionKind, SECTION_COMMENT,
};
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::domain::RespondentType;
use crate::email;
use crate::error::{AppError, FieldError};
use crate::idempotency::{self, IdempotencyKey};

pub const SUBJECT: &str = "consultation_response";

/// A response with its answers (by question) and section comments.
#[derive(Debug, Clone)]
pub struct ResponseDetail {
    pub response: consultation_responses::Model,
    pub answers: HashMap<Uuid, consultation_answers::Model>,
    pub comments: Vec<section_comments::Model>,
}

impl ResponseDetail {
    /// The values given for a question (several for multiple choice).
    pub fn values(&self, question: &Question) -> Vec<String> {
        self.answers
            .get(&question.model.id)
            .map(|a| decode(question.kind, &a.value))
            .unwrap_or_default()
    }

    pub fn comment_on(&self, version: i32, anchor: &str) -> Option<&section_comments::Model> {
        self.comments
            .iter()
            .find(|c| c.version_number == version && c.anchor == anchor)
    }
}

/// A stored answer as the values a form shows.
pub fn decode(kind: QuestionKind, value: &str) -> Vec<String> {
    match kind {
        QuestionKind::MultiChoice => serde_json::from_str(value).unwrap_or_default(),
        _ if value.is_empty() => Vec::new(),
        _ => vec![value.to_owned()],
    }
}

/// An answer as people read it: "Agree", "Option A; Option B".
pub fn readable(kind: QuestionKind, value: &str) -> String {
    match kind {
        QuestionKind::AgreementScale => value
            .parse::<usize>()
            .ok()
            .and_then(|n| AGREEMENT.get(n.wrapping_sub(1)))
            .map(|s| (*s).to_owned())
            .unwrap_or_default(),
        QuestionKind::MultiChoice => decode(kind, value).join("; "),
        _ => value.to_owned(),
    }
}

/// What the respondent says about themselves and their answers.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ResponseInput {
    /// individual | organisation
    pub capacity: String,
    pub organisation_name: String,
    /// "yes" or "no": whether the respondent has interests to declare.
    pub interests: String,
    pub products_affected: String,
    pub commercial_interest: String,
    /// named | anonymous | private
    pub consent: String,
    /// By question id: the text, the option(s) or the agreement level (1 to 5).
    pub answers: HashMap<Uuid, Vec<String>>,
}

/// The field name of a question's answer on the form and in errors.
pub fn answer_field(question_id: Uuid) -> String {
    format!("q-{question_id}")
}

/// Checked answers ready to store, by question id ("" means no answer).
fn check_answers(
    questions: &[Question],
    input: &ResponseInput,
    errors: &mut Vec<FieldError>,
) -> HashMap<Uuid, String> {
    let mut out = HashMap::new();
    for unknown in input
        .answers
        .keys()
        .filter(|id| !questions.iter().any(|q| q.model.id == **id))
    {
        errors.push(FieldError::new(
            answer_field(*unknown),
            "There is no such question in this consultation",
        ));
    }
    for question in questions {
        let field = answer_field(question.model.id);
        let given: Vec<&str> = input
            .answers
            .get(&question.model.id)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let value = match question.kind {
            QuestionKind::FreeText => {
                let text = given.join("\n");
                let field_def = crate::text::TextField {
                    name: &field,
                    ..ANSWER
                };
                field_def.check(&text, errors).unwrap_or_default()
            }
            QuestionKind::SingleChoice => match given.as_slice() {
                [] => String::new(),
                [one] if question.options.iter().any(|o| o == one) => (*one).to_owned(),
                _ => {
                    errors.push(FieldError::new(&field, "Choose one of the options"));
                    String::new()
                }
            },
            QuestionKind::MultiChoice => {
                if given
                    .iter()
                    .all(|g| question.options.iter().any(|o| o == g))
                {
                    // Kept in the order the question lists them.
                    let chosen: Vec<&String> = question
                        .options
                        .iter()
                        .filter(|o| given.contains(&o.as_str()))
                        .collect();
                    if chosen.is_empty() {
                        String::new()
                    } else {
                        json!(chosen).to_string()
                    }
                } else {
                    errors.push(FieldError::new(&field, "Choose from the options given"));
                    String::new()
                }
            }
            QuestionKind::AgreementScale => match given.as_slice() {
                [] => String::new(),
                [one] if matches!(*one, "1" | "2" | "3" | "4" | "5") => (*one).to_owned(),
                _ => {
                    errors.push(FieldError::new(&field, "Choose a point on the scale from 1 (strongly disagree) to 5 (strongly agree)"));
                    String::new()
                }
            },
        };
        out.insert(question.model.id, value);
    }
    out
}

/// The respondent's details, checked as far as a draft needs.
struct About {
    capacity: String,
    organisation_name: Option<String>,
    interests_declared: bool,
    products_affected: String,
    commercial_interest: String,
    consent: String,
}

fn check_about(input: &ResponseInput, errors: &mut Vec<FieldError>) -> About {
    let capacity = match input.capacity.trim() {
        "" => String::new(),
        raw => match Capacity::parse(raw) {
            Some(c) => c.as_str().to_owned(),
            None => {
                errors.push(FieldError::new(
                    "capacity",
                    "Choose whether you respond as an individual or for an organisation",
                ));
                String::new()
            }
        },
    };
    let organisation_name = if capacity == Capacity::Organisation.as_str() {
        let optional = crate::text::TextField {
            required: None,
            ..ORGANISATION
        };
        optional.check(&input.organisation_name, errors)
    } else {
        None
    };
    let consent = match input.consent.trim() {
        "" => String::new(),
        raw => match Consent::parse(raw) {
            Some(c) => c.as_str().to_owned(),
            None => {
                errors.push(FieldError::new(
                    "consent",
                    "Choose whether and how your response may be published",
                ));
                String::new()
            }
        },
    };
    let interests_declared = input.interests.trim() == "yes";
    let (products_affected, commercial_interest) = if interests_declared {
        let optional = |f: crate::text::TextField<'static>| crate::text::TextField {
            required: None,
            ..f
        };
        (
            optional(PRODUCTS_AFFECTED)
                .check(&input.products_affected, errors)
                .unwrap_or_default(),
            optional(COMMERCIAL_INTEREST)
                .check(&input.commercial_interest, errors)
                .unwrap_or_default(),
        )
    } else {
        (String::new(), String::new())
    };
    if !matches!(input.interests.trim(), "" | "yes" | "no") {
        errors.push(FieldError::new("interests", "Answer yes or no"));
    }
    About {
        capacity,
        organisation_name,
        interests_declared,
        products_affected,
        commercial_interest,
        consent,
    }
}

/// The respondent's response to this consultation, if they have started one.
pub async fn mine(
    conn: &impl ConnectionTrait,
    consultation_id: Uuid,
    user_id: Uuid,
) -> Result<Option<ResponseDetail>, AppError> {
    let found = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(consultation_id))
        .filter(consultation_responses::Column::RespondentId.eq(user_id))
        .one(conn)
        .await?;
    match found {
        Some(response) => Ok(Some(detail(conn, response).await?)),
        None => Ok(None),
    }
}

pub async fn detail(
    conn: &impl ConnectionTrait,
    response: consultation_responses::Model,
) -> Result<ResponseDetail, AppError> {
    let answers = consultation_answers::Entity::find()
        .filter(consultation_answers::Column::ResponseId.eq(response.id))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.question_id, a))
        .collect();
    let comments = section_comments::Entity::find()
        .filter(section_comments::Column::ResponseId.eq(response.id))
        .order_by_asc(section_comments::Column::VersionNumber)
        .order_by_asc(section_comments::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(ResponseDetail {
        response,
        answers,
        comments,
    })
}

/// Why this person may not respond now, if they may not.
fn may_respond(
    view: &ConsultationView,
    user: &users::Model,
    submitting: bool,
) -> Result<(), AppError> {
    match view.phase {
        Phase::Open => {}
        Phase::Draft => return Err(AppError::NotFound),
        Phase::Upcoming => {
            return Err(AppError::Closed(format!(
                "This consultation opens on {}. You can respond then",
                crate::uk_time::display(view.consultation.opens_at)
            )));
        }
        Phase::Closed | Phase::OutcomePublished if !submitting => {}
        Phase::Closed | Phase::OutcomePublished => {
            return Err(AppError::Closed(format!(
                "This consultation closed on {}, so responses can no longer be submitted or changed. Your draft has been kept",
                crate::uk_time::display(view.consultation.closes_at)
            )));
        }
    }
    if user.respondent_type.is_none() {
        return Err(AppError::Validation(vec![FieldError::new(
            "respondent_type",
            "Say whether you are NHS staff, a supplier, a technology expert or other on your profile before responding",
        )]));
    }
    if !view.audience.admits(user.respondent_type.as_deref()) {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// The respondent's response row, created as a draft when they have none.
async fn draft_of(
    txn: &DatabaseTransaction,
    view: &ConsultationView,
    user: &users::Model,
) -> Result<consultation_responses::Model, AppError> {
    if let Some(found) = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(view.consultation.id))
        .filter(consultation_responses::Column::RespondentId.eq(user.id))
        .one(txn)
        .await?
    {
        return Ok(found);
    }
    let now = Utc::now();
    Ok(consultation_responses::ActiveModel {
        id: Set(Uuid::now_v7()),
        consultation_id: Set(view.consultation.id),
        respondent_id: Set(Some(user.id)),
        respondent_name: Set(None),
        respondent_email: Set(None),
        respondent_type: Set(user
            .respondent_type
            .clone()
            .unwrap_or_else(|| "other".to_owned())),
        capacity: Set(String::new()),
        organisation_name: Set(None),
        interests_declared: Set(false),
        products_affected: Set(String::new()),
        commercial_interest: Set(String::new()),
        consent: Set(String::new()),
        status: Set("draft".to_owned()),
        submitted_at: Set(None),
        source: Set("web".to_owned()),
        redaction_reason: Set(None),
        redacted_by: Set(None),
        redacted_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?)
}

/// Writes answers: new ones added, changed ones replaced (a redaction of
/// the old text no longer applies), emptied ones removed.
pub(super) async fn store_answers(
    txn: &DatabaseTransaction,
    response_id: Uuid,
    answers: &HashMap<Uuid, String>,
) -> Result<(), AppError> {
    let existing: HashMap<Uuid, consultation_answers::Model> = consultation_answers::Entity::find()
        .filter(consultation_answers::Column::ResponseId.eq(response_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|a| (a.question_id, a))
        .collect();
    let now = Utc::now();
    for (question_id, value) in answers {
        match existing.get(question_id) {
            Some(old) if value.is_empty() => {
                consultation_answers::Entity::delete_by_id(old.id)
                    .exec(txn)
                    .await?;
            }
            Some(old) if old.value != *value => {
                let mut row: consultation_answers::ActiveModel = old.clone().into();
                row.value = Set(value.clone());
                row.redacted_value = Set(None);
                row.updated_at = Set(now);
                row.update(txn).await?;
            }
            Some(_) => {}
            None if value.is_empty() => {}
            None => {
                consultation_answers::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    response_id: Set(response_id),
                    question_id: Set(*question_id),
                    value: Set(value.clone()),
                    redacted_value: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                }
                .insert(txn)
                .await?;
            }
        }
    }
    Ok(())
}

/// Writes one section comment (an empty text removes it). A changed comment
/// keeps any disposition already recorded; the audit trail shows the change.
pub(super) async fn store_comment(
    txn: &DatabaseTransaction,
    response: &consultation_responses::Model,
    version: i32,
    anchor: &str,
    section_title: &str,
    body: &str,
) -> Result<(), AppError> {
    let existing = section_comments::Entity::find()
        .filter(section_comments::Column::ResponseId.eq(response.id))
        .filter(section_comments::Column::VersionNumber.eq(version))
        .filter(section_comments::Column::Anchor.eq(anchor))
        .one(txn)
        .await?;
    let now = Utc::now();
    match existing {
        Some(old) if body.is_empty() => {
            section_comments::Entity::delete_by_id(old.id)
                .exec(txn)
                .await?;
        }
        Some(old) if old.body != body => {
            let mut row: section_comments::ActiveModel = old.into();
            row.body = Set(body.to_owned());
            row.redacted_body = Set(None);
            row.updated_at = Set(now);
            row.update(txn).await?;
        }
        Some(_) => {}
        None if body.is_empty() => {}
        None => {
            section_comments::ActiveModel {
                id: Set(Uuid::now_v7()),
                response_id: Set(response.id),
                consultation_id: Set(response.consultation_id),
                version_number: Set(version),
                anchor: Set(anchor.to_owned()),
                section_title: Set(section_title.to_owned()),
                body: Set(body.to_owned()),
                redacted_body: Set(None),
                disposition: Set(None),
                rationale: Set(String::new()),
                decided_by: Set(None),
                decided_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await?;
        }
    }
    Ok(())
}

async fn touch(
    txn: &DatabaseTransaction,
    response: &consultation_responses::Model,
) -> Result<(), AppError> {
    consultation_responses::Entity::update_many()
        .col_expr(
            consultation_responses::Column::Version,
            Expr::col(consultation_responses::Column::Version).add(1),
        )
        .col_expr(
            consultation_responses::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(consultation_responses::Column::Id.eq(response.id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Saves the respondent's details and answers. A draft can be saved after
/// closing (so nothing typed is lost) but never submitted; a submitted
/// response can be changed until closing, and its receipt is sent again.
#[tracing::instrument(skip_all)]
pub async fn save(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    input: &ResponseInput,
) -> Result<consultation_responses::Model, AppError> {
    may_respond(view, user, false)?;
    let mut errors = Vec::new();
    let about = check_about(input, &mut errors);
    let answers = check_answers(&view.questions, input, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let response = draft_of(&txn, view, user).await?;
    let submitted = response.status == "submitted";
    if submitted {
        may_respond(view, user, true)?;
    }
    let mut row: consultation_responses::ActiveModel = response.clone().into();
    row.capacity = Set(about.capacity);
    row.organisation_name = Set(about.organisation_name);
    row.interests_declared = Set(about.interests_declared);
    row.products_affected = Set(about.products_affected);
    row.commercial_interest = Set(about.commercial_interest);
    row.consent = Set(about.consent);
    row.version = Set(response.version + 1);
    row.updated_at = Set(Utc::now());
    let saved = row.update(&txn).await?;
    store_answers(&txn, saved.id, &answers).await?;
    if submitted {
        // A submitted response stays complete after a change.
        let detail = detail(&txn, saved.clone()).await?;
        check_complete(view, &detail)?;
        after_submission(
            &txn,
            state,
            user,
            view,
            &detail,
            "consultation_response.changed",
        )
        .await?;
    }
    txn.commit().await?;
    if submitted {
        state.outbox_ready.notify_one();
    }
    Ok(saved)
}

/// Saves the respondent's comment on one section of the current version.
#[tracing::instrument(skip_all)]
pub async fn save_comment(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    anchor: &str,
    body: &str,
) -> Result<consultation_responses::Model, AppError> {
    may_respond(view, user, false)?;
    let section = view.section(anchor).ok_or(AppError::NotFound)?;
    let mut errors = Vec::new();
    let body = SECTION_COMMENT.check(body, &mut errors).unwrap_or_default();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let response = draft_of(&txn, view, user).await?;
    let submitted = response.status == "submitted";
    if submitted {
        may_respond(view, user, true)?;
    }
    store_comment(
        &txn,
        &response,
        view.document.number,
        anchor,
        &section.title,
        &body,
    )
    .await?;
    touch(&txn, &response).await?;
    if submitted {
        let detail = detail(&txn, response.clone()).await?;
        check_complete(view, &detail)?;
        after_submission(
            &txn,
            state,
            user,
            view,
            &detail,
            "consultation_response.changed",
        )
        .await?;
    }
    txn.commit().await?;
    if submitted {
        state.outbox_ready.notify_one();
    }
    Ok(response)
}

/// What submission needs, whether the response is stored or imported.
struct Completeness<'a> {
    capacity: &'a str,
    organisation_name: Option<&'a str>,
    respondent_type: &'a str,
    interests_declared: bool,
    products_affected: &'a str,
    commercial_interest: &'a str,
    consent: &'a str,
    answered: &'a dyn Fn(Uuid) -> bool,
    any_answer: bool,
    any_comment: bool,
}

/// Every reason a response cannot be submitted yet.
fn missing(view: &ConsultationView, c: &Completeness<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if Capacity::parse(c.capacity).is_none() {
        errors.push(FieldError::new(
            "capacity",
            "Choose whether you respond as an individual or for an organisation",
        ));
    }
    if c.capacity == Capacity::Organisation.as_str() && c.organisation_name.is_none() {
        errors.push(FieldError::new(
            "organisation_name",
            ORGANISATION.required.unwrap_or_default(),
        ));
    }
    if c.respondent_type == RespondentType::Supplier.as_str() && c.interests_declared {
        if c.products_affected.is_empty() {
            errors.push(FieldError::new(
                "products_affected",
                PRODUCTS_AFFECTED.required.unwrap_or_default(),
            ));
        }
        if c.commercial_interest.is_empty() {
            errors.push(FieldError::new(
                "commercial_interest",
                COMMERCIAL_INTEREST.required.unwrap_or_default(),
            ));
        }
    }
    if Consent::parse(c.consent).is_none() {
        errors.push(FieldError::new(
            "consent",
            "Choose whether and how your response may be published",
        ));
    }
    for question in view.questions.iter().filter(|q| q.model.required) {
        if !(c.answered)(question.model.id) {
            errors.push(FieldError::new(
                answer_field(question.model.id),
                format!(
                    "Answer question {}: {}",
                    question.number(),
                    question.model.prompt
                ),
            ));
        }
    }
    if !c.any_answer && !c.any_comment {
        errors.push(FieldError::new(
            "answers",
            "Answer at least one question or comment on a section of the proposed standard",
        ));
    }
    errors
}

fn check_complete(view: &ConsultationView, detail: &ResponseDetail) -> Result<(), AppError> {
    let r = &detail.response;
    let answered = |id: Uuid| detail.answers.contains_key(&id);
    let errors = missing(
        view,
        &Completeness {
            capacity: &r.capacity,
            organisation_name: r.organisation_name.as_deref(),
            respondent_type: &r.respondent_type,
            interests_declared: r.interests_declared,
            products_affected: &r.products_affected,
            commercial_interest: &r.commercial_interest,
            consent: &r.consent,
            answered: &answered,
            any_answer: !detail.answers.is_empty(),
            any_comment: !detail.comments.is_empty(),
        },
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// The checks an imported row gets: those of a saved draft and of submission.
pub(super) fn check_import(
    view: &ConsultationView,
    input: &ResponseInput,
    respondent_type: &str,
    any_comment: bool,
) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let about = check_about(input, &mut errors);
    let answers = check_answers(&view.questions, input, &mut errors);
    let answered = |id: Uuid| answers.get(&id).is_some_and(|v| !v.is_empty());
    errors.extend(missing(
        view,
        &Completeness {
            capacity: &about.capacity,
            organisation_name: about.organisation_name.as_deref(),
            respondent_type,
            interests_declared: about.interests_declared,
            products_affected: &about.products_affected,
            commercial_interest: &about.commercial_interest,
            consent: &about.consent,
            answered: &answered,
            any_answer: answers.values().any(|v| !v.is_empty()),
            any_comment,
        },
    ));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The answers of a checked input as stored.
pub(super) fn stored_answers(
    view: &ConsultationView,
    input: &ResponseInput,
) -> HashMap<Uuid, String> {
    check_answers(&view.questions, input, &mut Vec::new())
}

/// Submits the respondent's saved response. Suppliers must say whether they
/// have interests to declare; that answer is part of the saved details.
#[tracing::instrument(skip_all)]
pub async fn submit(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    key: Option<&IdempotencyKey>,
) -> Result<consultation_responses::Model, AppError> {
    may_respond(view, user, true)?;
    let txn = crate::db::begin_write(&state.db).await?;
    if let Some(key) = key
        && let Some(id) = idempotency::replay(&txn, user.id, key).await?
    {
        return consultation_responses::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound);
    }
    let response = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(view.consultation.id))
        .filter(consultation_responses::Column::RespondentId.eq(user.id))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            AppError::Validation(vec![FieldError::new(
                "answers",
                "Answer at least one question or comment on a section of the proposed standard",
            )])
        })?;
    let detail = detail(&txn, response.clone()).await?;
    check_complete(view, &detail)?;
    let now = Utc::now();
    let mut row: consultation_responses::ActiveModel = response.clone().into();
    row.status = Set("submitted".to_owned());
    if response.submitted_at.is_none() {
        row.submitted_at = Set(Some(now));
    }
    row.version = Set(response.version + 1);
    row.updated_at = Set(now);
    let saved = row.update(&txn).await?;
    let action = if response.status == "submitted" {
        "consultation_response.changed"
    } else {
        "consultation_response.submitted"
    };
    let detail = ResponseDetail {
        response: saved.clone(),
        ..detail
    };
    after_submission(&txn, state, user, view, &detail, action).await?;
    if let Some(key) = key {
        idempotency::remember(&txn, user.id, key, saved.id).await?;
    }
    txn.commit().await?;
    state.outbox_ready.notify_one();
    Ok(saved)
}

/// The audit event, the search index entry and the emailed receipt (a copy
/// of the response as it now stands) for a submission or a change to one.
async fn after_submission(
    txn: &DatabaseTransaction,
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    detail: &ResponseDetail,
    action: &str,
) -> Result<(), AppError> {
    let response = &detail.response;
    audit::record(
        txn,
        AuditEvent {
            actor: Some(user.id),
            action,
            subject_type: SUBJECT,
            subject_id: Some(response.id),
            before: None,
            after: Some(json!({
                "consultation": view.consultation.slug,
                "consent": response.consent,
                "capacity": response.capacity,
                "answers": detail.answers.len(),
                "comments": detail.comments.len(),
                "version": response.version,
            })),
        },
    )
    .await?;
    audit::changed(txn, SUBJECT, response.id).await?;
    let link = state.settings.link(&format!(
        "/consultations/{}/response",
        view.consultation.slug
    ));
    let message = super::emails::receipt(&user.email, view, detail, &link)?;
    // One receipt per version of the response: a retried request sends none twice.
    email::enqueue(
        txn,
        &format!("consultation-receipt:{}:{}", response.id, response.version),
        message,
    )
    .await?;
    Ok(())
}

/// Emails the respondent a link back to their draft (they sign in on any
/// device and carry on). At most one every ten minutes.
pub async fn email_resume_link(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
) -> Result<(), AppError> {
    let response = mine(&state.db, view.consultation.id, user.id)
        .await?
        .ok_or(AppError::NotFound)?;
    let path = format!("/consultations/{}/response", view.consultation.slug);
    let link = state.settings.link(&crate::web::page::link_with_query(
        "/sign-in",
        [("next", path.as_str())],
    ));
    let message = super::emails::resume(&user.email, &view.consultation, &link)?;
    let bucket = Utc::now().timestamp() / 600;
    let txn = crate::db::begin_write(&state.db).await?;
    email::enqueue(
        &txn,
        &format!("consultation-resume:{}:{bucket}", response.response.id),
        message,
    )
    .await?;
    txn.commit().await?;
    state.outbox_ready.notify_one();
    Ok(())
}

/// Marks every response to a consultation changed, for the search index
/// (their visibility follows the consultation's outcome).
pub async fn reindex_all(
    conn: &impl ConnectionTrait,
    consultation: &consultations::Model,
) -> Result<(), AppError> {
    let ids: Vec<Uuid> = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(consultation.id))
        .filter(consultation_responses::Column::Status.eq("submitted"))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    for id in ids {
        audit::changed(conn, SUBJECT, id).await?;
    }
    Ok(())
}
