//! The board's analysis: responses with filters, per-question summaries,
//! comments by section, themes, dispositions, redaction and campaigns.

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use entity::{
    consultation_answers, consultation_responses, consultations, item_themes, section_comments,
    themes, users,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::authoring::{ConsultationView, Question};
use super::campaigns;
use super::domain::{AGREEMENT, Disposition, QuestionKind, RATIONALE, REDACTION_REASON};
use super::responding::{self, ResponseDetail};
use crate::audit::{self, AuditEvent};
use crate::auth::domain::RespondentType;
use crate::error::{AppError, FieldError};
use crate::text::TextField;

pub const COMMENT_SUBJECT: &str = "section_comment";

/// A submitted response as the board lists it.
#[derive(Debug, Clone)]
pub struct ResponseRow {
    pub detail: ResponseDetail,
    /// The respondent's name as the board sees it.
    pub name: String,
    pub themes: Vec<themes::Model>,
    /// The campaign it belongs to (1 is the largest), if any.
    pub campaign: Option<usize>,
}

impl ResponseRow {
    pub fn respondent_type_label(&self) -> &'static str {
        RespondentType::parse(&self.detail.response.respondent_type)
            .map_or("Other", RespondentType::label)
    }
}

/// How the board narrows the responses list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct ResponseFilter {
    pub respondent_type: String,
    /// Part of the organisation's name.
    pub organisation: String,
    /// "yes" or "no": whether interests were declared.
    pub interests: String,
    /// A question id and the answer it must have.
    pub question: String,
    pub answer: String,
    /// A campaign number: only its responses.
    pub campaign: String,
}

/// The text compared for campaigns: every free-text answer and comment.
fn campaign_text(view: &ConsultationView, detail: &ResponseDetail) -> String {
    let mut parts: Vec<&str> = view
        .questions
        .iter()
        .filter(|q| q.kind == QuestionKind::FreeText)
        .filter_map(|q| detail.answers.get(&q.model.id).map(|a| a.value.as_str()))
        .collect();
    parts.extend(detail.comments.iter().map(|c| c.body.as_str()));
    parts.join("\n")
}

/// Themes by subject id, for one kind of subject.
pub async fn themes_of(
    conn: &impl ConnectionTrait,
    subject_type: &str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<themes::Model>>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let all: HashMap<Uuid, themes::Model> = themes::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut out: HashMap<Uuid, Vec<themes::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for link in item_themes::Entity::find()
            .filter(item_themes::Column::SubjectType.eq(subject_type))
            .filter(item_themes::Column::SubjectId.is_in(chunk.to_vec()))
            .all(conn)
            .await?
        {
            if let Some(theme) = all.get(&link.theme_id) {
                out.entry(link.subject_id).or_default().push(theme.clone());
            }
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|t| t.position);
    }
    Ok(out)
}

/// Every submitted response to the consultation, in submission order, with
/// answers, comments and themes (`with_campaigns` numbers the campaigns).
pub async fn submitted(
    conn: &impl ConnectionTrait,
    view: &ConsultationView,
) -> Result<Vec<ResponseRow>, AppError> {
    let responses = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::ConsultationId.eq(view.consultation.id))
        .filter(consultation_responses::Column::Status.eq("submitted"))
        .order_by_asc(consultation_responses::Column::SubmittedAt)
        .order_by_asc(consultation_responses::Column::Id)
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = responses.iter().map(|r| r.id).collect();
    let mut answers: HashMap<Uuid, HashMap<Uuid, consultation_answers::Model>> = HashMap::new();
    let mut comments: HashMap<Uuid, Vec<section_comments::Model>> = HashMap::new();
    for chunk in ids.chunks(500) {
        for a in consultation_answers::Entity::find()
            .filter(consultation_answers::Column::ResponseId.is_in(chunk.to_vec()))
            .all(conn)
            .await?
        {
            answers
                .entry(a.response_id)
                .or_default()
                .insert(a.question_id, a);
        }
        for c in section_comments::Entity::find()
            .filter(section_comments::Column::ResponseId.is_in(chunk.to_vec()))
            .order_by_asc(section_comments::Column::VersionNumber)
            .order_by_asc(section_comments::Column::CreatedAt)
            .all(conn)
            .await?
        {
            comments.entry(c.response_id).or_default().push(c);
        }
    }
    let people =
        crate::auth::people::load(conn, responses.iter().filter_map(|r| r.respondent_id)).await?;
    let themes = themes_of(conn, responding::SUBJECT, &ids).await?;
    let rows: Vec<ResponseRow> = responses
        .into_iter()
        .map(|response| {
            let name = match response.respondent_id.and_then(|id| people.get(&id)) {
                Some(person) => person.name.clone(),
                None => response
                    .respondent_name
                    .clone()
                    .unwrap_or_else(|| "Former account".to_owned()),
            };
            ResponseRow {
                name,
                themes: themes.get(&response.id).cloned().unwrap_or_default(),
                campaign: None,
                detail: ResponseDetail {
                    answers: answers.remove(&response.id).unwrap_or_default(),
                    comments: comments.remove(&response.id).unwrap_or_default(),
                    response,
                },
            }
        })
        .collect();
    Ok(rows)
}

/// Numbers the campaigns among `rows`. Grouping is CPU work that grows with
/// the responses, so it runs off the request threads, and only for the
/// pages that show campaigns.
pub async fn with_campaigns(
    view: &ConsultationView,
    mut rows: Vec<ResponseRow>,
) -> Result<Vec<ResponseRow>, AppError> {
    let texts: Vec<(Uuid, String)> = rows
        .iter()
        .map(|r| (r.detail.response.id, campaign_text(view, &r.detail)))
        .collect();
    let groups = tokio::task::spawn_blocking(move || campaigns::group(&texts))
        .await
        .map_err(AppError::internal)?;
    let campaign_of: HashMap<Uuid, usize> = groups
        .iter()
        .enumerate()
        .flat_map(|(n, g)| g.iter().map(move |id| (*id, n + 1)))
        .collect();
    for row in &mut rows {
        row.campaign = campaign_of.get(&row.detail.response.id).copied();
    }
    Ok(rows)
}

/// A submitted response of this consultation, or not found.
pub async fn find_submitted(
    conn: &impl ConnectionTrait,
    consultation_id: Uuid,
    id: Uuid,
) -> Result<consultation_responses::Model, AppError> {
    consultation_responses::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|r| r.consultation_id == consultation_id && r.status == "submitted")
        .ok_or(AppError::NotFound)
}

/// A campaign: its number, how many responses, and the first as the example.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub number: usize,
    pub count: usize,
    pub example: Uuid,
    pub excerpt: String,
}

pub fn campaigns(view: &ConsultationView, rows: &[ResponseRow]) -> Vec<Campaign> {
    let mut by_number: BTreeMap<usize, Vec<&ResponseRow>> = BTreeMap::new();
    for row in rows {
        if let Some(n) = row.campaign {
            by_number.entry(n).or_default().push(row);
        }
    }
    by_number
        .into_iter()
        .filter_map(|(number, members)| {
            let first = members.first()?;
            let text = campaign_text(view, &first.detail);
            let excerpt: String = text.chars().take(240).collect();
            Some(Campaign {
                number,
                count: members.len(),
                example: first.detail.response.id,
                excerpt: if text.chars().count() > 240 {
                    format!("{excerpt}…")
                } else {
                    excerpt
                },
            })
        })
        .collect()
}

pub fn filter(
    rows: Vec<ResponseRow>,
    questions: &[Question],
    f: &ResponseFilter,
) -> Vec<ResponseRow> {
    let organisation = f.organisation.trim().to_lowercase();
    let question = Uuid::parse_str(f.question.trim())
        .ok()
        .and_then(|id| questions.iter().find(|q| q.model.id == id));
    let campaign: Option<usize> = f.campaign.trim().parse().ok();
    rows.into_iter()
        .filter(|r| {
            f.respondent_type.is_empty() || r.detail.response.respondent_type == f.respondent_type
        })
        .filter(|r| {
            organisation.is_empty()
                || r.detail
                    .response
                    .organisation_name
                    .as_deref()
                    .is_some_and(|o| o.to_lowercase().contains(&organisation))
        })
        .filter(|r| match f.interests.as_str() {
            "yes" => r.detail.response.interests_declared == Some(true),
            "no" => r.detail.response.interests_declared != Some(true),
            _ => true,
        })
        .filter(|r| match question {
            Some(q) if !f.answer.is_empty() => r.detail.values(q).contains(&f.answer),
            Some(q) => !r.detail.values(q).is_empty(),
            None => true,
        })
        .filter(|r| campaign.is_none() || r.campaign == campaign)
        .collect()
}

/// One bar of a question's summary.
#[derive(Debug, Clone)]
pub struct Count {
    pub label: String,
    /// The value filters use.
    pub value: String,
    pub count: usize,
    /// Of the responses that answered, 0 to 100.
    pub percent: u32,
}

#[derive(Debug, Clone)]
pub struct QuestionSummary {
    pub question: Question,
    pub answered: usize,
    pub counts: Vec<Count>,
    /// Free-text answers: the response id and the text.
    pub texts: Vec<(Uuid, String)>,
}

pub fn summaries(questions: &[Question], rows: &[ResponseRow]) -> Vec<QuestionSummary> {
    questions
        .iter()
        .map(|q| {
            let values: Vec<(Uuid, Vec<String>)> = rows
                .iter()
                .map(|r| (r.detail.response.id, r.detail.values(q)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let answered = values.len();
            let options: Vec<(String, String)> = match q.kind {
                QuestionKind::AgreementScale => AGREEMENT
                    .iter()
                    .enumerate()
                    .map(|(i, l)| ((i + 1).to_string(), (*l).to_owned()))
                    .collect(),
                QuestionKind::SingleChoice | QuestionKind::MultiChoice => {
                    q.options.iter().map(|o| (o.clone(), o.clone())).collect()
                }
                QuestionKind::FreeText => Vec::new(),
            };
            let counts = options
                .into_iter()
                .map(|(value, label)| {
                    let count = values.iter().filter(|(_, v)| v.contains(&value)).count();
                    let percent = (count * 100 + answered / 2)
                        .checked_div(answered)
                        .unwrap_or(0) as u32;
                    Count {
                        label,
                        value,
                        count,
                        percent,
                    }
                })
                .collect();
            let texts = if q.kind == QuestionKind::FreeText {
                values
                    .into_iter()
                    .map(|(id, v)| (id, v.join("\n")))
                    .collect()
            } else {
                Vec::new()
            };
            QuestionSummary {
                question: q.clone(),
                answered,
                counts,
                texts,
            }
        })
        .collect()
}

/// The comments on one section of one version.
#[derive(Debug, Clone)]
pub struct SectionComments {
    pub version: i32,
    pub anchor: String,
    pub title: String,
    pub comments: Vec<(section_comments::Model, String)>,
    pub undecided: usize,
}

/// Comments grouped by section, in document order for the current version
/// and then earlier versions' sections; each comment with its respondent's name.
pub fn by_section(view: &ConsultationView, rows: &[ResponseRow]) -> Vec<SectionComments> {
    let mut groups: Vec<SectionComments> = view
        .sections
        .iter()
        .map(|s| SectionComments {
            version: view.document.number,
            anchor: s.anchor.clone(),
            title: s.title.clone(),
            comments: Vec::new(),
            undecided: 0,
        })
        .collect();
    for row in rows {
        for comment in &row.detail.comments {
            let slot = groups
                .iter()
                .position(|g| g.version == comment.version_number && g.anchor == comment.anchor);
            let slot = match slot {
                Some(i) => i,
                None => {
                    groups.push(SectionComments {
                        version: comment.version_number,
                        anchor: comment.anchor.clone(),
                        title: comment.section_title.clone(),
                        comments: Vec::new(),
                        undecided: 0,
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[slot];
            if comment.disposition.is_none() {
                group.undecided += 1;
            }
            group.comments.push((comment.clone(), row.name.clone()));
        }
    }
    groups
}

/// Replaces the themes on a response or a section comment.
/// What the board tags with themes: a response or a section comment of the
/// consultation being analysed.
#[derive(Debug, Clone, Copy)]
pub enum ThemeTarget {
    Response(Uuid),
    Comment(Uuid),
}

/// Replaces the themes on a response or a section comment of this
/// consultation (not found when it belongs to another).
pub async fn set_themes(
    db: &DatabaseConnection,
    actor: &users::Model,
    consultation_id: Uuid,
    target: ThemeTarget,
    slugs: &[String],
) -> Result<Vec<themes::Model>, AppError> {
    let (subject_type, subject_id) = match target {
        ThemeTarget::Response(id) => {
            find_submitted(db, consultation_id, id).await?;
            (responding::SUBJECT, id)
        }
        ThemeTarget::Comment(id) => {
            find_comment(db, consultation_id, id).await?;
            (COMMENT_SUBJECT, id)
        }
    };
    let all = themes::Entity::find().all(db).await?;
    let mut chosen = Vec::new();
    for slug in slugs.iter().filter(|s| !s.trim().is_empty()) {
        match all.iter().find(|t| t.slug == slug.trim()) {
            Some(t) => {
                if !chosen.iter().any(|c: &themes::Model| c.id == t.id) {
                    chosen.push(t.clone());
                }
            }
            None => {
                return Err(AppError::Validation(vec![FieldError::new(
                    "themes",
                    format!("There is no theme called {slug}"),
                )]));
            }
        }
    }
    let txn = crate::db::begin_write(db).await?;
    let before: Vec<Uuid> = item_themes::Entity::find()
        .filter(item_themes::Column::SubjectType.eq(subject_type))
        .filter(item_themes::Column::SubjectId.eq(subject_id))
        .all(&txn)
        .await?
        .into_iter()
        .map(|l| l.theme_id)
        .collect();
    item_themes::Entity::delete_many()
        .filter(item_themes::Column::SubjectType.eq(subject_type))
        .filter(item_themes::Column::SubjectId.eq(subject_id))
        .exec(&txn)
        .await?;
    let now = Utc::now();
    for theme in &chosen {
        // Two board members tagging at once: the second's rows are already there.
        item_themes::Entity::insert(item_themes::ActiveModel {
            subject_type: Set(subject_type.to_owned()),
            subject_id: Set(subject_id),
            theme_id: Set(theme.id),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                item_themes::Column::SubjectType,
                item_themes::Column::SubjectId,
                item_themes::Column::ThemeId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "themes.set",
            subject_type,
            subject_id: Some(subject_id),
            before: Some(json!({ "themes": before })),
            after: Some(json!({ "themes": chosen.iter().map(|t| t.id).collect::<Vec<_>>() })),
        },
    )
    .await?;
    if subject_type == responding::SUBJECT {
        audit::changed(&txn, responding::SUBJECT, subject_id).await?;
    }
    txn.commit().await?;
    Ok(chosen)
}

pub async fn find_comment(
    conn: &impl ConnectionTrait,
    consultation_id: Uuid,
    id: Uuid,
) -> Result<section_comments::Model, AppError> {
    section_comments::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|c| c.consultation_id == consultation_id)
        .ok_or(AppError::NotFound)
}

/// Records the board's disposition of a section comment, with its rationale.
#[tracing::instrument(skip_all)]
pub async fn decide(
    db: &DatabaseConnection,
    actor: &users::Model,
    consultation: &consultations::Model,
    comment_id: Uuid,
    disposition: &str,
    rationale: &str,
) -> Result<section_comments::Model, AppError> {
    let mut errors = Vec::new();
    let disposition = Disposition::parse(disposition);
    if disposition.is_none() {
        errors.push(FieldError::new("disposition", "Choose a disposition"));
    }
    let rationale = RATIONALE.check(rationale, &mut errors);
    let (Some(disposition), Some(rationale)) = (disposition, rationale) else {
        return Err(AppError::Validation(errors));
    };
    if consultation.status == "outcome_published" {
        return Err(AppError::Conflict(
            "The outcome has been published, so dispositions can no longer change".to_owned(),
        ));
    }
    let txn = crate::db::begin_write(db).await?;
    let comment = find_comment(&txn, consultation.id, comment_id).await?;
    let before = json!({ "disposition": comment.disposition, "rationale": comment.rationale });
    let mut row: section_comments::ActiveModel = comment.into();
    let now = Utc::now();
    row.disposition = Set(Some(disposition.as_str().to_owned()));
    row.rationale = Set(rationale);
    row.decided_by = Set(Some(actor.id));
    row.decided_at = Set(Some(now));
    row.updated_at = Set(now);
    let saved = row.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "section_comment.decided",
            subject_type: COMMENT_SUBJECT,
            subject_id: Some(saved.id),
            before: Some(before),
            after: Some(json!({ "disposition": saved.disposition, "rationale": saved.rationale })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

/// The published text of each answer and comment, by id, where it differs
/// from what was written.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Redaction {
    pub reason: String,
    /// By question id.
    pub answers: HashMap<Uuid, String>,
    /// By section comment id.
    pub comments: HashMap<Uuid, String>,
}

/// Redacts personal details from a response before publication. The
/// original stays for the board; the reason is recorded.
#[tracing::instrument(skip_all)]
pub async fn redact(
    db: &DatabaseConnection,
    actor: &users::Model,
    consultation: &consultations::Model,
    response_id: Uuid,
    redaction: &Redaction,
) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let reason = REDACTION_REASON.check(&redaction.reason, &mut errors);
    let mut answers: HashMap<Uuid, Option<String>> = HashMap::new();
    for (question, value) in &redaction.answers {
        answers.insert(
            *question,
            check_published(&format!("published-answer-{question}"), value, &mut errors),
        );
    }
    let mut comments: HashMap<Uuid, Option<String>> = HashMap::new();
    for (comment, value) in &redaction.comments {
        comments.insert(
            *comment,
            check_published(&format!("published-comment-{comment}"), value, &mut errors),
        );
    }
    let Some(reason) = reason else {
        return Err(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let response = find_submitted(&txn, consultation.id, response_id).await?;
    let detail = responding::detail(&txn, response.clone()).await?;
    let now = Utc::now();
    for (question, published) in &answers {
        let answer = detail.answers.get(question).ok_or_else(|| {
            AppError::Validation(vec![FieldError::new(
                format!("published-answer-{question}"),
                "This response has no answer to that question",
            )])
        })?;
        let mut row: consultation_answers::ActiveModel = answer.clone().into();
        row.redacted_value = Set(published.clone().filter(|p| *p != answer.value));
        row.updated_at = Set(now);
        row.update(&txn).await?;
    }
    for (comment_id, published) in &comments {
        let comment = detail
            .comments
            .iter()
            .find(|c| c.id == *comment_id)
            .ok_or_else(|| {
                AppError::Validation(vec![FieldError::new(
                    format!("published-comment-{comment_id}"),
                    "This response has no such comment",
                )])
            })?;
        let mut row: section_comments::ActiveModel = comment.clone().into();
        row.redacted_body = Set(published.clone().filter(|p| *p != comment.body));
        row.updated_at = Set(now);
        row.update(&txn).await?;
    }
    let mut row: consultation_responses::ActiveModel = response.clone().into();
    row.redaction_reason = Set(Some(reason.clone()));
    row.redacted_by = Set(Some(actor.id));
    row.redacted_at = Set(Some(now));
    row.updated_at = Set(now);
    row.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "consultation_response.redacted",
            subject_type: responding::SUBJECT,
            subject_id: Some(response_id),
            // The reason and what was touched, never the personal details themselves.
            before: None,
            after: Some(json!({
                "reason": reason,
                "answers": answers.keys().collect::<Vec<_>>(),
                "comments": comments.keys().collect::<Vec<_>>(),
            })),
        },
    )
    .await?;
    audit::changed(&txn, responding::SUBJECT, response_id).await?;
    txn.commit().await?;
    Ok(())
}

/// The published text of an answer or comment: "" means "as written".
fn check_published(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let def = TextField {
        name: field,
        label: "Published text",
        max_chars: 20_000,
        multiline: true,
        required: None,
    };
    def.check(raw, errors)
}
