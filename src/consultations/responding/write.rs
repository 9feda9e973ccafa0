//! The transactions of responding. Whether the consultation is open is
//! decided again inside each transaction, from the consultation as stored
//! then, so a submission queued behind the deadline (or an early close) is
//! refused; the response row is locked on PostgreSQL so that a save and a
//! submission of the same response never interleave.

use std::collections::HashMap;

use chrono::Utc;
use entity::{
    consultation_answers, consultation_responses, consultations, section_comments, users,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Select, Set};
use serde_json::json;
use uuid::Uuid;

use super::checks::{About, check_about, check_answers, check_comments, check_complete};
use super::{ResponseDetail, ResponseInput, SUBJECT, detail, mine};
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::consultations::authoring::ConsultationView;
use crate::consultations::domain::{Audience, Phase, SECTION_COMMENT};
use crate::db::WriteTransaction;
use crate::email;
use crate::error::{AppError, FieldError};
use crate::idempotency::{self, IdempotencyKey};

/// Why this person may not respond now, if they may not.
fn may_respond(
    consultation: &consultations::Model,
    audience: &Audience,
    user: &users::Model,
    submitting: bool,
) -> Result<(), AppError> {
    match Phase::of(consultation, Utc::now()) {
        Phase::Open => {}
        Phase::Draft => return Err(AppError::NotFound),
        Phase::Upcoming => {
            return Err(AppError::Closed(format!(
                "This consultation opens on {}. You can respond then",
                crate::uk_time::display(consultation.opens_at)
            )));
        }
        Phase::Closed | Phase::OutcomePublished if !submitting => {}
        Phase::Closed | Phase::OutcomePublished => {
            return Err(AppError::Closed(format!(
                "This consultation closed on {}, so responses can no longer be submitted or changed. Your draft has been kept",
                crate::uk_time::display(consultation.closes_at)
            )));
        }
    }
    if user.respondent_type.is_none() {
        return Err(AppError::Validation(vec![FieldError::new(
            "respondent_type",
            "Say whether you are NHS staff, a supplier, a technology expert or other on your profile before responding",
        )]));
    }
    if !audience.admits(user.respondent_type.as_deref()) {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// The consultation as stored now, inside the transaction.
async fn fresh(txn: &WriteTransaction, id: Uuid) -> Result<consultations::Model, AppError> {
    consultations::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)
}

fn response_of(
    view: &ConsultationView,
    user: &users::Model,
) -> Select<consultation_responses::Entity> {
    consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(view.consultation.id))
        .filter(consultation_responses::Column::RespondentId.eq(user.id))
}

/// The respondent's response with its words, the row locked, created as a
/// draft when they have none (two first saves at once make one draft). A
/// draft made now has no words to read.
async fn draft_of(
    txn: &WriteTransaction,
    view: &ConsultationView,
    user: &users::Model,
) -> Result<ResponseDetail, AppError> {
    let now = Utc::now();
    let made = consultation_responses::Entity::insert(consultation_responses::ActiveModel {
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
        interests_declared: Set(None),
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
        assignee_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            consultation_responses::Column::ConsultationId,
            consultation_responses::Column::RespondentId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let response = crate::db::locked(txn, response_of(view, user))
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if made == 0 {
        return detail(txn, response).await;
    }
    Ok(ResponseDetail::without_words(response))
}

/// Writes answers to a response whose words are `words` as stored: new
/// ones added, changed ones replaced, emptied ones removed, and `words`
/// kept as they now stand. Returns whether anything changed.
pub(in crate::consultations) async fn store_answers(
    txn: &WriteTransaction,
    words: &mut ResponseDetail,
    answers: &HashMap<Uuid, String>,
) -> Result<bool, AppError> {
    let now = crate::db::now();
    let mut changed = false;
    for (question_id, value) in answers {
        match words.answers.get(question_id) {
            Some(old) if value.is_empty() => {
                consultation_answers::Entity::delete_by_id(old.id)
                    .exec(txn)
                    .await?;
                words.answers.remove(question_id);
                changed = true;
            }
            Some(old) if old.value != *value => {
                let mut row: consultation_answers::ActiveModel = old.clone().into();
                row.value = Set(value.clone());
                row.updated_at = Set(now);
                let stored = row.update(txn).await?;
                words.answers.insert(*question_id, stored);
                changed = true;
            }
            Some(_) => {}
            None if value.is_empty() => {}
            None => {
                let answer = consultation_answers::Model {
                    id: Uuid::now_v7(),
                    response_id: words.response.id,
                    question_id: *question_id,
                    value: value.clone(),
                    redacted_value: None,
                    created_at: now,
                    updated_at: now,
                };
                txn.insert_model_later(&answer).await?;
                words.answers.insert(*question_id, answer);
                changed = true;
            }
        }
    }
    Ok(changed)
}

/// Writes one section comment (an empty text removes it) as
/// [`store_answers`] writes answers. A changed comment loses its
/// disposition: the board decided on other words.
pub(in crate::consultations) async fn store_comment(
    txn: &WriteTransaction,
    words: &mut ResponseDetail,
    version: i32,
    anchor: &str,
    section_title: &str,
    body: &str,
) -> Result<bool, AppError> {
    let now = crate::db::now();
    let existing = words
        .comments
        .iter()
        .position(|c| c.version_number == version && c.anchor == anchor);
    match existing {
        Some(at) if body.is_empty() => {
            let old = words.comments.remove(at);
            section_comments::Entity::delete_by_id(old.id)
                .exec(txn)
                .await?;
            Ok(true)
        }
        Some(at) if words.comments[at].body != body => {
            let mut row: section_comments::ActiveModel = words.comments[at].clone().into();
            row.body = Set(body.to_owned());
            row.disposition = Set(None);
            row.rationale = Set(String::new());
            row.decided_by = Set(None);
            row.decided_at = Set(None);
            row.updated_at = Set(now);
            words.comments[at] = row.update(txn).await?;
            Ok(true)
        }
        Some(_) => Ok(false),
        None if body.is_empty() => Ok(false),
        None => {
            let comment = section_comments::Model {
                id: Uuid::now_v7(),
                response_id: words.response.id,
                consultation_id: words.response.consultation_id,
                version_number: version,
                anchor: anchor.to_owned(),
                section_title: section_title.to_owned(),
                body: body.to_owned(),
                redacted_body: None,
                disposition: None,
                rationale: String::new(),
                decided_by: None,
                decided_at: None,
                created_at: now,
                updated_at: now,
            };
            txn.insert_model_later(&comment).await?;
            // In the order `detail` reads them.
            let at = words.comments.partition_point(|c| {
                (c.version_number, c.created_at, c.id) <= (version, now, comment.id)
            });
            words.comments.insert(at, comment);
            Ok(true)
        }
    }
}

/// A respondent changed their words: a redaction made of the old words no
/// longer applies, and the board is to redact again if needed.
async fn clear_redaction(
    txn: &WriteTransaction,
    words: &mut ResponseDetail,
) -> Result<(), AppError> {
    let response_id = words.response.id;
    for answer in words.answers.values_mut() {
        answer.redacted_value = None;
    }
    for comment in &mut words.comments {
        comment.redacted_body = None;
    }
    consultation_answers::Entity::update_many()
        .col_expr(
            consultation_answers::Column::RedactedValue,
            Expr::value(Option::<String>::None),
        )
        .filter(consultation_answers::Column::ResponseId.eq(response_id))
        .exec(txn)
        .await?;
    section_comments::Entity::update_many()
        .col_expr(
            section_comments::Column::RedactedBody,
            Expr::value(Option::<String>::None),
        )
        .filter(section_comments::Column::ResponseId.eq(response_id))
        .exec(txn)
        .await?;
    consultation_responses::Entity::update_many()
        .col_expr(
            consultation_responses::Column::RedactionReason,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            consultation_responses::Column::RedactedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            consultation_responses::Column::RedactedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(consultation_responses::Column::Id.eq(response_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// What one save changes.
struct Edit {
    about: Option<About>,
    answers: HashMap<Uuid, String>,
    /// Anchor, heading and text of comments on the current version.
    comments: Vec<(String, String, String)>,
}

/// Applies a save in one transaction and returns the response as it now
/// stands. A draft can be saved after closing (so nothing typed is lost)
/// but never submitted; a submitted response can be changed until closing,
/// stays complete, and its receipt is sent again.
async fn write(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    edit: Edit,
) -> Result<ResponseDetail, AppError> {
    may_respond(&view.consultation, &view.audience, user, false)?;
    let txn = crate::db::begin_write_in_group(&state.db).await?;
    let consultation = fresh(&txn, view.consultation.id).await?;
    may_respond(&consultation, &view.audience, user, false)?;
    let mut words = draft_of(&txn, view, user).await?;
    let response = words.response.clone();
    let submitted = response.status == "submitted";
    if submitted {
        may_respond(&consultation, &view.audience, user, true)?;
    }
    let mut row: consultation_responses::ActiveModel = response.clone().into();
    if let Some(about) = edit.about {
        // Marked changed only where the value differs.
        row.capacity.set_if_not_equals(about.capacity);
        row.organisation_name
            .set_if_not_equals(about.organisation_name);
        row.interests_declared
            .set_if_not_equals(about.interests_declared);
        row.products_affected
            .set_if_not_equals(about.products_affected);
        row.commercial_interest
            .set_if_not_equals(about.commercial_interest);
        row.consent.set_if_not_equals(about.consent);
    }
    let details_changed = row.is_changed();
    let mut words_changed = store_answers(&txn, &mut words, &edit.answers).await?;
    for (anchor, title, body) in &edit.comments {
        words_changed |=
            store_comment(&txn, &mut words, view.document.number, anchor, title, body).await?;
    }
    if !details_changed && !words_changed {
        // Saving what is already saved changes nothing and sends nothing.
        txn.commit().await?;
        return Ok(words);
    }
    if words_changed && response.redaction_reason.is_some() {
        clear_redaction(&txn, &mut words).await?;
        row.redaction_reason = Set(None);
        row.redacted_by = Set(None);
        row.redacted_at = Set(None);
    }
    row.version = Set(response.version + 1);
    row.updated_at = Set(Utc::now());
    words.response = row.update(&txn).await?;
    if submitted {
        check_complete(view, &words)?;
        after_submission(
            &txn,
            state,
            user,
            view,
            &words,
            "consultation_response.changed",
            &response,
        )
        .await?;
    }
    txn.commit().await?;
    if submitted {
        state.outbox_ready.notify_one();
    }
    Ok(words)
}

/// Saves the respondent's details, answers and any comments on sections of
/// the current version (by anchor), all or nothing.
#[tracing::instrument(skip_all)]
pub async fn save(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    input: &ResponseInput,
    comments: &[(String, String)],
) -> Result<ResponseDetail, AppError> {
    let mut errors = Vec::new();
    let about = check_about(input, &mut errors);
    let answers = check_answers(&view.questions, input, &mut errors);
    let comments = check_comments(view, comments, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    write(
        state,
        user,
        view,
        Edit {
            about: Some(about),
            answers,
            comments,
        },
    )
    .await
}

/// Saves the respondent's comment on one section of the current version.
#[tracing::instrument(skip_all)]
pub async fn save_comment(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    anchor: &str,
    body: &str,
) -> Result<ResponseDetail, AppError> {
    let section = view.section(anchor).ok_or(AppError::NotFound)?;
    let mut errors = Vec::new();
    let body = SECTION_COMMENT.check(body, &mut errors).unwrap_or_default();
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let comments = vec![(anchor.to_owned(), section.title.clone(), body)];
    write(
        state,
        user,
        view,
        Edit {
            about: None,
            answers: HashMap::new(),
            comments,
        },
    )
    .await
}

/// Submits the respondent's saved response and returns it as submitted. A
/// retried request with the same idempotency key answers as the first did,
/// even after closing.
#[tracing::instrument(skip_all)]
pub async fn submit(
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    key: Option<&IdempotencyKey>,
) -> Result<ResponseDetail, AppError> {
    let txn = crate::db::begin_write_in_group(&state.db).await?;
    if let Some(key) = key
        && let Some(id) = idempotency::replay(&txn, user.id, key).await?
    {
        // Waits for the commit of the request that made it.
        txn.commit().await?;
        let first = consultation_responses::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .ok_or(AppError::NotFound)?;
        return detail(&state.db, first).await;
    }
    let consultation = fresh(&txn, view.consultation.id).await?;
    may_respond(&consultation, &view.audience, user, true)?;
    let response = crate::db::locked(&txn, response_of(view, user))
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
    after_submission(&txn, state, user, view, &detail, action, &response).await?;
    if let Some(key) = key {
        idempotency::remember(&txn, user.id, key, saved.id).await?;
    }
    // Last: see count_submission.
    crate::auth::rate_limit::count_submission(&txn, user.id, state.settings.submissions_per_hour)
        .await?;
    txn.commit().await?;
    state.outbox_ready.notify_one();
    Ok(detail)
}

/// What the audit trail keeps of a response on each side of a change (the
/// words themselves are in the response and its receipts).
fn summary(r: &consultation_responses::Model) -> serde_json::Value {
    json!({
        "status": r.status,
        "consent": r.consent,
        "capacity": r.capacity,
        "organisation": r.organisation_name,
        "interests_declared": r.interests_declared,
        "version": r.version,
    })
}

/// The audit event, the search index entry and the emailed receipt (a copy
/// of the response as it now stands) for a submission or a change to one.
async fn after_submission(
    txn: &WriteTransaction,
    state: &AppState,
    user: &users::Model,
    view: &ConsultationView,
    detail: &ResponseDetail,
    action: &str,
    before: &consultation_responses::Model,
) -> Result<(), AppError> {
    let response = &detail.response;
    let mut after = summary(response);
    after["consultation"] = json!(view.consultation.slug);
    after["answers"] = json!(detail.answers.len());
    after["comments"] = json!(detail.comments.len());
    audit::record(
        txn,
        AuditEvent {
            actor: Some(user.id),
            action,
            subject_type: SUBJECT,
            subject_id: Some(response.id),
            before: Some(summary(before)),
            after: Some(after),
        },
    )
    .await?;
    audit::changed(txn, SUBJECT, response.id).await?;
    let link = state.settings.link(&format!(
        "/consultations/{}/response",
        view.consultation.slug
    ));
    let message = crate::consultations::emails::receipt(&user.email, view, detail, &link)?;
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
    let message = crate::consultations::emails::resume(&user.email, &view.consultation, &link)?;
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
