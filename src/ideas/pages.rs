//! Idea pages: list, submit (with preview and possible duplicates), the
//! idea itself with support and comments, and the board's status change.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Html, Path, Query};
use poem::{IntoResponse, Response, handler};
use serde::Deserialize;
use uuid::Uuid;

use super::domain::{Beneficiary, IdeaInput, IdeaSort, IdeaStatus};
use super::service::{self, CommentView, IdeaCard, IdeaDetail, IdeaFilter, StatusChange};
use super::themes as theme_service;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::idempotency::IdempotencyKey;
use crate::pagination::Cursor;
use crate::web::forms::{Choice, Errors, Fields, choices, refusal};
use crate::web::page::{PageContext, link_with_query, render, render_with_status, see_other};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListParams {
    theme: String,
    status: String,
    sort: String,
    cursor: String,
}

#[derive(Template)]
#[template(path = "ideas/list.html")]
struct ListPage {
    page: PageContext,
    ideas: Vec<IdeaCard>,
    themes: Vec<Choice>,
    statuses: Vec<Choice>,
    sorts: Vec<Choice>,
    next_page: Option<String>,
    first_page: Option<String>,
    filtered: bool,
}

fn list_url(params: &ListParams, cursor: Option<&str>) -> String {
    link_with_query(
        "/ideas",
        [
            ("theme", params.theme.as_str()),
            ("status", params.status.as_str()),
            ("sort", params.sort.as_str()),
            ("cursor", cursor.unwrap_or("")),
        ],
    )
}

#[handler]
pub async fn list(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Query(params): Query<ListParams>,
) -> Result<Html<String>, AppError> {
    let all_themes = theme_service::list(&state.db, false).await?;
    let theme = all_themes
        .iter()
        .find(|t| t.slug == params.theme)
        .map(|t| t.slug.clone());
    let filter = IdeaFilter {
        theme,
        status: IdeaStatus::parse(&params.status),
        author: None,
        sort: IdeaSort::parse(&params.sort),
        // A mangled cursor starts again from the first page rather than failing.
        cursor: Cursor::decode(&params.cursor).ok(),
        limit: 20,
    };
    let (ideas, next) = service::list(&state.db, &filter).await?;
    let selected_theme = [params.theme.clone()];
    let selected_status = [params.status.clone()];
    let selected_sort = [filter.sort.unwrap_or(IdeaSort::Newest).as_str().to_owned()];
    render(&ListPage {
        page: PageContext::new(&caller, &state.key),
        themes: choices(
            all_themes
                .iter()
                .map(|t| (t.slug.as_str(), t.name.as_str())),
            &selected_theme,
        ),
        statuses: choices(
            IdeaStatus::ALL.iter().map(|s| (s.as_str(), s.label())),
            &selected_status,
        ),
        sorts: choices(
            IdeaSort::ALL.iter().map(|s| (s.as_str(), s.label())),
            &selected_sort,
        ),
        next_page: next.map(|c| list_url(&params, Some(&c.encode()))),
        first_page: filter.cursor.is_some().then(|| list_url(&params, None)),
        filtered: filter.theme.is_some() || filter.status.is_some(),
        ideas,
    })
}

#[derive(Template)]
#[template(path = "ideas/new.html")]
struct NewIdeaPage {
    page: PageContext,
    form: IdeaInput,
    themes: Vec<Choice>,
    beneficiaries: Vec<Choice>,
    errors: Errors,
    /// The preview and possible duplicates, after "Continue".
    checking: bool,
    preview_html: String,
    similar: Vec<IdeaCard>,
    /// Sent back with the form so that submitting twice creates one idea.
    submission_key: String,
}

async fn new_idea_page(
    state: &AppState,
    caller: &Caller,
    form: IdeaInput,
    errors: Errors,
    checking: bool,
    submission_key: String,
) -> Result<NewIdeaPage, AppError> {
    let active = theme_service::list(&state.db, true).await?;
    let (preview_html, similar) = if checking {
        let similar = service::similar(state, caller, &form.title, &form.description, 5).await?;
        (
            crate::markdown::render(&form.description),
            similar.into_iter().map(|(card, _)| card).collect(),
        )
    } else {
        (String::new(), Vec::new())
    };
    Ok(NewIdeaPage {
        page: PageContext::new(caller, &state.key),
        themes: choices(
            active.iter().map(|t| (t.slug.as_str(), t.name.as_str())),
            &form.themes,
        ),
        beneficiaries: choices(
            Beneficiary::ALL.iter().map(|b| (b.as_str(), b.label())),
            &form.beneficiaries,
        ),
        form,
        errors,
        checking,
        preview_html,
        similar,
        submission_key,
    })
}

#[handler]
pub async fn new_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Contribute)?;
    render(
        &new_idea_page(
            &state,
            &caller,
            IdeaInput::default(),
            Errors::default(),
            false,
            Uuid::now_v7().to_string(),
        )
        .await?,
    )
}

fn idea_input(fields: &Fields) -> IdeaInput {
    // Keep what was typed, however long, so nothing is lost on an error;
    // the body limit bounds it.
    IdeaInput {
        title: fields.get("title").to_owned(),
        description: fields.get("description").to_owned(),
        themes: fields.all("themes"),
        beneficiaries: fields.all("beneficiaries"),
        expected_impact: fields.get("expected_impact").to_owned(),
    }
}

#[handler]
pub async fn new_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let form = idea_input(&fields);
    let submission_key = match fields.get("submission_key") {
        k if Uuid::parse_str(k).is_ok() => k.to_owned(),
        _ => Uuid::now_v7().to_string(),
    };
    let active = theme_service::list(&state.db, true).await?;
    let new = match form.validate(&active) {
        Ok(new) => new,
        Err(errors) => {
            return render_with_status(
                &new_idea_page(&state, &caller, form, errors.into(), false, submission_key).await?,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    if fields.get("action") != "submit" {
        return Ok(render(
            &new_idea_page(
                &state,
                &caller,
                form,
                Errors::default(),
                true,
                submission_key,
            )
            .await?,
        )?
        .into_response());
    }
    let key = IdempotencyKey::parse(Some(&submission_key), "create-idea", &form)?;
    let limit = state.settings.submissions_per_hour;
    let created = match service::create(&state.db, user, new, &active, key.as_ref(), limit).await {
        // The same form sent again after changing it: treat it as a new idea.
        Err(AppError::Conflict(_)) => {
            let key =
                IdempotencyKey::parse(Some(&Uuid::now_v7().to_string()), "create-idea", &form)?;
            let new = form.validate(&active).map_err(AppError::Validation)?;
            service::create(&state.db, user, new, &active, key.as_ref(), limit).await
        }
        other => other,
    };
    let created = match created {
        Ok(created) => created,
        Err(err) => {
            let (errors, status) = refusal(err, "submit")?;
            return render_with_status(
                &new_idea_page(&state, &caller, form, errors, true, submission_key).await?,
                status,
            );
        }
    };
    Ok(see_other(&format!("/ideas/{}?submitted=1", created.id())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ShowParams {
    submitted: Option<String>,
    supported: Option<String>,
    withdrawn: Option<String>,
    commented: Option<String>,
    status_changed: Option<String>,
}

#[derive(Template)]
#[template(path = "ideas/show.html")]
struct ShowPage {
    page: PageContext,
    detail: IdeaDetail,
    description_html: String,
    comments: Vec<CommentView>,
    /// None when signed out.
    supporting: Option<bool>,
    notify: bool,
    is_author: bool,
    can_triage: bool,
    comment_body: String,
    errors: Errors,
    notice: Option<&'static str>,
    comment_key: String,
    related: Vec<crate::search::similar::Related>,
    notes: crate::triage::notes::NotesView,
}

impl ShowPage {
    fn status_label(&self, raw: &str) -> &'static str {
        IdeaStatus::parse(raw)
            .map(IdeaStatus::label)
            .unwrap_or("Unknown")
    }
}

async fn show_page(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    comment_body: String,
    errors: Errors,
    notice: Option<&'static str>,
) -> Result<ShowPage, AppError> {
    let detail = service::find(&state.db, id).await?;
    let comments = service::comments_for(&state.db, caller, id).await?;
    let (supporting, notify) = match &caller.user {
        Some(user) => {
            let support = service::support_of(&state.db, id, user.id).await?;
            (Some(support.is_some()), support.is_some_and(|s| s.notify))
        }
        None => (None, false),
    };
    let related = crate::search::similar::related(state, caller, "idea", id).await;
    let notes = crate::triage::notes::view(
        &state.db,
        caller,
        crate::triage::inbox::InboxKind::Idea,
        id,
        String::new(),
    )
    .await?;
    Ok(ShowPage {
        notes,
        page: PageContext::new(caller, &state.key),
        related,
        description_html: crate::markdown::render(&detail.card.idea.description),
        is_author: caller.user_id().is_some() && detail.card.idea.author_id == caller.user_id(),
        can_triage: policy::require(caller, Permission::Triage).is_ok(),
        detail,
        comments,
        supporting,
        notify,
        comment_body,
        errors,
        notice,
        comment_key: Uuid::now_v7().to_string(),
    })
}

#[handler]
pub async fn show(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    Query(params): Query<ShowParams>,
) -> Result<Html<String>, AppError> {
    let notice = if params.submitted.is_some() {
        Some(
            "Your idea has been submitted. The board will review it, and we will email you when its status changes.",
        )
    } else if params.supported.is_some() {
        Some("You support this idea.")
    } else if params.withdrawn.is_some() {
        Some("You no longer support this idea.")
    } else if params.commented.is_some() {
        Some("Your comment has been posted.")
    } else if params.status_changed.is_some() {
        Some(
            "The status has been changed and the author and supporters who asked have been emailed.",
        )
    } else {
        None
    };
    render(
        &show_page(
            &state,
            &caller,
            id,
            String::new(),
            Errors::default(),
            notice,
        )
        .await?,
    )
}

#[handler]
pub async fn support_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    service::support(&state.db, user, id, fields.ticked("notify")).await?;
    Ok(see_other(&format!("/ideas/{id}?supported=1#support")))
}

#[handler]
pub async fn withdraw_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    service::withdraw_support(&state.db, user, id).await?;
    Ok(see_other(&format!("/ideas/{id}?withdrawn=1#support")))
}

#[handler]
pub async fn comment_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Contribute)?;
    let body = fields.get("body");
    let key = match fields.get("submission_key") {
        k if Uuid::parse_str(k).is_ok() => {
            IdempotencyKey::parse(Some(k), &format!("comment-on-idea:{id}"), &body)?
        }
        _ => None,
    };
    match service::add_comment(&state.db, user, id, body, key.as_ref()).await {
        Ok(created) => Ok(see_other(&format!(
            "/ideas/{id}?commented=1#comment-{}",
            created.id()
        ))),
        Err(AppError::Validation(errors)) => render_with_status(
            &show_page(&state, &caller, id, body.to_owned(), errors.into(), None).await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "ideas/comment_edit.html")]
struct CommentEditPage {
    page: PageContext,
    comment_id: Uuid,
    idea_id: Uuid,
    body: String,
    errors: Errors,
    minutes: i64,
}

#[handler]
pub async fn comment_edit_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Contribute)?;
    let comment = service::find_comment(&state.db, id).await?;
    if !policy::can_edit_comment(&caller, &comment, chrono::Utc::now()) {
        return Err(AppError::Forbidden);
    }
    render(&CommentEditPage {
        page: PageContext::new(&caller, &state.key),
        comment_id: comment.id,
        idea_id: comment.subject_id,
        body: comment.body,
        errors: Errors::default(),
        minutes: policy::COMMENT_EDIT_WINDOW.num_minutes(),
    })
}

#[handler]
pub async fn comment_edit_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Contribute)?;
    match service::edit_comment(&state.db, &caller, id, fields.get("body")).await {
        Ok(comment) => Ok(see_other(&format!(
            "/ideas/{}#comment-{}",
            comment.subject_id, comment.id
        ))),
        Err(AppError::Validation(errors)) => {
            let comment = service::find_comment(&state.db, id).await?;
            render_with_status(
                &CommentEditPage {
                    page: PageContext::new(&caller, &state.key),
                    comment_id: comment.id,
                    idea_id: comment.subject_id,
                    body: fields.get("body").to_owned(),
                    errors: errors.into(),
                    minutes: policy::COMMENT_EDIT_WINDOW.num_minutes(),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "ideas/comment_hide.html")]
struct CommentHidePage {
    page: PageContext,
    comment: CommentView,
    reason: String,
    errors: Errors,
}

async fn comment_view(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<CommentView, AppError> {
    let comment = service::find_comment(&state.db, id).await?;
    service::comments_for(&state.db, caller, comment.subject_id)
        .await?
        .into_iter()
        .find(|c| c.comment.id == id)
        .ok_or(AppError::NotFound)
}

#[handler]
pub async fn comment_hide_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Triage)?;
    render(&CommentHidePage {
        page: PageContext::new(&caller, &state.key),
        comment: comment_view(&state, &caller, id).await?,
        reason: String::new(),
        errors: Errors::default(),
    })
}

#[handler]
pub async fn comment_hide_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?;
    match service::hide_comment(&state.db, user, id, fields.get("reason")).await {
        Ok(comment) => Ok(see_other(&format!(
            "/ideas/{}#comment-{}",
            comment.subject_id, comment.id
        ))),
        Err(AppError::Validation(errors)) => render_with_status(
            &CommentHidePage {
                page: PageContext::new(&caller, &state.key),
                comment: comment_view(&state, &caller, id).await?,
                reason: fields.get("reason").to_owned(),
                errors: errors.into(),
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[derive(Template)]
#[template(path = "ideas/status.html")]
struct StatusPage {
    page: PageContext,
    detail: IdeaDetail,
    options: Vec<Choice>,
    note: String,
    duplicate_of: String,
    errors: Errors,
}

async fn status_page(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    change: Option<&StatusChange>,
    errors: Errors,
) -> Result<StatusPage, AppError> {
    let detail = service::find(&state.db, id).await?;
    let selected = [change.map(|c| c.status.clone()).unwrap_or_default()];
    let options = choices(
        detail
            .card
            .status
            .next()
            .iter()
            .map(|s| (s.as_str(), s.label())),
        &selected,
    );
    Ok(StatusPage {
        page: PageContext::new(caller, &state.key),
        detail,
        options,
        note: change.map(|c| c.note.clone()).unwrap_or_default(),
        duplicate_of: change
            .and_then(|c| c.duplicate_of.clone())
            .unwrap_or_default(),
        errors,
    })
}

#[handler]
pub async fn status_form(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::Triage)?;
    render(&status_page(&state, &caller, id, None, Errors::default()).await?)
}

#[handler]
pub async fn status_submit(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?;
    let change = StatusChange {
        status: fields.get("status").to_owned(),
        note: fields.get("note").to_owned(),
        duplicate_of: Some(fields.get("duplicate_of").to_owned()).filter(|d| !d.trim().is_empty()),
        version: fields.get("version").parse().ok(),
    };
    match service::change_status(&state, user, id, &change).await {
        Ok(_) => Ok(see_other(&format!("/ideas/{id}?status_changed=1"))),
        Err(err) => {
            let (errors, status) = refusal(err, "status")?;
            render_with_status(
                &status_page(&state, &caller, id, Some(&change), errors).await?,
                status,
            )
        }
    }
}

#[derive(Template)]
#[template(path = "ideas/themes.html")]
struct ThemesPage {
    page: PageContext,
    themes: Vec<entity::themes::Model>,
    name: String,
    errors: Errors,
}

async fn themes_page(
    state: &AppState,
    caller: &Caller,
    name: String,
    errors: Errors,
) -> Result<ThemesPage, AppError> {
    Ok(ThemesPage {
        page: PageContext::new(caller, &state.key),
        themes: theme_service::list(&state.db, false).await?,
        name,
        errors,
    })
}

#[handler]
pub async fn themes(
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Html<String>, AppError> {
    policy::require(&caller, Permission::ManageThemes)?;
    render(&themes_page(&state, &caller, String::new(), Errors::default()).await?)
}

#[handler]
pub async fn theme_create(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageThemes)?;
    match theme_service::create(&state.db, user.id, fields.get("name")).await {
        Ok(_) => Ok(see_other("/board/themes")),
        Err(AppError::Validation(errors)) => render_with_status(
            &themes_page(
                &state,
                &caller,
                fields.get("name").to_owned(),
                errors.into(),
            )
            .await?,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(other) => Err(other),
    }
}

#[handler]
pub async fn theme_update(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::ManageThemes)?;
    let active = match fields.get("action") {
        "retire" => Some(false),
        "restore" => Some(true),
        _ => None,
    };
    theme_service::update(&state.db, user.id, id, None, active).await?;
    Ok(see_other("/board/themes"))
}
