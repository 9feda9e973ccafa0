//! `/api/v1/tags` and `/api/v1/inbox/{kind}/{id}/tags|links`: the board's
//! tags and links on items, one at a time or (tags) in bulk.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::api::{ItemRef, TagOut, checked_items, kind_of};
use super::links::{self, LinkView, Linked};
use super::tags::{self, Added};
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;

pub struct ItemApi;

#[derive(Debug, Object)]
pub struct TagBody {
    /// Up to 40 characters; a new tag is created the first time it is used.
    #[oai(default)]
    pub tag: String,
}

#[derive(Debug, Object)]
pub struct BulkTagBody {
    #[oai(default)]
    pub items: Vec<ItemRef>,
    #[oai(default)]
    pub tag: String,
}

#[derive(Debug, Object)]
pub struct TagResult {
    pub kind: String,
    pub id: Uuid,
    /// tagged, already_tagged, refused or not_found
    pub result: String,
    /// Why it was not tagged.
    #[oai(nullable)]
    pub message: Option<String>,
}

#[derive(Debug, Object)]
pub struct LinkBody {
    /// idea, report, consultation_response or consultation_section
    #[oai(default)]
    pub kind: String,
    /// The item's id, or the consultation's for a section.
    pub id: Uuid,
    /// The section's anchor (consultation_section only).
    pub anchor: Option<String>,
}

#[derive(Debug, Object)]
pub struct LinkOut {
    pub id: Uuid,
    /// The other end: idea, report, consultation_response or consultation_section
    pub kind: String,
    /// The other end's id (the consultation's for a section).
    pub target_id: Uuid,
    #[oai(nullable)]
    pub anchor: Option<String>,
    pub title: String,
    pub link: String,
}

impl From<LinkView> for LinkOut {
    fn from(l: LinkView) -> Self {
        LinkOut {
            id: l.id,
            kind: l.other_type,
            target_id: l.other_id,
            anchor: l.anchor,
            title: l.title,
            link: l.href,
        }
    }
}

#[derive(ApiResponse)]
pub enum LinkAdded {
    /// Linked
    #[oai(status = 201)]
    Created(Json<Vec<LinkOut>>),
    /// They were already linked (either way round); nothing changed
    #[oai(status = 200)]
    AlreadyLinked(Json<Vec<LinkOut>>),
}

#[derive(ApiResponse)]
pub enum Removed {
    /// Removed
    #[oai(status = 204)]
    Done,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Triage")]
impl ItemApi {
    /// Every tag in use (board)
    #[oai(path = "/tags", method = "get", operation_id = "listTags")]
    async fn list_tags(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<Vec<TagOut>>, ApiError> {
        policy::require(&caller, Permission::Triage)?;
        Ok(Json(
            tags::all(&state.db)
                .await?
                .into_iter()
                .map(TagOut::from)
                .collect(),
        ))
    }

    /// Tag several items at once, with a result for each
    #[oai(path = "/inbox/tags", method = "post", operation_id = "tagInboxItems")]
    async fn tag_many(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<BulkTagBody>,
    ) -> Result<Json<Vec<TagResult>>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let items = checked_items(&body.items)?;
        let (label, slug) = tags::check_label(&body.tag)?;
        let mut results = Vec::new();
        for (kind, id, _) in items {
            let (result, message) = match tags::add(&state.db, &user, kind, id, &label, &slug).await
            {
                Ok(Added::Tagged) => ("tagged", None),
                Ok(Added::AlreadyTagged) => ("already_tagged", None),
                Ok(Added::NotFound) => ("not_found", None),
                Err(AppError::Validation(errors)) => {
                    ("refused", errors.first().map(|e| e.message.clone()))
                }
                Err(other) => return Err(other.into()),
            };
            results.push(TagResult {
                kind: kind.as_str().to_owned(),
                id,
                result: result.to_owned(),
                message,
            });
        }
        Ok(Json(results))
    }

    /// The item's tags (board)
    #[oai(
        path = "/inbox/:kind/:id/tags",
        method = "get",
        operation_id = "listItemTags"
    )]
    async fn item_tags(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<TagOut>>, ApiError> {
        policy::require(&caller, Permission::Triage)?;
        let kind = kind_of(&kind.0)?;
        super::notes::item(&state.db, kind, id.0).await?;
        Ok(Json(tags_out(&state, kind, id.0).await?))
    }

    /// Tag one item (board); answers with its tags
    #[oai(
        path = "/inbox/:kind/:id/tags",
        method = "post",
        operation_id = "tagItem"
    )]
    async fn tag_item(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
        body: Json<TagBody>,
    ) -> Result<Json<Vec<TagOut>>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let kind = kind_of(&kind.0)?;
        let (label, slug) = tags::check_label(&body.tag)?;
        if tags::add(&state.db, &user, kind, id.0, &label, &slug).await? == Added::NotFound {
            return Err(AppError::NotFound.into());
        }
        Ok(Json(tags_out(&state, kind, id.0).await?))
    }

    /// Remove a tag from one item (board)
    #[oai(
        path = "/inbox/:kind/:id/tags/:slug",
        method = "delete",
        operation_id = "untagItem"
    )]
    async fn untag_item(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
        slug: Path<String>,
    ) -> Result<Removed, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let kind = kind_of(&kind.0)?;
        if !tags::remove(&state.db, &user, kind, id.0, &slug.0).await? {
            return Err(AppError::NotFound.into());
        }
        Ok(Removed::Done)
    }

    /// The item's links to other items and consultation sections (board)
    #[oai(
        path = "/inbox/:kind/:id/links",
        method = "get",
        operation_id = "listItemLinks"
    )]
    async fn item_links(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<LinkOut>>, ApiError> {
        policy::require(&caller, Permission::Triage)?;
        let kind = kind_of(&kind.0)?;
        super::notes::item(&state.db, kind, id.0).await?;
        Ok(Json(links_out(&state, kind, id.0).await?))
    }

    /// Link one item to another item or to a consultation section (board); answers with its links
    #[oai(
        path = "/inbox/:kind/:id/links",
        method = "post",
        operation_id = "linkItem"
    )]
    async fn link_item(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
        body: Json<LinkBody>,
    ) -> Result<LinkAdded, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let kind = kind_of(&kind.0)?;
        let target = links::target_of(&body.kind, body.id, body.anchor.as_deref())?;
        let added = links::add(&state.db, &user, kind, id.0, &target).await?;
        let list = links_out(&state, kind, id.0).await?;
        Ok(match added {
            Linked::Linked(_) => LinkAdded::Created(Json(list)),
            Linked::AlreadyLinked(_) => LinkAdded::AlreadyLinked(Json(list)),
        })
    }

    /// Remove one of the item's links (board)
    #[oai(
        path = "/inbox/:kind/:id/links/:link_id",
        method = "delete",
        operation_id = "unlinkItem"
    )]
    async fn unlink_item(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
        link_id: Path<Uuid>,
    ) -> Result<Removed, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let kind = kind_of(&kind.0)?;
        links::remove(&state.db, &user, kind, id.0, link_id.0).await?;
        Ok(Removed::Done)
    }
}

async fn links_out(
    state: &AppState,
    kind: super::inbox::InboxKind,
    id: Uuid,
) -> Result<Vec<LinkOut>, AppError> {
    Ok(links::of_item(&state.db, kind, id)
        .await?
        .into_iter()
        .map(LinkOut::from)
        .collect())
}

async fn tags_out(
    state: &AppState,
    kind: super::inbox::InboxKind,
    id: Uuid,
) -> Result<Vec<TagOut>, AppError> {
    Ok(tags::of_item(&state.db, kind, id)
        .await?
        .into_iter()
        .map(TagOut::from)
        .collect())
}
