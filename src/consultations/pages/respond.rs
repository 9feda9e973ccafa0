//! Responding: a comment from a section's own page, and the response form
//! (about you, publication consent, the questions) saved as a draft,
//! submitted, changed until closing, or emailed as a link to carry on.

use askama::Template;
use poem::web::{Data, Html, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use super::SectionView;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::domain::RespondentType;
use crate::auth::policy::{self, Permission};
use crate::consultations::authoring::{self, ConsultationView};
use crate::consultations::domain::{AGREEMENT, Capacity, Consent, Phase, QuestionKind};
use crate::consultations::responding::{self, ResponseDetail, ResponseInput, answer_field};
use crate::error::AppError;
use crate::idempotency::{self, IdempotencyKey};
use crate::uk_time;
use crate::web::forms::{Choice, Errors, Fields, choices, refusal};
use crate::web::page::{PageContext, render, render_with_status, see_other};

#[derive(Template)]
#[template(path = "consultations/section.html")]
struct SectionPage {
    page: PageContext,
    view: ConsultationView,
    section: SectionView,
    comment: String,
    errors: Errors,
    closes: String,
}

#[handler]
pub async fn section_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, anchor)): Path<(String, String)>,
) -> Result<Html<String>, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let view = authoring::visible_view(&state.db, &caller, &slug).await?;
    let section = view.section(&anchor).ok_or(AppError::NotFound)?;
    let comment = responding::mine(&state.db, view.consultation.id, user.id)
        .await?
        .and_then(|d| {
            d.comment_on(view.document.number, &anchor)
                .map(|c| c.body.clone())
        })
        .unwrap_or_default();
    render(&SectionPage {
        page: PageContext::new(&caller, &state.key),
        section: SectionView::of(section, super::top_level(&view)),
        closes: uk_time::display(view.consultation.closes_at),
        view,
        comment,
        errors: Errors::default(),
    })
}

#[handler]
pub async fn section_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, anchor)): Path<(String, String)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let view = authoring::visible_view(&state.db, &caller, &slug).await?;
    let section = view.section(&anchor).ok_or(AppError::NotFound)?.clone();
    let comment = fields.get("comment");
    match responding::save_comment(&state, user, &view, &anchor, comment).await {
        Ok(_) => Ok(see_other(&format!(
            "/consultations/{slug}?commented={anchor}#{anchor}"
        ))),
        Err(err) => {
            // Everything refused here is shown against the one field the page has.
            let (found, status) = refusal(err, "comment")?;
            let mut errors = Errors::default();
            for e in found.list() {
                errors.add("comment", e.message.clone());
            }
            render_with_status(
                &SectionPage {
                    page: PageContext::new(&caller, &state.key),
                    section: SectionView::of(&section, super::top_level(&view)),
                    closes: uk_time::display(view.consultation.closes_at),
                    view,
                    comment: comment.to_owned(),
                    errors,
                },
                status,
            )
        }
    }
}

/// A question as the form shows it.
pub struct QuestionField {
    pub field: String,
    pub kind: QuestionKind,
    /// "2. How long should tokens last? (optional)"
    pub legend: String,
    pub hint: String,
    pub choices: Vec<Choice>,
    pub text: String,
}

/// A comment listed on the response form.
pub struct CommentLine {
    pub anchor: String,
    pub title: String,
    pub version: i32,
    pub body: String,
    /// Only comments on the current version can be changed.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "consultations/response.html")]
struct ResponsePage {
    page: PageContext,
    view: ConsultationView,
    questions: Vec<QuestionField>,
    comments: Vec<CommentLine>,
    capacities: Vec<Choice>,
    consents: Vec<Choice>,
    interest_choices: Vec<Choice>,
    input: ResponseInput,
    is_supplier: bool,
    submitted: bool,
    closes: String,
    errors: Errors,
    notice: Option<&'static str>,
    submission_key: String,
    /// Replies from the board to this response.
    notes: crate::triage::notes::NotesView,
}

fn question_fields(view: &ConsultationView, input: &ResponseInput) -> Vec<QuestionField> {
    view.questions
        .iter()
        .map(|q| {
            let given = input.answers.get(&q.model.id).cloned().unwrap_or_default();
            let options: Vec<(String, String)> = match q.kind {
                QuestionKind::AgreementScale => AGREEMENT
                    .iter()
                    .enumerate()
                    .map(|(i, label)| ((i + 1).to_string(), (*label).to_owned()))
                    .collect(),
                _ => q.options.iter().map(|o| (o.clone(), o.clone())).collect(),
            };
            let optional = if q.model.required { "" } else { " (optional)" };
            let hint = match q.kind {
                QuestionKind::MultiChoice if q.model.help_text.is_empty() => {
                    "Select all that apply".to_owned()
                }
                _ => q.model.help_text.clone(),
            };
            QuestionField {
                field: answer_field(q.model.id),
                kind: q.kind,
                legend: format!("{}. {}{optional}", q.number(), q.model.prompt),
                hint,
                choices: choices(
                    options.iter().map(|(v, l)| (v.as_str(), l.as_str())),
                    &given,
                ),
                text: if q.kind == QuestionKind::FreeText {
                    given.join("\n")
                } else {
                    String::new()
                },
            }
        })
        .collect()
}

fn input_of(view: &ConsultationView, detail: Option<&ResponseDetail>) -> ResponseInput {
    let Some(d) = detail else {
        return ResponseInput::default();
    };
    let r = &d.response;
    ResponseInput {
        capacity: r.capacity.clone(),
        organisation_name: r.organisation_name.clone().unwrap_or_default(),
        interests: match r.interests_declared {
            Some(true) => "yes".to_owned(),
            Some(false) => "no".to_owned(),
            None => String::new(),
        },
        products_affected: r.products_affected.clone(),
        commercial_interest: r.commercial_interest.clone(),
        consent: r.consent.clone(),
        answers: view
            .questions
            .iter()
            .map(|q| (q.model.id, d.values(q)))
            .collect(),
    }
}

fn form_input(view: &ConsultationView, fields: &Fields) -> ResponseInput {
    ResponseInput {
        capacity: fields.get("capacity").to_owned(),
        organisation_name: fields.get("organisation_name").to_owned(),
        interests: fields.get("interests").to_owned(),
        products_affected: fields.get("products_affected").to_owned(),
        commercial_interest: fields.get("commercial_interest").to_owned(),
        consent: fields.get("consent").to_owned(),
        answers: view
            .questions
            .iter()
            .map(|q| (q.model.id, fields.all(&answer_field(q.model.id))))
            .collect(),
    }
}

fn response_page(
    state: &AppState,
    caller: &Caller,
    view: ConsultationView,
    detail: Option<&ResponseDetail>,
    input: ResponseInput,
    errors: Errors,
    notice: Option<&'static str>,
) -> ResponsePage {
    let comments = detail
        .map(|d| {
            d.comments
                .iter()
                .map(|c| CommentLine {
                    anchor: c.anchor.clone(),
                    title: c.section_title.clone(),
                    version: c.version_number,
                    body: c.body.clone(),
                    current: c.version_number == view.document.number
                        && view.section(&c.anchor).is_some(),
                })
                .collect()
        })
        .unwrap_or_default();
    let is_supplier = caller
        .user
        .as_ref()
        .and_then(|u| u.respondent_type.as_deref())
        == Some(RespondentType::Supplier.as_str());
    ResponsePage {
        page: PageContext::new(caller, &state.key),
        questions: question_fields(&view, &input),
        comments,
        capacities: choices(
            Capacity::ALL.iter().map(|c| (c.as_str(), c.label())),
            std::slice::from_ref(&input.capacity),
        ),
        consents: choices(
            Consent::ALL.iter().map(|c| (c.as_str(), c.label())),
            std::slice::from_ref(&input.consent),
        ),
        interest_choices: choices(
            [("yes", "Yes, I have interests to declare"), ("no", "No")].into_iter(),
            std::slice::from_ref(&input.interests),
        ),
        is_supplier,
        submitted: detail.is_some_and(|d| d.response.status == "submitted"),
        closes: uk_time::display(view.consultation.closes_at),
        input,
        errors,
        notice,
        submission_key: Uuid::now_v7().to_string(),
        notes: Default::default(),
        view,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResponseParams {
    saved: Option<String>,
    submitted: Option<String>,
    changed: Option<String>,
    emailed: Option<String>,
}

#[handler]
pub async fn response_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    Query(params): Query<ResponseParams>,
) -> Result<Html<String>, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let view = authoring::visible_view(&state.db, &caller, &slug).await?;
    if view.phase == Phase::Draft {
        return Err(AppError::NotFound);
    }
    if !view.audience.admits(user.respondent_type.as_deref()) && user.respondent_type.is_some() {
        return Err(AppError::Forbidden);
    }
    let detail = responding::mine(&state.db, view.consultation.id, user.id).await?;
    let notice = if params.submitted.is_some() {
        Some(
            "Your response has been submitted. We have emailed you a copy. You can change it until the consultation closes.",
        )
    } else if params.changed.is_some() {
        Some(
            "Your changes have been saved. We have emailed you a copy of your response as it now stands.",
        )
    } else if params.saved.is_some() {
        Some(
            "Your draft has been saved. Come back to it at any time before the consultation closes.",
        )
    } else if params.emailed.is_some() {
        Some("We have emailed you a link to carry on with your response on any device.")
    } else {
        None
    };
    let input = input_of(&view, detail.as_ref());
    let page = response_page(
        &state,
        &caller,
        view,
        detail.as_ref(),
        input,
        Errors::default(),
        notice,
    );
    render(&with_replies(&state, &caller, page, detail.as_ref()).await?)
}

#[handler]
pub async fn response_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let view = authoring::visible_view(&state.db, &caller, &slug).await?;
    let input = form_input(&view, &fields);
    let action = fields.get("action");
    let key = match fields.get("submission_key") {
        k if Uuid::parse_str(k).is_ok() => IdempotencyKey::parse(
            Some(k),
            &format!("submit-response:{}", view.consultation.id),
            &(),
        )?,
        _ => None,
    };
    // The same form sent twice (a double click) was answered the first time.
    if action == "submit"
        && let Some(key) = &key
        && idempotency::replay(&state.db, user.id, key)
            .await?
            .is_some()
    {
        return Ok(see_other(&format!(
            "/consultations/{slug}/response?submitted=1"
        )));
    }
    let outcome = match responding::save(&state, user, &view, &input, &[]).await {
        // Saving never submits: a response submitted before is changed by it
        // (its receipt sent again when something changed).
        Ok(saved) if saved.response.status == "submitted" => Ok("changed=1"),
        Ok(_) if action == "submit" => responding::submit(&state, user, &view, key.as_ref())
            .await
            .map(|_| "submitted=1"),
        Ok(_) if action == "email" => responding::email_resume_link(&state, user, &view)
            .await
            .map(|_| "emailed=1"),
        Ok(_) => Ok("saved=1"),
        Err(err) => Err(err),
    };
    match outcome {
        Ok(query) => Ok(see_other(&format!(
            "/consultations/{slug}/response?{query}"
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "submit")?;
            let detail = responding::mine(&state.db, view.consultation.id, user.id).await?;
            let page = response_page(&state, &caller, view, detail.as_ref(), input, errors, None);
            render_with_status(
                &with_replies(&state, &caller, page, detail.as_ref()).await?,
                status,
            )
            .map(IntoResponse::into_response)
        }
    }
}

/// Replies from the board to a submitted response, for its respondent.
async fn with_replies(
    state: &AppState,
    caller: &Caller,
    mut page: ResponsePage,
    detail: Option<&ResponseDetail>,
) -> Result<ResponsePage, AppError> {
    if let Some(d) = detail.filter(|d| d.response.status == "submitted") {
        page.notes = crate::triage::notes::view(
            &state.db,
            caller,
            crate::triage::inbox::InboxKind::Response,
            d.response.id,
            String::new(),
        )
        .await?;
    }
    Ok(page)
}
