//! The board's export of every submitted response, with answers, comments,
//! themes and dispositions: JSON (one object per response) and CSV (one row
//! per answer or comment, ready for a spreadsheet).

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::Serialize;
use uuid::Uuid;

use super::analysis::ResponseRow;
use super::authoring::ConsultationView;
use super::responding::readable;
use crate::error::AppError;

#[derive(Debug, Clone, Serialize, Object)]
pub struct ExportedAnswer {
    pub question_id: Uuid,
    pub number: i32,
    pub question: String,
    pub answer: String,
    /// The text published when it was redacted.
    #[oai(nullable)]
    pub published_answer: Option<String>,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct ExportedComment {
    pub id: Uuid,
    pub version: i32,
    pub anchor: String,
    pub section: String,
    pub comment: String,
    #[oai(nullable)]
    pub published_comment: Option<String>,
    pub themes: Vec<String>,
    #[oai(nullable)]
    pub disposition: Option<String>,
    pub rationale: String,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct ExportedResponse {
    pub id: Uuid,
    #[oai(nullable)]
    pub submitted_at: Option<DateTime<Utc>>,
    pub respondent: String,
    pub respondent_type: String,
    pub capacity: String,
    #[oai(nullable)]
    pub organisation: Option<String>,
    /// None when the respondent was not asked (only suppliers must say).
    #[oai(nullable)]
    pub interests_declared: Option<bool>,
    pub products_affected: String,
    pub commercial_interest: String,
    pub consent: String,
    /// web or import
    pub source: String,
    #[oai(nullable)]
    pub campaign: Option<u64>,
    pub themes: Vec<String>,
    #[oai(nullable)]
    pub redaction_reason: Option<String>,
    pub answers: Vec<ExportedAnswer>,
    pub comments: Vec<ExportedComment>,
}

/// Every row as exported, with the themes of its comments.
pub async fn responses(
    conn: &impl sea_orm::ConnectionTrait,
    view: &ConsultationView,
    rows: &[ResponseRow],
) -> Result<Vec<ExportedResponse>, AppError> {
    let comment_ids: Vec<Uuid> = rows
        .iter()
        .flat_map(|r| r.detail.comments.iter().map(|c| c.id))
        .collect();
    let comment_themes =
        super::analysis::themes_of(conn, super::analysis::COMMENT_SUBJECT, &comment_ids).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let r = &row.detail.response;
            ExportedResponse {
                id: r.id,
                submitted_at: r.submitted_at,
                respondent: row.name.clone(),
                respondent_type: r.respondent_type.clone(),
                capacity: r.capacity.clone(),
                organisation: r.organisation_name.clone(),
                interests_declared: r.interests_declared,
                products_affected: r.products_affected.clone(),
                commercial_interest: r.commercial_interest.clone(),
                consent: r.consent.clone(),
                source: r.source.clone(),
                campaign: row.campaign.map(|c| c as u64),
                themes: row.themes.iter().map(|t| t.name.clone()).collect(),
                redaction_reason: r.redaction_reason.clone(),
                answers: view
                    .questions
                    .iter()
                    .filter_map(|q| {
                        let a = row.detail.answers.get(&q.model.id)?;
                        Some(ExportedAnswer {
                            question_id: q.model.id,
                            number: q.number(),
                            question: q.model.prompt.clone(),
                            answer: readable(q.kind, &a.value),
                            published_answer: a
                                .redacted_value
                                .as_ref()
                                .map(|v| readable(q.kind, v)),
                        })
                    })
                    .collect(),
                comments: row
                    .detail
                    .comments
                    .iter()
                    .map(|c| ExportedComment {
                        id: c.id,
                        version: c.version_number,
                        anchor: c.anchor.clone(),
                        section: c.section_title.clone(),
                        comment: c.body.clone(),
                        published_comment: c.redacted_body.clone(),
                        themes: comment_themes
                            .get(&c.id)
                            .map(|t| t.iter().map(|t| t.name.clone()).collect())
                            .unwrap_or_default(),
                        disposition: c.disposition.clone(),
                        rationale: c.rationale.clone(),
                    })
                    .collect(),
            }
        })
        .collect())
}

pub fn csv(exported: &[ExportedResponse]) -> Result<String, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "response_id",
            "submitted_at",
            "respondent",
            "respondent_type",
            "capacity",
            "organisation",
            "interests_declared",
            "products_affected",
            "commercial_interest",
            "consent",
            "source",
            "campaign",
            "response_themes",
            "redaction_reason",
            "item",
            "question_or_section",
            "version",
            "text",
            "published_text",
            "comment_themes",
            "disposition",
            "rationale",
        ])
        .map_err(AppError::internal)?;
    for r in exported {
        let base = [
            r.id.to_string(),
            r.submitted_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            crate::text::defuse_csv_cell(&r.respondent),
            r.respondent_type.clone(),
            r.capacity.clone(),
            crate::text::defuse_csv_cell(r.organisation.as_deref().unwrap_or_default()),
            match r.interests_declared {
                Some(true) => "yes".to_owned(),
                Some(false) => "no".to_owned(),
                None => String::new(),
            },
            crate::text::defuse_csv_cell(&r.products_affected),
            crate::text::defuse_csv_cell(&r.commercial_interest),
            r.consent.clone(),
            r.source.clone(),
            r.campaign.map(|c| c.to_string()).unwrap_or_default(),
            r.themes.join("; "),
            crate::text::defuse_csv_cell(r.redaction_reason.as_deref().unwrap_or_default()),
        ];
        let mut write = |rest: [String; 8]| {
            writer
                .write_record(base.iter().cloned().chain(rest))
                .map_err(AppError::internal)
        };
        for a in &r.answers {
            write([
                "answer".to_owned(),
                crate::text::defuse_csv_cell(&format!("Q{}: {}", a.number, a.question)),
                String::new(),
                crate::text::defuse_csv_cell(&a.answer),
                crate::text::defuse_csv_cell(a.published_answer.as_deref().unwrap_or_default()),
                String::new(),
                String::new(),
                String::new(),
            ])?;
        }
        for c in &r.comments {
            write([
                "comment".to_owned(),
                crate::text::defuse_csv_cell(&c.section),
                c.version.to_string(),
                crate::text::defuse_csv_cell(&c.comment),
                crate::text::defuse_csv_cell(c.published_comment.as_deref().unwrap_or_default()),
                c.themes.join("; "),
                c.disposition.clone().unwrap_or_default(),
                crate::text::defuse_csv_cell(&c.rationale),
            ])?;
        }
        if r.answers.is_empty() && r.comments.is_empty() {
            write(Default::default())?;
        }
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}
