//! `/api/v1/inbox`: the board's inbox and assignment.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::inbox::{self, InboxKind, Outcome};
use super::inbox_params::RawFilter;
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::{AppError, FieldError};

pub struct TriageApi;

#[derive(Debug, Object)]
pub struct InboxItemOut {
    /// idea, report or consultation_response
    pub kind: String,
    pub id: Uuid,
    pub title: String,
    pub status: String,
    pub detail: String,
    #[oai(nullable)]
    pub assignee_id: Option<Uuid>,
    #[oai(nullable)]
    pub assignee: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Send it back when changing the item; a stale one is refused.
    pub version: i32,
    pub link: String,
    /// The board's tags on it.
    pub tags: Vec<TagOut>,
}

#[derive(Debug, Object)]
pub struct TagOut {
    pub slug: String,
    pub label: String,
}

impl From<super::tags::Tag> for TagOut {
    fn from(t: super::tags::Tag) -> Self {
        TagOut {
            slug: t.slug,
            label: t.label,
        }
    }
}

#[derive(Debug, Object)]
pub struct KindCount {
    pub kind: String,
    pub count: u64,
}

#[derive(Debug, Object)]
pub struct InboxOut {
    pub total: u64,
    pub counts: Vec<KindCount>,
    pub items: Vec<InboxItemOut>,
}

#[derive(Debug, Object)]
pub struct ItemRef {
    /// idea, report or consultation_response
    #[oai(default)]
    pub kind: String,
    pub id: Uuid,
    /// The version the change is based on.
    pub version: Option<i32>,
}

#[derive(Debug, Object)]
pub struct AssignBody {
    #[oai(default)]
    pub items: Vec<ItemRef>,
    /// A board member's id, or absent or null to unassign.
    #[oai(nullable)]
    pub assignee: Option<Uuid>,
}

#[derive(Debug, Object)]
pub struct AssignResult {
    pub kind: String,
    pub id: Uuid,
    /// assigned, unassigned, stale or not_found
    pub result: String,
    /// The item's version now.
    #[oai(nullable)]
    pub version: Option<i32>,
}

#[derive(Debug, Object)]
pub struct StatusBody {
    #[oai(default)]
    pub items: Vec<ItemRef>,
    /// The new status, which must follow from each item's own.
    #[oai(default)]
    pub status: String,
    /// A public note, shown with the change and emailed to those who asked.
    #[oai(default)]
    pub note: String,
}

#[derive(Debug, Object)]
pub struct StatusResult {
    pub kind: String,
    pub id: Uuid,
    /// changed, refused, stale or not_found
    pub result: String,
    /// Why it was not changed.
    #[oai(nullable)]
    pub message: Option<String>,
    #[oai(nullable)]
    pub version: Option<i32>,
}

#[derive(Debug, Object)]
pub struct NoteBody {
    /// internal (board members only) or reply (to the person who sent it, who is emailed)
    #[oai(default)]
    pub visibility: String,
    /// Markdown, up to 10,000 characters.
    #[oai(default)]
    pub body: String,
}

#[derive(Debug, Object)]
pub struct NoteOut {
    pub id: Uuid,
    /// internal or reply
    pub visibility: String,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum CreatedNote {
    #[oai(status = 201)]
    Created(Json<NoteOut>),
}

fn note_out(n: &super::notes::NoteView) -> NoteOut {
    NoteOut {
        id: n.note.id,
        visibility: n.note.visibility.clone(),
        author: n.author.clone(),
        body: n.note.body.clone(),
        created_at: n.note.created_at,
    }
}

#[derive(Debug, Object)]
pub struct AssigneeBody {
    /// A board member's id, or absent or null to unassign.
    #[oai(nullable)]
    pub assignee: Option<Uuid>,
    /// The version the change is based on; a stale one is refused with 409.
    pub version: Option<i32>,
}

#[derive(Debug, Object)]
pub struct AssigneeOut {
    pub version: i32,
}

pub(super) fn item_out(i: inbox::InboxItem) -> InboxItemOut {
    InboxItemOut {
        kind: i.kind.as_str().to_owned(),
        id: i.id,
        title: i.title,
        status: i.status,
        detail: i.detail,
        assignee_id: i.assignee_id,
        assignee: i.assignee,
        created_at: i.created_at,
        version: i.version,
        link: i.link,
        tags: i.tags.into_iter().map(TagOut::from).collect(),
    }
}

pub(super) fn kind_of(raw: &str) -> Result<InboxKind, AppError> {
    InboxKind::parse(raw).ok_or_else(|| {
        AppError::Validation(vec![FieldError::new(
            "kind",
            "Kind must be idea, report or consultation_response",
        )])
    })
}

/// Every item of a bulk change, checked before any is changed: a bad one
/// changes nothing.
pub(super) fn checked_items(
    items: &[ItemRef],
) -> Result<Vec<(InboxKind, Uuid, Option<i32>)>, AppError> {
    if items.len() > inbox::MAX_LIMIT as usize {
        return Err(AppError::Validation(vec![FieldError::new(
            "items",
            format!("At most {} items at once", inbox::MAX_LIMIT),
        )]));
    }
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        match InboxKind::parse(&item.kind) {
            Some(kind) => out.push((kind, item.id, item.version)),
            None => errors.push(FieldError::new(
                format!("items[{n}].kind"),
                "Kind must be idea, report or consultation_response",
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(AppError::Validation(errors))
    }
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Triage")]
impl TriageApi {
    /// The board's inbox across ideas, reports and consultation responses
    #[oai(path = "/inbox", method = "get", operation_id = "getInbox")]
    #[expect(clippy::too_many_arguments)]
    async fn inbox(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        /// idea, report or consultation_response (repeat for several)
        #[oai(default)]
        kind: Query<Vec<String>>,
        /// A status of that kind's workflow
        #[oai(default)]
        status: Query<String>,
        /// me, unassigned or a board member's id
        #[oai(default)]
        assignee: Query<String>,
        /// A theme slug
        #[oai(default)]
        theme: Query<String>,
        /// A board tag's slug
        #[oai(default)]
        tag: Query<String>,
        #[oai(default)] category: Query<String>,
        #[oai(default)] severity: Query<String>,
        /// Part of the organisation's name
        #[oai(default)]
        organisation: Query<String>,
        /// A consultation's short name
        #[oai(default)]
        consultation: Query<String>,
        #[oai(default)] older_than_days: Query<String>,
        /// oldest (default) or newest
        #[oai(default)]
        sort: Query<String>,
        #[oai(default)] offset: Query<String>,
        #[oai(default)] limit: Query<String>,
    ) -> Result<Json<InboxOut>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?;
        let raw = RawFilter {
            kind: kind.0,
            status: status.0,
            assignee: assignee.0,
            theme: theme.0,
            tag: tag.0,
            category: category.0,
            severity: severity.0,
            organisation: organisation.0,
            consultation: consultation.0,
            older_than_days: older_than_days.0,
            sort: sort.0,
            offset: offset.0,
            limit: limit.0,
        };
        let filter = raw.check(user.id)?;
        let page = inbox::inbox(&state.db, &filter, Utc::now()).await?;
        Ok(Json(InboxOut {
            total: page.total,
            counts: page
                .counts
                .iter()
                .map(|(k, n)| KindCount {
                    kind: k.as_str().to_owned(),
                    count: *n,
                })
                .collect(),
            items: page.items.into_iter().map(item_out).collect(),
        }))
    }

    /// Assign (or unassign) several items at once, with a result for each
    #[oai(
        path = "/inbox/assign",
        method = "post",
        operation_id = "assignInboxItems"
    )]
    async fn assign(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<AssignBody>,
    ) -> Result<Json<Vec<AssignResult>>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let items = checked_items(&body.items)?;
        let assignee = inbox::check_assignee(&state.db, body.assignee).await?;
        let mut results = Vec::new();
        for (kind, id, version) in items {
            let outcome = inbox::assign(&state.db, &user, kind, id, assignee, version).await?;
            let (result, version) = match outcome {
                Outcome::Done { version } => (
                    if body.assignee.is_some() {
                        "assigned"
                    } else {
                        "unassigned"
                    },
                    Some(version),
                ),
                Outcome::Stale { current_version } => ("stale", Some(current_version)),
                Outcome::NotFound => ("not_found", None),
            };
            results.push(AssignResult {
                kind: kind.as_str().to_owned(),
                id,
                result: result.to_owned(),
                version,
            });
        }
        Ok(Json(results))
    }

    /// Change the status of several items at once, with a result for each
    #[oai(
        path = "/inbox/status",
        method = "post",
        operation_id = "changeInboxItemsStatus"
    )]
    async fn change_status(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<StatusBody>,
    ) -> Result<Json<Vec<StatusResult>>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let items = checked_items(&body.items)?;
        let mut results = Vec::new();
        for (kind, id, version) in items {
            let outcome =
                inbox::change_status(&state, &user, kind, id, version, &body.status, &body.note)
                    .await?;
            let (result, message, version) = match outcome {
                inbox::StatusOutcome::Changed { version } => ("changed", None, Some(version)),
                inbox::StatusOutcome::Refused(why) => ("refused", Some(why), None),
                inbox::StatusOutcome::Stale(why) => ("stale", Some(why), None),
                inbox::StatusOutcome::NotFound => ("not_found", None, None),
            };
            results.push(StatusResult {
                kind: kind.as_str().to_owned(),
                id,
                result: result.to_owned(),
                message,
                version,
            });
        }
        Ok(Json(results))
    }

    /// Notes on an item: internal notes and replies for the board, replies for its author
    #[oai(
        path = "/inbox/:kind/:id/notes",
        method = "get",
        operation_id = "listItemNotes"
    )]
    async fn notes(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<NoteOut>>, ApiError> {
        let kind = kind_of(&kind.0)?;
        let found = super::notes::view(&state.db, &caller, kind, id.0, String::new()).await?;
        if !found.can_read {
            return Err(AppError::NotFound.into());
        }
        Ok(Json(
            found
                .internal
                .iter()
                .chain(found.replies.iter())
                .map(note_out)
                .collect(),
        ))
    }

    /// Add an internal note or a reply to an item (board)
    #[oai(
        path = "/inbox/:kind/:id/notes",
        method = "post",
        operation_id = "createItemNote"
    )]
    async fn add_note(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
        body: Json<NoteBody>,
    ) -> Result<CreatedNote, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let kind = kind_of(&kind.0)?;
        let note = super::notes::add(&state, &user, kind, id.0, &body.visibility, &body.body)
            .await
            .map_err(|err| match err {
                // The pages' form calls the text `note`; this body calls it `body`.
                AppError::Validation(errors) => AppError::Validation(
                    errors
                        .into_iter()
                        .map(|e| match e.field.as_str() {
                            "note" => FieldError::new("body", e.message),
                            _ => e,
                        })
                        .collect(),
                ),
                other => other,
            })?;
        Ok(CreatedNote::Created(Json(NoteOut {
            id: note.id,
            visibility: note.visibility,
            author: crate::auth::people::Person::from(&user).name,
            body: note.body,
            created_at: note.created_at,
        })))
    }

    /// Assign (or unassign) one item; a change based on a stale version is refused with 409
    #[oai(
        path = "/inbox/:kind/:id/assignee",
        method = "put",
        operation_id = "setInboxItemAssignee"
    )]
    async fn set_assignee(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        kind: Path<String>,
        id: Path<Uuid>,
        body: Json<AssigneeBody>,
    ) -> Result<Json<AssigneeOut>, ApiError> {
        let user = policy::require(&caller, Permission::Triage)?.clone();
        let kind = kind_of(&kind.0)?;
        let assignee = inbox::check_assignee(&state.db, body.assignee).await?;
        match inbox::assign(&state.db, &user, kind, id.0, assignee, body.version).await? {
            Outcome::Done { version } => Ok(Json(AssigneeOut { version })),
            Outcome::Stale { current_version } => {
                Err(crate::status_history::stale("item", current_version).into())
            }
            Outcome::NotFound => Err(AppError::NotFound.into()),
        }
    }
}
