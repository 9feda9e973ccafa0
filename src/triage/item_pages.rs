//! An item's tags and links, for board members: `/board/items/KIND/ID`.
//! Every form posts and comes back here, so it all works without
//! JavaScript.

use askama::Template;
use poem::http::StatusCode;
use poem::web::{Data, Path, Query};
use poem::{Response, handler};
use uuid::Uuid;

use super::inbox::InboxKind;
use super::links::{self, LinkView, Linked};
use super::tags::{self, Added, Tag};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::web::forms::{Errors, Fields};
use crate::web::page::{PageContext, render_with_status, see_other};

#[derive(Template)]
#[template(path = "triage/item.html")]
struct ItemPage {
    page: PageContext,
    kind: InboxKind,
    id: Uuid,
    title: String,
    link: String,
    tags: Vec<Tag>,
    links: Vec<LinkView>,
    errors: Errors,
    typed_tag: String,
    typed_target: String,
    notice: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Done {
    done: String,
}

fn notice_of(done: &str) -> Option<String> {
    Some(
        match done {
            "tagged" => "The tag has been added.",
            "already-tagged" => "It already had that tag.",
            "untagged" => "The tag has been removed.",
            "linked" => "The link has been added.",
            "already-linked" => "They were already linked.",
            "unlinked" => "The link has been removed.",
            _ => return None,
        }
        .to_owned(),
    )
}

async fn item_page(
    state: &AppState,
    caller: &Caller,
    kind: InboxKind,
    id: Uuid,
) -> Result<ItemPage, AppError> {
    let found = super::notes::item(&state.db, kind, id).await?;
    let (title, link) = found.board_title_and_link();
    Ok(ItemPage {
        page: PageContext::new(caller, &state.key),
        kind,
        id,
        title,
        link,
        tags: tags::of_item(&state.db, kind, id).await?,
        links: links::of_item(&state.db, kind, id).await?,
        errors: Errors::default(),
        typed_tag: String::new(),
        typed_target: String::new(),
        notice: None,
    })
}

fn kind_of(raw: &str) -> Result<InboxKind, AppError> {
    InboxKind::parse(raw).ok_or(AppError::NotFound)
}

fn back(kind: InboxKind, id: Uuid, done: &str) -> Response {
    see_other(&format!("/board/items/{}/{id}?done={done}", kind.as_str()))
}

#[handler]
pub async fn show(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((kind, id)): Path<(String, Uuid)>,
    Query(done): Query<Done>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::Triage)?;
    let mut page = item_page(&state, &caller, kind_of(&kind)?, id).await?;
    page.notice = notice_of(&done.done);
    render_with_status(&page, StatusCode::OK)
}

#[handler]
pub async fn add_tag(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((kind, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let kind = kind_of(&kind)?;
    let outcome = match tags::check_label(fields.get("tag")) {
        Ok((label, slug)) => tags::add(&state.db, &user, kind, id, &label, &slug).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(Added::Tagged) => Ok(back(kind, id, "tagged")),
        Ok(Added::AlreadyTagged) => Ok(back(kind, id, "already-tagged")),
        Ok(Added::NotFound) => Err(AppError::NotFound),
        Err(AppError::Validation(errors)) => {
            let mut page = item_page(&state, &caller, kind, id).await?;
            page.errors = errors.into();
            page.typed_tag = fields.get("tag").to_owned();
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other),
    }
}

#[handler]
pub async fn remove_tag(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((kind, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let kind = kind_of(&kind)?;
    tags::remove(&state.db, &user, kind, id, fields.get("slug")).await?;
    Ok(back(kind, id, "untagged"))
}

#[handler]
pub async fn add_link(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((kind, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let kind = kind_of(&kind)?;
    let outcome = match links::parse_address(&state.db, fields.get("target")).await {
        Ok(target) => links::add(&state.db, &user, kind, id, &target).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(Linked::Linked(_)) => Ok(back(kind, id, "linked")),
        Ok(Linked::AlreadyLinked(_)) => Ok(back(kind, id, "already-linked")),
        Err(AppError::Validation(errors)) => {
            let mut page = item_page(&state, &caller, kind, id).await?;
            page.errors = errors.into();
            page.typed_target = fields.get("target").to_owned();
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(other) => Err(other),
    }
}

#[handler]
pub async fn remove_link(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path((kind, id)): Path<(String, Uuid)>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::Triage)?.clone();
    let kind = kind_of(&kind)?;
    let link = Uuid::parse_str(fields.get("link"))
        .map_err(|_| AppError::BadRequest("Choose a link to remove".to_owned()))?;
    links::remove(&state.db, &user, kind, id, link).await?;
    Ok(back(kind, id, "unlinked"))
}
