//! The board's analysis pages: the overview with per-question charts,
//! campaigns and sections; the responses list with filters; one response
//! with themes and redaction; one section's comments with dispositions;
//! and the CSV and JSON exports.

use std::collections::HashMap;

use askama::Template;
use entity::{section_comments, themes};
use poem::web::{Data, Html, Path, Query};
use poem::{Response, handler};
use uuid::Uuid;

use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::domain::RespondentType;
use crate::consultations::analysis::{
    self, Campaign, QuestionSummary, Redaction, ResponseFilter, ResponseRow, ThemeTarget,
};
use crate::consultations::authoring::{self, ConsultationView};
use crate::consultations::domain::{Capacity, Consent, Disposition, QuestionKind};
use crate::consultations::export;
use crate::consultations::responding::readable;
use crate::error::AppError;
use crate::web::chart::{self, Bar};
use crate::web::forms::{Choice, Errors, Fields, choices, refusal};
use crate::web::page::{PageContext, download, render, render_with_status, see_other};

/// A question's summary with its chart.
pub struct SummaryView {
    pub summary: QuestionSummary,
    pub chart_svg: String,
}

pub struct TypeRow {
    pub label: &'static str,
    pub count: usize,
}

#[derive(Template)]
#[template(path = "consultations/analysis.html")]
struct OverviewPage {
    page: PageContext,
    view: ConsultationView,
    total: usize,
    by_type: Vec<TypeRow>,
    type_chart_svg: String,
    summaries: Vec<SummaryView>,
    campaigns: Vec<Campaign>,
    sections: Vec<analysis::SectionComments>,
    undecided: usize,
}

#[handler]
pub async fn overview(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let rows = analysis::submitted(&state.db, &view).await?;
    let rows = analysis::with_campaigns(&view, rows).await?;
    let by_type: Vec<TypeRow> = RespondentType::ALL
        .iter()
        .map(|t| TypeRow {
            label: t.label(),
            count: rows
                .iter()
                .filter(|r| r.detail.response.respondent_type == t.as_str())
                .count(),
        })
        .filter(|t| t.count > 0)
        .collect();
    let type_chart_svg = chart::bars(
        "Responses by respondent type",
        &by_type
            .iter()
            .map(|t| Bar {
                label: t.label.to_owned(),
                value: t.count as u64,
            })
            .collect::<Vec<_>>(),
    );
    let summaries = analysis::summaries(&view.questions, &rows)
        .into_iter()
        .map(|summary| {
            let chart_svg = if summary.question.kind == QuestionKind::FreeText {
                String::new()
            } else {
                chart::bars(
                    &format!("Answers to question {}", summary.question.number()),
                    &summary
                        .counts
                        .iter()
                        .map(|c| Bar {
                            label: c.label.clone(),
                            value: c.count as u64,
                        })
                        .collect::<Vec<_>>(),
                )
            };
            SummaryView { summary, chart_svg }
        })
        .collect();
    let sections: Vec<analysis::SectionComments> = analysis::by_section(&view, &rows);
    render(&OverviewPage {
        page: PageContext::new(&caller, &state.key),
        total: rows.len(),
        undecided: sections.iter().map(|s| s.undecided).sum(),
        campaigns: analysis::campaigns(&view, &rows),
        by_type,
        type_chart_svg,
        summaries,
        sections,
        view,
    })
}

#[derive(Template)]
#[template(path = "consultations/responses.html")]
struct ResponsesPage {
    page: PageContext,
    view: ConsultationView,
    rows: Vec<ResponseRow>,
    total: usize,
    filter: ResponseFilter,
    types: Vec<Choice>,
    interests: Vec<Choice>,
    campaigns: Vec<Choice>,
    questions: Vec<Choice>,
    csv_link: String,
    json_link: String,
}

impl ResponsesPage {
    fn consent_label(&self, raw: &str) -> &'static str {
        Consent::parse(raw).map_or("Not given", Consent::label)
    }
}

#[handler]
pub async fn responses(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    Query(filter): Query<ResponseFilter>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let all = analysis::submitted(&state.db, &view).await?;
    let all = analysis::with_campaigns(&view, all).await?;
    let total = all.len();
    let found = analysis::campaigns(&view, &all);
    let rows = analysis::filter(all, &view.questions, &filter);
    let campaign_labels: Vec<(String, String)> = found
        .iter()
        .map(|c| {
            (
                c.number.to_string(),
                format!("Campaign {} ({} responses)", c.number, c.count),
            )
        })
        .collect();
    let question_labels: Vec<(String, String)> = view
        .questions
        .iter()
        .map(|q| {
            (
                q.model.id.to_string(),
                format!("Question {} answered", q.number()),
            )
        })
        .collect();
    render(&ResponsesPage {
        page: PageContext::new(&caller, &state.key),
        types: choices(
            RespondentType::ALL.iter().map(|t| (t.as_str(), t.label())),
            std::slice::from_ref(&filter.respondent_type),
        ),
        interests: choices(
            [
                ("yes", "Declared interests"),
                ("no", "No interests declared"),
            ]
            .into_iter(),
            std::slice::from_ref(&filter.interests),
        ),
        campaigns: choices(
            campaign_labels
                .iter()
                .map(|(v, l)| (v.as_str(), l.as_str())),
            std::slice::from_ref(&filter.campaign),
        ),
        questions: choices(
            question_labels
                .iter()
                .map(|(v, l)| (v.as_str(), l.as_str())),
            std::slice::from_ref(&filter.question),
        ),
        csv_link: format!("/consultations/{slug}/analysis/responses.csv"),
        json_link: format!("/consultations/{slug}/analysis/responses.json"),
        rows,
        total,
        filter,
        view,
    })
}

/// An answer as the board sees it: what was written and what is published.
pub struct AnswerView {
    pub question_id: Uuid,
    pub heading: String,
    pub text: String,
    pub published: Option<String>,
    pub free_text: bool,
}

/// A section comment with its disposition form.
pub struct CommentCard {
    pub comment: section_comments::Model,
    pub respondent: String,
    pub respondent_type: &'static str,
    pub response_id: Uuid,
    pub dispositions: Vec<Choice>,
    pub rationale: String,
    pub disposition_label: &'static str,
    pub disposition_error: Option<String>,
    pub rationale_error: Option<String>,
    pub themes: Vec<Choice>,
}

fn comment_card(
    comment: &section_comments::Model,
    row: &ResponseRow,
    all_themes: &[themes::Model],
    tagged: &HashMap<Uuid, Vec<themes::Model>>,
    typed: Option<(&str, &str, &Errors)>,
) -> CommentCard {
    let (disposition, rationale, errors) = match typed {
        Some((d, r, e)) => (d.to_owned(), r.to_owned(), Some(e)),
        None => (
            comment.disposition.clone().unwrap_or_default(),
            comment.rationale.clone(),
            None,
        ),
    };
    let on: Vec<String> = tagged
        .get(&comment.id)
        .map(|t| t.iter().map(|t| t.slug.clone()).collect())
        .unwrap_or_default();
    CommentCard {
        respondent: row.name.clone(),
        respondent_type: row.respondent_type_label(),
        response_id: row.detail.response.id,
        dispositions: choices(
            Disposition::ALL.iter().map(|d| (d.as_str(), d.label())),
            &[disposition],
        ),
        rationale,
        disposition_label: comment
            .disposition
            .as_deref()
            .and_then(Disposition::parse)
            .map_or("Not yet decided", Disposition::label),
        disposition_error: errors.and_then(|e| e.get("disposition")).map(str::to_owned),
        rationale_error: errors.and_then(|e| e.get("rationale")).map(str::to_owned),
        themes: choices(
            all_themes
                .iter()
                .map(|t| (t.slug.as_str(), t.name.as_str())),
            &on,
        ),
        comment: comment.clone(),
    }
}

#[derive(Template)]
#[template(path = "consultations/analysis_response.html")]
struct ResponsePage {
    page: PageContext,
    view: ConsultationView,
    row: ResponseRow,
    answers: Vec<AnswerView>,
    comments: Vec<CommentCard>,
    themes: Vec<Choice>,
    capacity: &'static str,
    consent: &'static str,
    errors: Errors,
    reason: String,
    notice: Option<&'static str>,
    notes: crate::triage::notes::NotesView,
}

async fn response_page(
    state: &AppState,
    caller: &Caller,
    view: ConsultationView,
    id: Uuid,
    errors: Errors,
    reason: String,
    notice: Option<&'static str>,
) -> Result<ResponsePage, AppError> {
    let rows = analysis::submitted(&state.db, &view).await?;
    let rows = analysis::with_campaigns(&view, rows).await?;
    let row = rows
        .into_iter()
        .find(|r| r.detail.response.id == id)
        .ok_or(AppError::NotFound)?;
    let all_themes = crate::ideas::themes::list(&state.db, true).await?;
    let comment_ids: Vec<Uuid> = row.detail.comments.iter().map(|c| c.id).collect();
    let tagged = analysis::themes_of(&state.db, analysis::COMMENT_SUBJECT, &comment_ids).await?;
    let answers = view
        .questions
        .iter()
        .filter_map(|q| {
            let a = row.detail.answers.get(&q.model.id)?;
            Some(AnswerView {
                question_id: q.model.id,
                heading: format!("{}. {}", q.number(), q.model.prompt),
                text: readable(q.kind, &a.value),
                published: a.redacted_value.clone(),
                free_text: q.kind == QuestionKind::FreeText,
            })
        })
        .collect();
    let comments = row
        .detail
        .comments
        .iter()
        .map(|c| comment_card(c, &row, &all_themes, &tagged, None))
        .collect();
    let on: Vec<String> = row.themes.iter().map(|t| t.slug.clone()).collect();
    let notes = crate::triage::notes::view(
        &state.db,
        caller,
        crate::triage::inbox::InboxKind::Response,
        id,
        String::new(),
    )
    .await?;
    Ok(ResponsePage {
        notes,
        page: PageContext::new(caller, &state.key),
        themes: choices(
            all_themes
                .iter()
                .map(|t| (t.slug.as_str(), t.name.as_str())),
            &on,
        ),
        capacity: Capacity::parse(&row.detail.response.capacity)
            .map_or("Not given", Capacity::label),
        consent: Consent::parse(&row.detail.response.consent).map_or("Not given", Consent::label),
        answers,
        comments,
        row,
        view,
        errors,
        reason,
        notice,
    })
}

impl ResponsePage {
    fn answer_field(&self, question: &Uuid) -> String {
        format!("published-answer-{question}")
    }

    fn comment_field(&self, comment: &Uuid) -> String {
        format!("published-comment-{comment}")
    }
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct NoticeParams {
    saved: Option<String>,
    redacted: Option<String>,
}

#[handler]
pub async fn response(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    Query(params): Query<NoticeParams>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let notice = if params.redacted.is_some() {
        Some("The redaction has been saved. The original stays here for the board.")
    } else if params.saved.is_some() {
        Some("Saved.")
    } else {
        None
    };
    render(
        &response_page(
            &state,
            &caller,
            view,
            id,
            Errors::default(),
            String::new(),
            notice,
        )
        .await?,
    )
}

#[handler]
pub async fn response_themes(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    analysis::set_themes(
        &state.db,
        &user,
        view.consultation.id,
        ThemeTarget::Response(id),
        &fields.all("themes"),
    )
    .await?;
    Ok(see_other(&format!(
        "/consultations/{slug}/analysis/responses/{id}?saved=1"
    )))
}

#[handler]
pub async fn redact(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let mut redaction = Redaction {
        reason: fields.get("reason").to_owned(),
        ..Default::default()
    };
    for (prefix, target) in [
        ("answer-", &mut redaction.answers),
        ("comment-", &mut redaction.comments),
    ] {
        for (name, value) in fields.pairs() {
            if let Some(key) = name
                .strip_prefix(prefix)
                .and_then(|k| Uuid::parse_str(k).ok())
            {
                target.insert(key, value.to_owned());
            }
        }
    }
    match analysis::redact(&state.db, &user, &view.consultation, id, &redaction).await {
        Ok(()) => Ok(see_other(&format!(
            "/consultations/{slug}/analysis/responses/{id}?redacted=1#redaction"
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "reason")?;
            render_with_status(
                &response_page(&state, &caller, view, id, errors, redaction.reason, None).await?,
                status,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "consultations/analysis_section.html")]
struct SectionPage {
    page: PageContext,
    view: ConsultationView,
    section: analysis::SectionComments,
    comments: Vec<CommentCard>,
    errors: Errors,
    notice: Option<&'static str>,
}

async fn section_page(
    state: &AppState,
    caller: &Caller,
    view: ConsultationView,
    version: i32,
    anchor: &str,
    typed: Option<(Uuid, &str, &str, &Errors)>,
    notice: Option<&'static str>,
) -> Result<SectionPage, AppError> {
    let rows = analysis::submitted(&state.db, &view).await?;
    let section = analysis::by_section(&view, &rows)
        .into_iter()
        .find(|s| s.version == version && s.anchor == anchor)
        .ok_or(AppError::NotFound)?;
    let all_themes = crate::ideas::themes::list(&state.db, true).await?;
    let ids: Vec<Uuid> = section.comments.iter().map(|(c, _)| c.id).collect();
    let tagged = analysis::themes_of(&state.db, analysis::COMMENT_SUBJECT, &ids).await?;
    let comments = section
        .comments
        .iter()
        .filter_map(|(c, _)| {
            let row = rows
                .iter()
                .find(|r| r.detail.response.id == c.response_id)?;
            let typed_here = typed
                .filter(|(id, ..)| *id == c.id)
                .map(|(_, d, r, e)| (d, r, e));
            Some(comment_card(c, row, &all_themes, &tagged, typed_here))
        })
        .collect();
    let mut errors = Errors::default();
    if let Some((id, _, _, e)) = typed {
        for err in e.list() {
            errors.add(&format!("{}-{id}", err.field), err.message.clone());
        }
    }
    Ok(SectionPage {
        page: PageContext::new(caller, &state.key),
        view,
        section,
        comments,
        errors,
        notice,
    })
}

#[handler]
pub async fn comments_on_section(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, version, anchor)): Path<(String, i32, String)>,
    Query(params): Query<NoticeParams>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let notice = params.saved.is_some().then_some("Saved.");
    render(&section_page(&state, &caller, view, version, &anchor, None, notice).await?)
}

/// Where a decision form sends the board member back to.
fn back_to(slug: &str, fields: &Fields, comment: &section_comments::Model) -> String {
    match fields.get("back") {
        "response" => format!(
            "/consultations/{slug}/analysis/responses/{}?saved=1#comment-{}",
            comment.response_id, comment.id
        ),
        _ => format!(
            "/consultations/{slug}/analysis/sections/{}/{}?saved=1#comment-{}",
            comment.version_number, comment.anchor, comment.id
        ),
    }
}

#[handler]
pub async fn decide(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let comment = analysis::find_comment(&state.db, view.consultation.id, id).await?;
    let (disposition, rationale) = (fields.get("disposition"), fields.get("rationale"));
    match analysis::decide(
        &state.db,
        &user,
        &view.consultation,
        id,
        disposition,
        rationale,
    )
    .await
    {
        Ok(saved) => Ok(see_other(&back_to(&slug, &fields, &saved))),
        Err(err) => {
            let (errors, status) = refusal(err, "disposition")?;
            render_with_status(
                &section_page(
                    &state,
                    &caller,
                    view,
                    comment.version_number,
                    &comment.anchor,
                    Some((id, disposition, rationale, &errors)),
                    None,
                )
                .await?,
                status,
            )
        }
    }
}

#[handler]
pub async fn comment_themes(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    // The comment also says where the board member came from.
    let comment = analysis::find_comment(&state.db, view.consultation.id, id).await?;
    analysis::set_themes(
        &state.db,
        &user,
        view.consultation.id,
        ThemeTarget::Comment(id),
        &fields.all("themes"),
    )
    .await?;
    Ok(see_other(&back_to(&slug, &fields, &comment)))
}

async fn exported(
    state: &AppState,
    caller: &Caller,
    slug: &str,
) -> Result<(ConsultationView, Vec<export::ExportedResponse>), AppError> {
    let (_, view) = authoring::board_view(&state.db, caller, slug).await?;
    let rows = analysis::submitted(&state.db, &view).await?;
    let rows = analysis::with_campaigns(&view, rows).await?;
    let out = export::responses(&state.db, &view, &rows).await?;
    Ok((view, out))
}

#[handler]
pub async fn export_csv(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (view, out) = exported(&state, &caller, &slug).await?;
    Ok(download(
        export::csv(&out)?,
        "text/csv; charset=utf-8",
        &format!("{}-responses.csv", view.consultation.slug),
    ))
}

#[handler]
pub async fn export_json(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let (view, out) = exported(&state, &caller, &slug).await?;
    let body = serde_json::to_string_pretty(&out).map_err(AppError::internal)?;
    Ok(download(
        body,
        "application/json",
        &format!("{}-responses.json", view.consultation.slug),
    ))
}
