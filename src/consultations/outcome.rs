//! "You said, we did": per section, what respondents said (as far as their
//! consent allows, with redactions applied) and what the board decided and
//! why; published as a page and as Markdown, CSV and JSON, and every
//! respondent is emailed when it is published.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use entity::{consultations, users};
use poem_openapi::Object;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::analysis::{self, ResponseRow};
use super::authoring::{self, ConsultationView};
use super::domain::{Capacity, Consent, Disposition, OUTCOME_SUMMARY, Phase};
use super::responding;
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::domain::RespondentType;
use crate::email;
use crate::error::{AppError, FieldError};

/// How many responses came from one kind of respondent.
#[derive(Debug, Clone, Serialize, Object)]
pub struct TypeCount {
    pub respondent_type: String,
    pub label: String,
    pub count: u64,
}

/// One published comment and the board's decision on it.
#[derive(Debug, Clone, Serialize, Object)]
pub struct SaidAndDid {
    /// The respondent's name (and organisation when they responded for one),
    /// or "Anonymous respondent".
    pub respondent: String,
    pub respondent_type: String,
    /// What they said, with any redaction applied.
    pub said: String,
    /// The disposition code (HL7 ballot codes).
    pub disposition: String,
    pub disposition_label: String,
    pub rationale: String,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct OutcomeSection {
    pub version: i32,
    pub anchor: String,
    pub title: String,
    /// Every comment received on the section, published or not.
    pub comments_received: u64,
    /// Decisions by disposition label, over every comment received.
    pub decisions: Vec<DecisionCount>,
    pub comments: Vec<SaidAndDid>,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct DecisionCount {
    pub disposition: String,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, Object)]
pub struct Outcome {
    pub consultation: String,
    pub title: String,
    pub published: bool,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    /// The board's summary, in Markdown.
    pub summary: String,
    /// Every submitted response, including those not published.
    pub total_responses: u64,
    /// Responses whose respondents allowed publication.
    pub published_responses: u64,
    pub by_respondent_type: Vec<TypeCount>,
    pub sections: Vec<OutcomeSection>,
}

fn who(row: &ResponseRow) -> String {
    let r = &row.detail.response;
    match Consent::parse(&r.consent) {
        Some(Consent::Named) => match (
            &r.organisation_name,
            r.capacity == Capacity::Organisation.as_str(),
        ) {
            (Some(org), true) => format!("{} ({org})", row.name),
            _ => row.name.clone(),
        },
        _ => "Anonymous respondent".to_owned(),
    }
}

/// The outcome as it stands (a preview for the board until published).
pub fn build(view: &ConsultationView, rows: &[ResponseRow]) -> Outcome {
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for row in rows {
        *by_type
            .entry(row.detail.response.respondent_type.as_str())
            .or_default() += 1;
    }
    let by_respondent_type = RespondentType::ALL
        .iter()
        .filter_map(|t| {
            by_type.get(t.as_str()).map(|count| TypeCount {
                respondent_type: t.as_str().to_owned(),
                label: t.label().to_owned(),
                count: *count,
            })
        })
        .collect();
    let publishable = |row: &ResponseRow| {
        Consent::parse(&row.detail.response.consent).is_some_and(Consent::publishable)
    };
    let sections = analysis::by_section(view, rows)
        .into_iter()
        .filter(|s| !s.comments.is_empty())
        .map(|section| {
            let decisions = Disposition::ALL
                .iter()
                .map(|d| DecisionCount {
                    disposition: d.as_str().to_owned(),
                    label: d.label().to_owned(),
                    count: section
                        .comments
                        .iter()
                        .filter(|(c, _)| c.disposition.as_deref() == Some(d.as_str()))
                        .count() as u64,
                })
                .filter(|d| d.count > 0)
                .collect();
            let comments = section
                .comments
                .iter()
                .filter_map(|(comment, _)| {
                    let row = rows
                        .iter()
                        .find(|r| r.detail.response.id == comment.response_id)?;
                    if !publishable(row) {
                        return None;
                    }
                    let disposition = comment.disposition.as_deref().and_then(Disposition::parse);
                    Some(SaidAndDid {
                        respondent: who(row),
                        respondent_type: row.respondent_type_label().to_owned(),
                        said: comment
                            .redacted_body
                            .clone()
                            .unwrap_or_else(|| comment.body.clone()),
                        disposition: disposition
                            .map(|d| d.as_str().to_owned())
                            .unwrap_or_default(),
                        disposition_label: disposition
                            .map_or("Not yet decided", Disposition::label)
                            .to_owned(),
                        rationale: comment.rationale.clone(),
                    })
                })
                .collect();
            OutcomeSection {
                version: section.version,
                anchor: section.anchor,
                title: section.title,
                comments_received: section.comments.len() as u64,
                decisions,
                comments,
            }
        })
        .collect();
    Outcome {
        consultation: view.consultation.slug.clone(),
        title: view.consultation.title.clone(),
        published: view.phase == Phase::OutcomePublished,
        published_at: view.consultation.outcome_published_at,
        summary: view.consultation.outcome_summary.clone(),
        total_responses: rows.len() as u64,
        published_responses: rows.iter().filter(|r| publishable(r)).count() as u64,
        by_respondent_type,
        sections,
    }
}

/// The outcome of the consultation at `slug`: for anyone once published,
/// for the board (as a preview) before; not found for anyone else.
pub async fn for_caller(
    conn: &impl sea_orm::ConnectionTrait,
    caller: &crate::auth::caller::Caller,
    slug: &str,
) -> Result<(ConsultationView, Outcome), AppError> {
    use crate::auth::policy::{self, Permission};
    let view = authoring::visible_view(conn, caller, slug).await?;
    if view.phase != Phase::OutcomePublished
        && !policy::allows_caller(caller, Permission::ManageConsultations)
    {
        return Err(AppError::NotFound);
    }
    let rows = analysis::submitted(conn, &view).await?;
    let built = build(&view, &rows);
    Ok((view, built))
}

/// The outcome as Markdown, for people who edit it into other reports.
/// The summary is the board's Markdown and goes in as written; everything
/// else is plain text, escaped so that whatever renders the file shows it
/// as the page does and never as markup or a link.
pub fn markdown(outcome: &Outcome) -> String {
    use crate::markdown::escape;
    // Line by line, so that the line breaks people typed stay.
    let lines =
        |text: &str, separator: &str| text.lines().map(escape).collect::<Vec<_>>().join(separator);
    let mut out = format!("# You said, we did: {}\n\n", escape(&outcome.title));
    if !outcome.summary.is_empty() {
        out.push_str(&outcome.summary);
        out.push_str("\n\n");
    }
    out.push_str(&format!(
        "## Responses\n\n{} responses were received; {} of them may be published.\n\n| Respondent type | Responses |\n|---|---|\n",
        outcome.total_responses, outcome.published_responses
    ));
    for t in &outcome.by_respondent_type {
        out.push_str(&format!("| {} | {} |\n", t.label, t.count));
    }
    for section in &outcome.sections {
        out.push_str(&format!(
            "\n## {} (version {})\n\n{} comments received.\n",
            escape(&section.title),
            section.version,
            section.comments_received
        ));
        for c in &section.comments {
            out.push_str(&format!(
                "\n**{}** ({})\n\n> {}\n\n**{}**: {}\n",
                escape(&c.respondent),
                escape(&c.respondent_type),
                lines(&c.said, "  \n> "),
                c.disposition_label,
                lines(&c.rationale, "  \n")
            ));
        }
    }
    out
}

/// One row per published comment.
pub fn csv(outcome: &Outcome) -> Result<String, AppError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record([
            "section",
            "version",
            "respondent",
            "respondent_type",
            "said",
            "disposition",
            "rationale",
        ])
        .map_err(AppError::internal)?;
    for section in &outcome.sections {
        for c in &section.comments {
            writer
                .write_record([
                    &crate::text::defuse_csv_cell(&section.title),
                    &section.version.to_string(),
                    &crate::text::defuse_csv_cell(&c.respondent),
                    &c.respondent_type,
                    &crate::text::defuse_csv_cell(&c.said),
                    &c.disposition,
                    &crate::text::defuse_csv_cell(&c.rationale),
                ])
                .map_err(AppError::internal)?;
        }
    }
    let bytes = writer.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}

/// Publishes the outcome: the consultation must have closed and every
/// section comment must have a disposition. Every respondent is emailed.
#[tracing::instrument(skip_all)]
pub async fn publish(
    state: &AppState,
    actor: &users::Model,
    consultation: &consultations::Model,
    summary: &str,
) -> Result<consultations::Model, AppError> {
    let mut errors = Vec::new();
    let summary = OUTCOME_SUMMARY.check(summary, &mut errors);
    let Some(summary) = summary else {
        return Err(AppError::Validation(errors));
    };
    let view = authoring::view(&state.db, consultation.clone(), None).await?;
    match view.phase {
        Phase::Closed => {}
        Phase::OutcomePublished => {
            return Err(AppError::Conflict(
                "The outcome has already been published, or the consultation is open again"
                    .to_owned(),
            ));
        }
        _ => {
            return Err(AppError::Conflict(format!(
                "The outcome can be published once the consultation has closed ({})",
                crate::uk_time::display(consultation.closes_at)
            )));
        }
    }
    let rows = analysis::submitted(&state.db, &view).await?;
    let undecided: usize = rows
        .iter()
        .flat_map(|r| r.detail.comments.iter())
        .filter(|c| c.disposition.is_none())
        .count();
    if undecided > 0 {
        return Err(AppError::Validation(vec![FieldError::new(
            "outcome_summary",
            format!(
                "{undecided} section {} no disposition yet. Decide every comment before publishing the outcome",
                if undecided == 1 {
                    "comment has"
                } else {
                    "comments have"
                }
            ),
        )]));
    }
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now();
    let updated = consultations::Entity::update_many()
        .col_expr(
            consultations::Column::Status,
            Expr::value("outcome_published"),
        )
        .col_expr(
            consultations::Column::OutcomeSummary,
            Expr::value(summary.clone()),
        )
        .col_expr(consultations::Column::OutcomePublishedAt, Expr::value(now))
        .col_expr(
            consultations::Column::Version,
            Expr::col(consultations::Column::Version).add(1),
        )
        .col_expr(consultations::Column::UpdatedAt, Expr::value(now))
        .filter(consultations::Column::Id.eq(consultation.id))
        .filter(consultations::Column::Status.eq("published"))
        // Closed by the clock now, not when the page was read.
        .filter(consultations::Column::ClosesAt.lte(now))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::Conflict(
            "The outcome has already been published, or the consultation is open again".to_owned(),
        ));
    }
    let link = state
        .settings
        .link(&format!("/consultations/{}/outcome", consultation.slug));
    let respondent_ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|r| r.detail.response.respondent_id)
        .collect();
    let mut addresses: BTreeMap<Uuid, String> = BTreeMap::new();
    for chunk in respondent_ids.chunks(500) {
        for u in users::Entity::find()
            .filter(users::Column::Id.is_in(chunk.to_vec()))
            .all(&txn)
            .await?
        {
            addresses.insert(u.id, u.email);
        }
    }
    let mut emailed = 0;
    for row in &rows {
        let r = &row.detail.response;
        let to = r
            .respondent_id
            .and_then(|id| addresses.get(&id).cloned())
            .or_else(|| r.respondent_email.clone());
        if let Some(to) = to {
            let message = super::emails::outcome(&to, consultation, &link)?;
            if email::enqueue(&txn, &format!("consultation-outcome:{}", r.id), message).await? {
                emailed += 1;
            }
        }
    }
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "consultation.outcome_published",
            subject_type: authoring::SUBJECT,
            subject_id: Some(consultation.id),
            before: Some(json!({ "status": consultation.status })),
            after: Some(json!({ "status": "outcome_published", "respondents_emailed": emailed })),
        },
    )
    .await?;
    audit::changed(&txn, authoring::SUBJECT, consultation.id).await?;
    // Responses whose respondents consented become public now.
    responding::reindex_all(&txn, consultation).await?;
    txn.commit().await?;
    state.outbox_ready.notify_one();
    let mut after = consultation.clone();
    after.status = "outcome_published".to_owned();
    after.outcome_summary = summary;
    after.outcome_published_at = Some(now);
    after.version = consultation.version + 1;
    Ok(after)
}
