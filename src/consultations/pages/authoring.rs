//! The board's pages for writing a consultation: details and document,
//! questions, publishing, and new versions of a published document.

use askama::Template;
use entity::consultations;
use poem::web::{Data, Html, Path, Query};
use poem::{Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::consultations::authoring::{self, ConsultationView, QuestionEdit};
use crate::consultations::domain::{
    AudienceGroup, ConsultationInput, Phase, QuestionInput, QuestionKind,
};
use crate::error::{AppError, FieldError};
use crate::uk_time;
use crate::web::forms::{Choice, Errors, Fields, choices, refusal};
use crate::web::page::{PageContext, render, render_with_status, see_other};

/// The details form as typed: times as a UK date and time each.
#[derive(Debug, Default, Clone)]
pub struct DetailsForm {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub audience: Vec<String>,
    pub opens_date: String,
    pub opens_time: String,
    pub closes_date: String,
    pub closes_time: String,
    pub document: String,
    pub version: String,
}

impl DetailsForm {
    fn of(view: &ConsultationView) -> Self {
        let c = &view.consultation;
        DetailsForm {
            slug: c.slug.clone(),
            title: c.title.clone(),
            summary: c.summary.clone(),
            audience: view
                .audience
                .values()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            opens_date: uk_time::date_value(c.opens_at),
            opens_time: uk_time::time_value(c.opens_at),
            closes_date: uk_time::date_value(c.closes_at),
            closes_time: uk_time::time_value(c.closes_at),
            document: view.document.document.clone(),
            version: c.version.to_string(),
        }
    }

    fn read(fields: &Fields) -> Self {
        DetailsForm {
            slug: fields.get("slug").to_owned(),
            title: fields.get("title").to_owned(),
            summary: fields.get("summary").to_owned(),
            audience: fields.all("audience"),
            opens_date: fields.get("opens_date").to_owned(),
            opens_time: fields.get("opens_time").to_owned(),
            closes_date: fields.get("closes_date").to_owned(),
            closes_time: fields.get("closes_time").to_owned(),
            document: fields.get("document").to_owned(),
            version: fields.get("version").to_owned(),
        }
    }

    /// The input with its times read, and any problems reading them.
    fn input(&self) -> (ConsultationInput, Vec<FieldError>) {
        let mut errors = Vec::new();
        let mut time = |field: &str, date: &str, time: &str, missing: &str| {
            if date.trim().is_empty() {
                errors.push(FieldError::new(field, missing));
                return None;
            }
            uk_time::parse(date, time)
                .map_err(|m| errors.push(FieldError::new(field, m)))
                .ok()
        };
        let opens_at = time(
            "opens_at",
            &self.opens_date,
            &self.opens_time,
            "Enter when the consultation opens",
        );
        let closes_at = time(
            "closes_at",
            &self.closes_date,
            &self.closes_time,
            "Enter when the consultation closes",
        );
        (
            ConsultationInput {
                slug: self.slug.clone(),
                title: self.title.clone(),
                summary: self.summary.clone(),
                audience: self.audience.clone(),
                opens_at,
                closes_at,
                document: self.document.clone(),
            },
            errors,
        )
    }
}

/// A question as listed on the edit page.
pub struct QuestionLine {
    pub id: Uuid,
    pub number: i32,
    pub prompt: String,
    pub kind: &'static str,
    pub required: bool,
    pub options: Vec<String>,
}

#[derive(Template)]
#[template(path = "consultations/edit.html")]
struct EditPage {
    page: PageContext,
    /// None while creating.
    existing: Option<ConsultationView>,
    form: DetailsForm,
    audiences: Vec<Choice>,
    errors: Errors,
    questions: Vec<QuestionLine>,
    question: QuestionFormView,
    notice: Option<&'static str>,
    /// Drafts change everything; published consultations their title,
    /// summary and closing time.
    all_editable: bool,
}

impl EditPage {
    fn opens_display(&self) -> String {
        self.existing
            .as_ref()
            .map(|v| uk_time::display(v.consultation.opens_at))
            .unwrap_or_default()
    }
}

/// The add-or-change question form.
pub struct QuestionFormView {
    pub kinds: Vec<Choice>,
    pub prompt: String,
    pub help_text: String,
    pub required: bool,
    pub options: String,
    pub errors: Errors,
}

impl QuestionFormView {
    fn of(input: &QuestionInput, errors: Errors) -> Self {
        QuestionFormView {
            kinds: choices(
                QuestionKind::ALL.iter().map(|k| (k.as_str(), k.label())),
                std::slice::from_ref(&input.kind),
            ),
            prompt: input.prompt.clone(),
            help_text: input.help_text.clone(),
            required: input.required,
            options: input.options.join("\n"),
            errors,
        }
    }

    fn read(fields: &Fields) -> QuestionInput {
        QuestionInput {
            kind: fields.get("kind").to_owned(),
            prompt: fields.get("prompt").to_owned(),
            help_text: fields.get("help_text").to_owned(),
            required: fields.ticked("required"),
            options: fields.get("options").lines().map(str::to_owned).collect(),
        }
    }
}

fn lines(view: &ConsultationView) -> Vec<QuestionLine> {
    view.questions
        .iter()
        .map(|q| QuestionLine {
            id: q.model.id,
            number: q.number(),
            prompt: q.model.prompt.clone(),
            kind: q.kind.label(),
            required: q.model.required,
            options: q.options.clone(),
        })
        .collect()
}

fn edit_page(
    caller: &Caller,
    state: &AppState,
    existing: Option<ConsultationView>,
    form: DetailsForm,
    errors: Errors,
    question: QuestionFormView,
    notice: Option<&'static str>,
) -> EditPage {
    EditPage {
        page: PageContext::new(caller, &state.key),
        all_editable: existing.as_ref().is_none_or(|v| v.phase == Phase::Draft),
        audiences: choices(
            AudienceGroup::ALL.iter().map(|g| (g.as_str(), g.label())),
            &form.audience,
        ),
        questions: existing.as_ref().map(lines).unwrap_or_default(),
        existing,
        form,
        errors,
        question,
        notice,
    }
}

/// The details form again, with what was refused.
fn details_refused(
    caller: &Caller,
    state: &AppState,
    existing: Option<ConsultationView>,
    form: DetailsForm,
    errors: Errors,
    status: poem::http::StatusCode,
) -> Result<Response, AppError> {
    let question = QuestionFormView::of(&QuestionInput::default(), Errors::default());
    render_with_status(
        &edit_page(caller, state, existing, form, errors, question, None),
        status,
    )
}

#[handler]
pub async fn new_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::ManageConsultations)?;
    let form = DetailsForm {
        audience: vec!["everyone".to_owned()],
        opens_time: "09:00".into(),
        closes_time: "17:00".into(),
        ..Default::default()
    };
    render(&edit_page(
        &caller,
        &state,
        None,
        form,
        Errors::default(),
        QuestionFormView::of(&QuestionInput::default(), Errors::default()),
        None,
    ))
}

#[handler]
pub async fn new_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageConsultations)?;
    let form = DetailsForm::read(&fields);
    let (input, time_errors) = form.input();
    let result = match input.validate(time_errors) {
        Ok(details) => authoring::create(&state.db, user, details).await,
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(created) => Ok(see_other(&format!(
            "/consultations/{}/edit?created=1",
            created.slug
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "slug")?;
            details_refused(&caller, &state, None, form, errors, status)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EditParams {
    created: Option<String>,
    saved: Option<String>,
    published: Option<String>,
    question: Option<String>,
}

#[handler]
pub async fn edit_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    Query(params): Query<EditParams>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let notice = if params.created.is_some() {
        Some(
            "The consultation has been created as a draft. Add its questions, preview it, then publish it.",
        )
    } else if params.published.is_some() {
        Some("The consultation has been published. It opens at its opening time.")
    } else if params.saved.is_some() {
        Some("Your changes have been saved.")
    } else if params.question.is_some() {
        Some("The questions have been updated.")
    } else {
        None
    };
    let form = DetailsForm::of(&view);
    render(&edit_page(
        &caller,
        &state,
        Some(view),
        form,
        Errors::default(),
        QuestionFormView::of(&QuestionInput::default(), Errors::default()),
        notice,
    ))
}

#[handler]
pub async fn edit_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let form = DetailsForm::read(&fields);
    let (mut input, mut time_errors) = form.input();
    if view.phase != Phase::Draft {
        // Fixed once published: the page shows them without inputs, and the
        // stored values (to the second) are what the change is checked against.
        input.slug = view.consultation.slug.clone();
        input.opens_at = Some(view.consultation.opens_at);
        input.audience = view
            .audience
            .values()
            .into_iter()
            .map(str::to_owned)
            .collect();
        input.document = view.document.document.clone();
        time_errors.retain(|e| e.field != "opens_at");
    }
    let result = match input.validate(time_errors) {
        Ok(details) => {
            authoring::update(
                &state.db,
                &user,
                view.consultation.id,
                details,
                form.version.parse().ok(),
            )
            .await
        }
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(updated) => Ok(see_other(&format!(
            "/consultations/{}/edit?saved=1",
            updated.slug
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "title")?;
            details_refused(&caller, &state, Some(view), form, errors, status)
        }
    }
}

#[handler]
pub async fn publish_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    match authoring::publish(
        &state.db,
        &user,
        view.consultation.id,
        fields.get("version").parse().ok(),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!(
            "/consultations/{slug}/edit?published=1"
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "publish")?;
            let form = DetailsForm::of(&view);
            details_refused(&caller, &state, Some(view), form, errors, status)
        }
    }
}

#[handler]
pub async fn question_add(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let input = QuestionFormView::read(&fields);
    let result = match input.validate() {
        Ok(details) => authoring::add_question(&state.db, &user, view.consultation.id, details)
            .await
            .map(|_| ()),
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/consultations/{slug}/edit?question=1#questions"
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "prompt")?;
            let form = DetailsForm::of(&view);
            render_with_status(
                &edit_page(
                    &caller,
                    &state,
                    Some(view),
                    form,
                    errors.clone(),
                    QuestionFormView::of(&input, errors),
                    None,
                ),
                status,
            )
        }
    }
}

/// Move up, move down or remove a question.
#[handler]
pub async fn question_action(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let edit = match fields.get("action") {
        "up" => QuestionEdit::MoveUp,
        "down" => QuestionEdit::MoveDown,
        "remove" => QuestionEdit::Remove,
        _ => {
            return Err(AppError::BadRequest(
                "Choose move up, move down or remove".to_owned(),
            ));
        }
    };
    authoring::edit_question(&state.db, &user, view.consultation.id, id, edit).await?;
    Ok(see_other(&format!(
        "/consultations/{slug}/edit?question=1#questions"
    )))
}

#[derive(Template)]
#[template(path = "consultations/question.html")]
struct QuestionPage {
    page: PageContext,
    consultation: consultations::Model,
    id: Uuid,
    number: i32,
    question: QuestionFormView,
}

#[handler]
pub async fn question_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let q = view
        .questions
        .iter()
        .find(|q| q.model.id == id)
        .ok_or(AppError::NotFound)?;
    let input = QuestionInput {
        kind: q.kind.as_str().to_owned(),
        prompt: q.model.prompt.clone(),
        help_text: q.model.help_text.clone(),
        required: q.model.required,
        options: q.options.clone(),
    };
    render(&QuestionPage {
        page: PageContext::new(&caller, &state.key),
        number: q.number(),
        id,
        question: QuestionFormView::of(&input, Errors::default()),
        consultation: view.consultation,
    })
}

#[handler]
pub async fn question_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((slug, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let number = view
        .questions
        .iter()
        .find(|q| q.model.id == id)
        .ok_or(AppError::NotFound)?
        .number();
    let input = QuestionFormView::read(&fields);
    let result = match input.validate() {
        Ok(details) => {
            authoring::edit_question(
                &state.db,
                &user,
                view.consultation.id,
                id,
                QuestionEdit::Replace(details),
            )
            .await
        }
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(()) => Ok(see_other(&format!(
            "/consultations/{slug}/edit?question=1#questions"
        ))),
        Err(err) => {
            let (errors, status) = refusal(err, "prompt")?;
            render_with_status(
                &QuestionPage {
                    page: PageContext::new(&caller, &state.key),
                    number,
                    id,
                    question: QuestionFormView::of(&input, errors),
                    consultation: view.consultation,
                },
                status,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "consultations/new_version.html")]
struct NewVersionPage {
    page: PageContext,
    view: ConsultationView,
    document: String,
    change_summary: String,
    errors: Errors,
}

#[handler]
pub async fn version_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
) -> Result<Html<String>, AppError> {
    let (_, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    if matches!(view.phase, Phase::Draft | Phase::OutcomePublished) {
        return Err(AppError::NotFound);
    }
    render(&NewVersionPage {
        page: PageContext::new(&caller, &state.key),
        document: view.document.document.clone(),
        change_summary: String::new(),
        errors: Errors::default(),
        view,
    })
}

#[handler]
pub async fn version_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(slug): Path<String>,
    fields: Fields,
) -> Result<Response, AppError> {
    let (user, view) = authoring::board_view(&state.db, &caller, &slug).await?;
    let (document, change_summary) = (fields.get("document"), fields.get("change_summary"));
    match authoring::new_version(
        &state.db,
        &user,
        view.consultation.id,
        document,
        change_summary,
        fields.get("version").parse().ok(),
    )
    .await
    {
        Ok(_) => Ok(see_other(&format!("/consultations/{slug}/edit?saved=1"))),
        Err(err) => {
            let (errors, status) = refusal(err, "document")?;
            render_with_status(
                &NewVersionPage {
                    page: PageContext::new(&caller, &state.key),
                    document: document.to_owned(),
                    change_summary: change_summary.to_owned(),
                    errors,
                    view,
                },
                status,
            )
        }
    }
}
