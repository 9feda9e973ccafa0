//! Responding to a consultation: a draft saved as often as people like,
//! comments made from each section, submission before closing, edits until
//! closing, an emailed receipt and an emailed link to carry on elsewhere.
//! `checks` holds the rules on what is sent, `write` the transactions.

mod checks;
mod write;

pub(super) use checks::{check_import, stored_answers};
pub use write::{email_resume_link, save, save_comment, submit};
pub(super) use write::{store_answers, store_comment};

use std::collections::HashMap;

use entity::{consultation_answers, consultation_responses, consultations, section_comments};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::authoring::Question;
use super::domain::{AGREEMENT, QuestionKind};
use crate::audit;
use crate::error::AppError;

pub const SUBJECT: &str = "consultation_response";

/// A response with its answers (by question) and section comments.
#[derive(Debug, Clone)]
pub struct ResponseDetail {
    pub response: consultation_responses::Model,
    pub answers: HashMap<Uuid, consultation_answers::Model>,
    pub comments: Vec<section_comments::Model>,
}

impl ResponseDetail {
    /// A response just made, which has no words yet.
    pub fn without_words(response: consultation_responses::Model) -> Self {
        ResponseDetail {
            response,
            answers: HashMap::new(),
            comments: Vec::new(),
        }
    }

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
        // Comments made in one save share their time.
        .order_by_asc(section_comments::Column::Id)
        .all(conn)
        .await?;
    Ok(ResponseDetail {
        response,
        answers,
        comments,
    })
}

/// Marks every response to a consultation changed, for the search index
/// (their visibility follows the consultation's outcome).
pub async fn reindex_all(
    txn: &crate::db::WriteTransaction,
    consultation: &consultations::Model,
) -> Result<(), AppError> {
    let ids: Vec<Uuid> = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(consultation.id))
        .filter(consultation_responses::Column::Status.eq("submitted"))
        .all(txn)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    for id in ids {
        audit::changed(txn, SUBJECT, id).await?;
    }
    Ok(())
}
