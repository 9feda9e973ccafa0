//! Notes on an idea, a report or a consultation response: internal notes
//! only board members ever see (not their authors, not search, not exports),
//! and replies to the person who sent it, who is emailed. Both are comments
//! with their own visibility, so the public comment lists never show them.

use askama::Template;
use chrono::Utc;
use entity::{comments, consultation_responses, consultations, ideas, reports, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::inbox::InboxKind;
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::caller::Caller;
use crate::auth::people;
use crate::auth::policy;
use crate::email::{self, OutgoingEmail};
use crate::error::{AppError, FieldError};
use crate::text::TextField;
use crate::web::forms::Errors;

pub const INTERNAL: &str = "internal";
pub const REPLY: &str = "reply";

const BODY: TextField<'static> = TextField {
    name: "note",
    label: "Note",
    max_chars: 10_000,
    multiline: true,
    required: Some("Write the note"),
};

/// A note as pages show it.
#[derive(Debug, Clone)]
pub struct NoteView {
    pub note: comments::Model,
    pub author: String,
    pub body_html: String,
}

/// The notes section of an item's page.
#[derive(Debug, Clone, Default)]
pub struct NotesView {
    pub kind: String,
    pub id: Uuid,
    /// Board members only.
    pub internal: Vec<NoteView>,
    /// The board and the item's author.
    pub replies: Vec<NoteView>,
    /// Whether the caller may write (board members).
    pub can_write: bool,
    /// Whether the caller may read (board members and the author).
    pub can_read: bool,
    /// Board members only.
    pub tags: Vec<super::tags::Tag>,
    /// Board members only.
    pub links: Vec<super::links::LinkView>,
    pub errors: Errors,
    pub typed: String,
    /// Where the form returns to.
    pub back: String,
}

/// The item's author and where they read it, or not found.
pub(super) struct Item {
    author: Option<Uuid>,
    author_email: Option<String>,
    title: String,
    author_link: String,
    board_title: String,
    board_link: String,
}

impl Item {
    /// What the board calls the item and where they read it.
    pub(super) fn board_title_and_link(&self) -> (String, String) {
        (self.board_title.clone(), self.board_link.clone())
    }
}

/// The item (a draft response is its respondent's alone: not found).
pub(super) async fn item(
    conn: &impl ConnectionTrait,
    kind: InboxKind,
    id: Uuid,
) -> Result<Item, AppError> {
    match kind {
        InboxKind::Idea => {
            let i = ideas::Entity::find_by_id(id)
                .one(conn)
                .await?
                .ok_or(AppError::NotFound)?;
            Ok(Item {
                author: i.author_id,
                author_email: None,
                title: i.title.clone(),
                author_link: format!("/ideas/{id}"),
                board_title: i.title,
                board_link: format!("/ideas/{id}"),
            })
        }
        InboxKind::Report => {
            let r = reports::Entity::find_by_id(id)
                .one(conn)
                .await?
                .ok_or(AppError::NotFound)?;
            Ok(Item {
                author: r.reporter_id,
                author_email: None,
                title: r.system_name.clone(),
                author_link: format!("/reports/{id}"),
                board_title: r.system_name,
                board_link: format!("/reports/{id}"),
            })
        }
        InboxKind::Response => {
            let r = consultation_responses::Entity::find_by_id(id)
                .one(conn)
                .await?
                .filter(|r| r.status == "submitted")
                .ok_or(AppError::NotFound)?;
            let c = consultations::Entity::find_by_id(r.consultation_id)
                .one(conn)
                .await?
                .ok_or(AppError::NotFound)?;
            Ok(Item {
                author: r.respondent_id,
                author_email: r.respondent_email.clone(),
                title: format!("Your response to {}", c.title),
                author_link: format!("/consultations/{}/response", c.slug),
                board_title: format!("A response to {}", c.title),
                board_link: format!("/consultations/{}/analysis/responses/{id}", c.slug),
            })
        }
    }
}

async fn views(
    conn: &impl ConnectionTrait,
    list: Vec<comments::Model>,
) -> Result<Vec<NoteView>, AppError> {
    let authors = people::load(conn, list.iter().filter_map(|c| c.author_id)).await?;
    Ok(list
        .into_iter()
        .map(|note| NoteView {
            author: note
                .author_id
                .and_then(|a| authors.get(&a))
                .map_or_else(|| "A former board member".to_owned(), |p| p.name.clone()),
            body_html: crate::markdown::render(&note.body),
            note,
        })
        .collect())
}

/// The notes the caller may see on an item (nothing for anyone but the
/// board and the item's author).
pub async fn view(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    kind: InboxKind,
    id: Uuid,
    back: String,
) -> Result<NotesView, AppError> {
    let board = policy::allows_caller(caller, policy::Permission::Triage);
    let found = item(conn, kind, id).await?;
    let author = caller.user_id().is_some() && found.author == caller.user_id();
    let mut out = NotesView {
        kind: kind.as_str().to_owned(),
        id,
        can_write: board,
        can_read: board || author,
        back,
        ..Default::default()
    };
    if !out.can_read {
        return Ok(out);
    }
    let mut visibilities = vec![REPLY];
    if board {
        visibilities.push(INTERNAL);
    }
    let list = comments::Entity::find()
        .filter(comments::Column::SubjectType.eq(kind.as_str()))
        .filter(comments::Column::SubjectId.eq(id))
        .filter(comments::Column::Visibility.is_in(visibilities))
        .order_by_asc(comments::Column::Id)
        .all(conn)
        .await?;
    let (internal, replies): (Vec<_>, Vec<_>) =
        list.into_iter().partition(|c| c.visibility == INTERNAL);
    if board {
        out.tags = super::tags::of_item(conn, kind, id).await?;
        out.links = super::links::of_item(conn, kind, id).await?;
    }
    out.internal = views(conn, internal).await?;
    out.replies = views(conn, replies).await?;
    Ok(out)
}

#[derive(Template)]
#[template(path = "email/reply.txt")]
struct ReplyText<'a> {
    title: &'a str,
    body: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reply.html")]
struct ReplyHtml<'a> {
    title: &'a str,
    body_html: String,
    link: &'a str,
}

/// Adds an internal note or a reply (board members). A reply is emailed to
/// the item's author in the same transaction.
pub async fn add(
    state: &AppState,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    visibility: &str,
    body: &str,
) -> Result<comments::Model, AppError> {
    let mut errors = Vec::new();
    let visibility = match visibility {
        INTERNAL => Some(INTERNAL),
        REPLY => Some(REPLY),
        _ => {
            errors.push(FieldError::new(
                "visibility",
                "Choose whether the note is internal or a reply",
            ));
            None
        }
    };
    let body = BODY.check(body, &mut errors);
    let (Some(visibility), Some(body)) = (visibility, body) else {
        return Err(AppError::Validation(errors));
    };
    let found = item(&state.db, kind, id).await?;
    let txn = crate::db::begin_write(&state.db).await?;
    let now = Utc::now();
    let note = comments::ActiveModel {
        id: Set(Uuid::now_v7()),
        subject_type: Set(kind.as_str().to_owned()),
        subject_id: Set(id),
        author_id: Set(Some(actor.id)),
        body: Set(body),
        visibility: Set(visibility.to_owned()),
        edited_at: Set(None),
        hidden_at: Set(None),
        hidden_reason: Set(None),
        hidden_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: if visibility == INTERNAL {
                "triage.note_added"
            } else {
                "triage.replied"
            },
            subject_type: kind.as_str(),
            subject_id: Some(id),
            before: None,
            after: Some(json!({ "note": note.id, "visibility": visibility })),
        },
    )
    .await?;
    if visibility == REPLY {
        let address = match found.author {
            Some(author) => users::Entity::find_by_id(author)
                .one(&txn)
                .await?
                .map(|u| u.email),
            None => found.author_email.clone(),
        };
        if let Some(to) = address {
            let link = state.settings.link(&found.author_link);
            let subject = format!("The HealthTech Advisory Board replied: {}", found.title);
            let message = OutgoingEmail {
                to,
                subject,
                text: ReplyText {
                    title: &found.title,
                    body: &note.body,
                    link: &link,
                }
                .render()
                .map_err(AppError::internal)?,
                html: Some(
                    ReplyHtml {
                        title: &found.title,
                        body_html: crate::markdown::render(&note.body),
                        link: &link,
                    }
                    .render()
                    .map_err(AppError::internal)?,
                ),
                headers: Vec::new(),
            };
            email::enqueue(&txn, &format!("reply:{}", note.id), message).await?;
        }
    }
    txn.commit().await?;
    state.outbox_ready.notify_one();
    Ok(note)
}
