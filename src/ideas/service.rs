//! Ideas: submitting, listing, supporting, commenting and status changes.
//! Every write commits its rows, an audit event, a change-log row and any
//! emails in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{comments, idea_supports, idea_themes, ideas, themes, users};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::domain::{
    Beneficiary, COMMENT, HIDE_REASON, IdeaSort, IdeaStatus, NewIdea, STATUS_NOTE,
    beneficiaries_from_column, beneficiaries_to_column,
};
use crate::app_state::AppState;
use crate::audit::{self, AuditEvent};
use crate::auth::caller::Caller;
use crate::auth::people::{self, Person};
use crate::auth::policy;
use crate::email::{self, templates};
use crate::error::{AppError, FieldError};
use crate::idempotency::{self, Created, IdempotencyKey};
use crate::pagination::Cursor;
use crate::status_history::{self, StatusEntry};

pub const SUBJECT: &str = "idea";

/// An idea with what is shown beside it wherever it is listed.
#[derive(Debug, Clone)]
pub struct IdeaCard {
    pub idea: ideas::Model,
    pub status: IdeaStatus,
    pub themes: Vec<themes::Model>,
    pub beneficiaries: Vec<Beneficiary>,
    pub author: Option<Person>,
}

#[derive(Debug, Clone)]
pub struct IdeaDetail {
    pub card: IdeaCard,
    pub history: Vec<StatusEntry>,
    pub duplicate_of: Option<(Uuid, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct IdeaFilter {
    pub theme: Option<String>,
    pub status: Option<IdeaStatus>,
    pub author: Option<Uuid>,
    pub sort: Option<IdeaSort>,
    pub cursor: Option<Cursor>,
    pub limit: u64,
}

fn status_of(idea: &ideas::Model) -> IdeaStatus {
    IdeaStatus::parse(&idea.status).unwrap_or(IdeaStatus::Submitted)
}

async fn cards(
    conn: &impl ConnectionTrait,
    list: Vec<ideas::Model>,
) -> Result<Vec<IdeaCard>, AppError> {
    let ids: Vec<Uuid> = list.iter().map(|i| i.id).collect();
    // Each idea's themes, joined in the one query.
    let links: Vec<(idea_themes::Model, Option<themes::Model>)> = if ids.is_empty() {
        Vec::new()
    } else {
        idea_themes::Entity::find()
            .find_also_related(themes::Entity)
            .filter(idea_themes::Column::IdeaId.is_in(ids))
            .all(conn)
            .await?
    };
    let authors = people::load(conn, list.iter().filter_map(|i| i.author_id)).await?;
    Ok(list
        .into_iter()
        .map(|idea| {
            let mut themes: Vec<themes::Model> = links
                .iter()
                .filter(|(link, _)| link.idea_id == idea.id)
                .filter_map(|(_, theme)| theme.clone())
                .collect();
            // As `themes::list` orders them.
            themes.sort_by(|a, b| (a.position, &a.name).cmp(&(b.position, &b.name)));
            IdeaCard {
                status: status_of(&idea),
                beneficiaries: beneficiaries_from_column(&idea.beneficiaries),
                author: idea.author_id.and_then(|a| authors.get(&a).cloned()),
                themes,
                idea,
            }
        })
        .collect())
}

/// A page of ideas and the cursor of the next page, if there is one.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &IdeaFilter,
) -> Result<(Vec<IdeaCard>, Option<Cursor>), AppError> {
    let mut query = ideas::Entity::find();
    if let Some(slug) = &filter.theme {
        let theme = themes::Entity::find()
            .filter(themes::Column::Slug.eq(slug.as_str()))
            .one(conn)
            .await?
            .ok_or_else(|| {
                AppError::Validation(vec![FieldError::new(
                    "theme",
                    "There is no theme with that name",
                )])
            })?;
        query = query.filter(
            ideas::Column::Id.in_subquery(
                Query::select()
                    .column(idea_themes::Column::IdeaId)
                    .from(idea_themes::Entity)
                    .and_where(idea_themes::Column::ThemeId.eq(theme.id))
                    .to_owned(),
            ),
        );
    }
    if let Some(status) = filter.status {
        query = query.filter(ideas::Column::Status.eq(status.as_str()));
    }
    if let Some(author) = filter.author {
        query = query.filter(ideas::Column::AuthorId.eq(author));
    }
    let sort = filter.sort.unwrap_or(IdeaSort::Newest);
    let invalid_cursor = || {
        AppError::Validation(vec![FieldError::new(
            "cursor",
            "The cursor is not valid. Start again from the first page",
        )])
    };
    if let Some(cursor) = &filter.cursor {
        let after_id = ideas::Column::Id.lt(cursor.id);
        query = match sort {
            IdeaSort::Newest => query.filter(after_id),
            IdeaSort::MostSupported => {
                let count: i32 = cursor.key.parse().map_err(|_| invalid_cursor())?;
                query.filter(
                    Condition::any()
                        .add(ideas::Column::SupportCount.lt(count))
                        .add(ideas::Column::SupportCount.eq(count).and(after_id)),
                )
            }
            IdeaSort::RecentlyUpdated => {
                let at: DateTime<Utc> = cursor.key.parse().map_err(|_| invalid_cursor())?;
                query.filter(
                    Condition::any()
                        .add(ideas::Column::UpdatedAt.lt(at))
                        .add(ideas::Column::UpdatedAt.eq(at).and(after_id)),
                )
            }
        };
    }
    query = match sort {
        IdeaSort::Newest => query,
        IdeaSort::MostSupported => query.order_by_desc(ideas::Column::SupportCount),
        IdeaSort::RecentlyUpdated => query.order_by_desc(ideas::Column::UpdatedAt),
    }
    .order_by_desc(ideas::Column::Id);
    let mut found = query.limit(filter.limit + 1).all(conn).await?;
    let next = if found.len() as u64 > filter.limit {
        found.truncate(filter.limit as usize);
        found.last().map(|last| Cursor {
            key: match sort {
                IdeaSort::Newest => String::new(),
                IdeaSort::MostSupported => last.support_count.to_string(),
                IdeaSort::RecentlyUpdated => last.updated_at.to_rfc3339(),
            },
            id: last.id,
        })
    } else {
        None
    };
    Ok((cards(conn, found).await?, next))
}

pub async fn find(conn: &impl ConnectionTrait, id: Uuid) -> Result<IdeaDetail, AppError> {
    let idea = ideas::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let duplicate_of = match idea.duplicate_of {
        Some(original) => ideas::Entity::find_by_id(original)
            .one(conn)
            .await?
            .map(|o| (o.id, o.title)),
        None => None,
    };
    let history = status_history::history(conn, SUBJECT, id).await?;
    let card = cards(conn, vec![idea])
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    Ok(IdeaDetail {
        card,
        history,
        duplicate_of,
    })
}

/// Submits an idea. With a key, a retry (even a concurrent one) returns
/// the idea the first request created. A new idea comes back as written:
/// `themes` are the ones offered (as `new` was checked against), and its
/// author is the one submitting it.
#[tracing::instrument(skip_all)]
pub async fn create(
    db: &DatabaseConnection,
    author: &users::Model,
    new: NewIdea,
    themes: &[themes::Model],
    key: Option<&IdempotencyKey>,
    hourly_limit: i32,
) -> Result<Created<IdeaDetail>, AppError> {
    let result = insert(db, author, new, themes, key, hourly_limit).await;
    idempotency::settle(db, author.id, key, result).await
}

impl idempotency::Identified for IdeaDetail {
    fn id(&self) -> Uuid {
        self.card.idea.id
    }
}

async fn insert(
    db: &DatabaseConnection,
    author: &users::Model,
    new: NewIdea,
    offered: &[themes::Model],
    key: Option<&IdempotencyKey>,
    hourly_limit: i32,
) -> Result<Created<IdeaDetail>, AppError> {
    let txn = crate::db::begin_write_in_group(db).await?;
    if let Some(key) = key
        && let Some(id) = idempotency::replay(&txn, author.id, key).await?
    {
        // Waits for the commit of the request that made it.
        txn.commit().await?;
        return Ok(Created::Replayed(id));
    }
    let now = crate::db::now();
    let status = IdeaStatus::Submitted;
    let beneficiaries = beneficiaries_to_column(&new.beneficiaries);
    let after = json!({
        "title": new.title,
        "themes": new.theme_ids,
        "beneficiaries": beneficiaries,
        "status": status.as_str(),
    });
    let idea = ideas::Model {
        id: Uuid::now_v7(),
        author_id: Some(author.id),
        title: new.title,
        description: new.description,
        beneficiaries,
        expected_impact: new.expected_impact,
        status: status.as_str().to_owned(),
        duplicate_of: None,
        support_count: 0,
        comment_count: 0,
        version: 1,
        assignee_id: None,
        created_at: now,
        updated_at: now,
    };
    let id = idea.id;
    txn.insert_model_later(&idea).await?;
    txn.insert_many_later(
        new.theme_ids
            .iter()
            .map(|theme_id| idea_themes::ActiveModel {
                idea_id: Set(id),
                theme_id: Set(*theme_id),
            }),
    )
    .await?;
    let first =
        status_history::record_first(&txn, SUBJECT, id, status.as_str(), author.id, now).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(author.id),
            action: "idea.submitted",
            subject_type: SUBJECT,
            subject_id: Some(id),
            before: None,
            after: Some(after),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, id).await?;
    if let Some(key) = key {
        idempotency::remember(&txn, author.id, key, id).await?;
    }
    // Last: see count_submission.
    crate::auth::rate_limit::count_submission(&txn, author.id, hourly_limit).await?;
    txn.commit().await?;
    // Offered themes are in the board's order, as `cards` sorts them.
    let themes = offered
        .iter()
        .filter(|t| new.theme_ids.contains(&t.id))
        .cloned()
        .collect();
    Ok(Created::New(IdeaDetail {
        card: IdeaCard {
            status,
            beneficiaries: beneficiaries_from_column(&idea.beneficiaries),
            author: Some(Person::from(author)),
            themes,
            idea,
        },
        history: vec![first],
        duplicate_of: None,
    }))
}

/// Ideas like a draft, most alike first (1.0 for the closest, the rest
/// relative to it), among those the caller may see: shown before
/// submitting so that people can support an existing idea instead.
pub async fn similar(
    state: &AppState,
    caller: &Caller,
    title: &str,
    description: &str,
    limit: usize,
) -> Result<Vec<(IdeaCard, f64)>, AppError> {
    let found = crate::search::similar::similar_in_background(
        state,
        caller,
        crate::search::similar::Target::Draft {
            title: title.to_owned(),
            body: description.to_owned(),
        },
        vec!["idea"],
        limit,
    )
    .await?;
    let scores: HashMap<Uuid, f64> = found
        .iter()
        .filter_map(|(score, hit)| Some((hit.id.parse().ok()?, *score)))
        .collect();
    let list = ideas::Entity::find()
        .filter(ideas::Column::Id.is_in(scores.keys().copied()))
        .all(&state.db)
        .await?;
    let mut found = cards(&state.db, list).await?;
    found.sort_by(|a, b| {
        let score = |c: &IdeaCard| scores.get(&c.idea.id).copied().unwrap_or_default();
        score(b).total_cmp(&score(a))
    });
    Ok(found
        .into_iter()
        .map(|c| {
            let score = scores.get(&c.idea.id).copied().unwrap_or_default();
            (c, score)
        })
        .collect())
}

/// Whether `user` supports the idea, and with notifications.
pub async fn support_of(
    conn: &impl ConnectionTrait,
    idea_id: Uuid,
    user_id: Uuid,
) -> Result<Option<idea_supports::Model>, AppError> {
    Ok(idea_supports::Entity::find_by_id((idea_id, user_id))
        .one(conn)
        .await?)
}

/// Supports an idea once; supporting again only updates whether to notify.
/// Returns the idea's support count.
#[tracing::instrument(skip_all)]
pub async fn support(
    db: &DatabaseConnection,
    user: &users::Model,
    idea_id: Uuid,
    notify: bool,
) -> Result<i32, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let idea = ideas::Entity::find_by_id(idea_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if idea.author_id == Some(user.id) {
        return Err(AppError::Conflict(
            "You submitted this idea, so you cannot support it as well".to_owned(),
        ));
    }
    let now = Utc::now();
    let inserted = idea_supports::Entity::insert(idea_supports::ActiveModel {
        idea_id: Set(idea_id),
        user_id: Set(user.id),
        notify: Set(notify),
        merged_from: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([idea_supports::Column::IdeaId, idea_supports::Column::UserId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 1 {
        ideas::Entity::update_many()
            .col_expr(
                ideas::Column::SupportCount,
                Expr::col(ideas::Column::SupportCount).add(1),
            )
            .filter(ideas::Column::Id.eq(idea_id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            AuditEvent {
                actor: Some(user.id),
                action: "idea.supported",
                subject_type: SUBJECT,
                subject_id: Some(idea_id),
                before: None,
                after: Some(json!({ "notify": notify })),
            },
        )
        .await?;
        audit::changed(&txn, SUBJECT, idea_id).await?;
    } else {
        idea_supports::Entity::update_many()
            .col_expr(idea_supports::Column::Notify, Expr::value(notify))
            .col_expr(idea_supports::Column::UpdatedAt, Expr::value(now))
            .filter(idea_supports::Column::IdeaId.eq(idea_id))
            .filter(idea_supports::Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            AuditEvent {
                actor: Some(user.id),
                action: "idea.support_notifications_changed",
                subject_type: SUBJECT,
                subject_id: Some(idea_id),
                before: None,
                after: Some(json!({ "notify": notify })),
            },
        )
        .await?;
    }
    let count = support_count(&txn, idea_id).await?;
    txn.commit().await?;
    Ok(count)
}

async fn support_count(conn: &impl ConnectionTrait, idea_id: Uuid) -> Result<i32, AppError> {
    Ok(ideas::Entity::find_by_id(idea_id)
        .one(conn)
        .await?
        .map(|i| i.support_count)
        .unwrap_or_default())
}

/// Withdraws support; withdrawing support that was never given changes nothing.
#[tracing::instrument(skip_all)]
pub async fn withdraw_support(
    db: &DatabaseConnection,
    user: &users::Model,
    idea_id: Uuid,
) -> Result<i32, AppError> {
    let txn = crate::db::begin_write(db).await?;
    ideas::Entity::find_by_id(idea_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let deleted = idea_supports::Entity::delete_many()
        .filter(idea_supports::Column::IdeaId.eq(idea_id))
        .filter(idea_supports::Column::UserId.eq(user.id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 1 {
        ideas::Entity::update_many()
            .col_expr(
                ideas::Column::SupportCount,
                Expr::col(ideas::Column::SupportCount).sub(1),
            )
            .filter(ideas::Column::Id.eq(idea_id))
            .exec(&txn)
            .await?;
        audit::record(
            &txn,
            AuditEvent {
                actor: Some(user.id),
                action: "idea.support_withdrawn",
                subject_type: SUBJECT,
                subject_id: Some(idea_id),
                before: None,
                after: None,
            },
        )
        .await?;
        audit::changed(&txn, SUBJECT, idea_id).await?;
    }
    let count = support_count(&txn, idea_id).await?;
    txn.commit().await?;
    Ok(count)
}

/// A comment as the caller may see it.
#[derive(Debug, Clone)]
pub struct CommentView {
    pub comment: comments::Model,
    pub author: Option<Person>,
    /// Rendered Markdown; None when hidden and the caller is not on the board.
    pub body_html: Option<String>,
    pub can_edit: bool,
}

pub async fn comments_for(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    idea_id: Uuid,
) -> Result<Vec<CommentView>, AppError> {
    let list = comments::Entity::find()
        .filter(comments::Column::SubjectType.eq(SUBJECT))
        .filter(comments::Column::SubjectId.eq(idea_id))
        .filter(comments::Column::Visibility.eq("public"))
        .order_by_asc(comments::Column::Id)
        .limit(1_000)
        .all(conn)
        .await?;
    let authors = people::load(conn, list.iter().filter_map(|c| c.author_id)).await?;
    let board = policy::can_see_board_content(caller);
    let now = Utc::now();
    Ok(list
        .into_iter()
        .map(|comment| CommentView {
            author: comment.author_id.and_then(|a| authors.get(&a).cloned()),
            body_html: (comment.hidden_at.is_none() || board)
                .then(|| crate::markdown::render(&comment.body)),
            can_edit: policy::can_edit_comment(caller, &comment, now),
            comment,
        })
        .collect())
}

pub async fn find_comment(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<comments::Model, AppError> {
    comments::Entity::find_by_id(id)
        .filter(comments::Column::Visibility.eq("public"))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Comments on an idea; with a key, a retry returns the first comment.
#[tracing::instrument(skip_all)]
pub async fn add_comment(
    db: &DatabaseConnection,
    author: &users::Model,
    idea_id: Uuid,
    raw_body: &str,
    key: Option<&IdempotencyKey>,
) -> Result<Created, AppError> {
    let result = insert_comment(db, author, idea_id, raw_body, key).await;
    idempotency::settle(db, author.id, key, result).await
}

async fn insert_comment(
    db: &DatabaseConnection,
    author: &users::Model,
    idea_id: Uuid,
    raw_body: &str,
    key: Option<&IdempotencyKey>,
) -> Result<Created, AppError> {
    let mut errors = Vec::new();
    let body = COMMENT.check(raw_body, &mut errors);
    let Some(body) = body else {
        return Err(AppError::Validation(errors));
    };
    let txn = crate::db::begin_write(db).await?;
    if let Some(key) = key
        && let Some(id) = idempotency::replay(&txn, author.id, key).await?
    {
        return Ok(Created::Replayed(id));
    }
    ideas::Entity::find_by_id(idea_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let now = Utc::now();
    let comment = comments::ActiveModel {
        id: Set(Uuid::now_v7()),
        subject_type: Set(SUBJECT.to_owned()),
        subject_id: Set(idea_id),
        author_id: Set(Some(author.id)),
        body: Set(body),
        visibility: Set("public".to_owned()),
        edited_at: Set(None),
        hidden_at: Set(None),
        hidden_reason: Set(None),
        hidden_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    ideas::Entity::update_many()
        .col_expr(
            ideas::Column::CommentCount,
            Expr::col(ideas::Column::CommentCount).add(1),
        )
        .col_expr(ideas::Column::UpdatedAt, Expr::value(now))
        .filter(ideas::Column::Id.eq(idea_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(author.id),
            action: "comment.added",
            subject_type: "comment",
            subject_id: Some(comment.id),
            before: None,
            after: Some(json!({ "idea_id": idea_id, "body": comment.body })),
        },
    )
    .await?;
    audit::changed(&txn, "comment", comment.id).await?;
    audit::changed(&txn, SUBJECT, idea_id).await?;
    if let Some(key) = key {
        idempotency::remember(&txn, author.id, key, comment.id).await?;
    }
    txn.commit().await?;
    Ok(Created::New(comment.id))
}

/// An author edits their comment within the edit window.
#[tracing::instrument(skip_all)]
pub async fn edit_comment(
    db: &DatabaseConnection,
    caller: &Caller,
    comment_id: Uuid,
    raw_body: &str,
) -> Result<comments::Model, AppError> {
    let user = caller.user.as_ref().ok_or(AppError::Unauthorized)?;
    let mut errors = Vec::new();
    let body = COMMENT.check(raw_body, &mut errors);
    let txn = crate::db::begin_write(db).await?;
    let comment = find_comment(&txn, comment_id).await?;
    let now = Utc::now();
    if comment.author_id != Some(user.id) {
        return Err(AppError::Forbidden);
    }
    if !policy::can_edit_comment(caller, &comment, now) {
        return Err(AppError::Conflict(format!(
            "Comments can only be changed for {} minutes after they are posted",
            policy::COMMENT_EDIT_WINDOW.num_minutes()
        )));
    }
    let Some(body) = body else {
        return Err(AppError::Validation(errors));
    };
    let before = comment.body.clone();
    let mut changed: comments::ActiveModel = comment.into();
    changed.body = Set(body);
    changed.edited_at = Set(Some(now));
    changed.updated_at = Set(now);
    let comment = changed.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(user.id),
            action: "comment.edited",
            subject_type: "comment",
            subject_id: Some(comment.id),
            before: Some(json!({ "body": before })),
            after: Some(json!({ "body": comment.body })),
        },
    )
    .await?;
    audit::changed(&txn, "comment", comment.id).await?;
    txn.commit().await?;
    Ok(comment)
}

/// A board member hides a comment, giving a reason that is shown in its place.
#[tracing::instrument(skip_all)]
pub async fn hide_comment(
    db: &DatabaseConnection,
    actor: &users::Model,
    comment_id: Uuid,
    raw_reason: &str,
) -> Result<comments::Model, AppError> {
    let mut errors = Vec::new();
    let reason = HIDE_REASON.check(raw_reason, &mut errors);
    let Some(reason) = reason else {
        return Err(AppError::Validation(errors));
    };
    let txn = crate::db::begin_write(db).await?;
    let comment = find_comment(&txn, comment_id).await?;
    if comment.hidden_at.is_some() {
        return Err(AppError::Conflict(
            "This comment is already hidden".to_owned(),
        ));
    }
    let now = Utc::now();
    let subject_id = comment.subject_id;
    let mut changed: comments::ActiveModel = comment.into();
    changed.hidden_at = Set(Some(now));
    changed.hidden_reason = Set(Some(reason.clone()));
    changed.hidden_by = Set(Some(actor.id));
    changed.updated_at = Set(now);
    let comment = changed.update(&txn).await?;
    ideas::Entity::update_many()
        .col_expr(
            ideas::Column::CommentCount,
            Expr::col(ideas::Column::CommentCount).sub(1),
        )
        .filter(ideas::Column::Id.eq(subject_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "comment.hidden",
            subject_type: "comment",
            subject_id: Some(comment.id),
            before: None,
            after: Some(json!({ "reason": reason })),
        },
    )
    .await?;
    audit::changed(&txn, "comment", comment.id).await?;
    audit::changed(&txn, SUBJECT, subject_id).await?;
    txn.commit().await?;
    Ok(comment)
}

/// A board member's status change, with its public note.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub status: String,
    pub note: String,
    pub duplicate_of: Option<String>,
    /// The version the change was based on; a stale one is refused.
    pub version: Option<i32>,
}

fn parse_idea_reference(raw: &str) -> Option<Uuid> {
    let trimmed = raw.trim().trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    Uuid::parse_str(last).ok()
}

/// Moves an idea to a new status, records the public note and emails the
/// author and the supporters who asked to hear.
#[tracing::instrument(skip_all)]
pub async fn change_status(
    state: &AppState,
    actor: &users::Model,
    idea_id: Uuid,
    change: &StatusChange,
) -> Result<ideas::Model, AppError> {
    let mut errors = Vec::new();
    let to = IdeaStatus::parse(&change.status);
    if to.is_none() {
        errors.push(FieldError::new("status", "Select a status"));
    }
    let note = STATUS_NOTE.check(&change.note, &mut errors);
    let txn = crate::db::begin_write(&state.db).await?;
    let idea = ideas::Entity::find_by_id(idea_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let from = status_of(&idea);
    if let Some(to) = to
        && !from.next().contains(&to)
    {
        let allowed: Vec<&str> = from.next().iter().map(|s| s.label()).collect();
        errors.push(status_history::not_allowed(
            "An idea",
            from.label(),
            &allowed,
        ));
    }
    let mut duplicate_of = None;
    if to == Some(IdeaStatus::Duplicate) {
        match change
            .duplicate_of
            .as_deref()
            .and_then(parse_idea_reference)
        {
            None => errors.push(FieldError::new(
                "duplicate_of",
                "Enter the link to the original idea",
            )),
            Some(original) if original == idea_id => errors.push(FieldError::new(
                "duplicate_of",
                "An idea cannot be a duplicate of itself",
            )),
            Some(original) => match ideas::Entity::find_by_id(original).one(&txn).await? {
                None => errors.push(FieldError::new(
                    "duplicate_of",
                    "There is no idea at that link",
                )),
                Some(o) if o.status == IdeaStatus::Duplicate.as_str() => {
                    errors.push(FieldError::new(
                        "duplicate_of",
                        "Link to the original idea, not to another duplicate",
                    ))
                }
                Some(o) => duplicate_of = Some(o),
            },
        }
    }
    if let Some(expected) = change.version
        && expected != idea.version
    {
        return Err(status_history::stale("idea", idea.version));
    }
    let (Some(to), Some(note)) = (to, note) else {
        return Err(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = Utc::now();
    // Compare-and-set on the version: of two concurrent changes, one wins.
    let updated = ideas::Entity::update_many()
        .col_expr(ideas::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            ideas::Column::DuplicateOf,
            Expr::value(duplicate_of.as_ref().map(|o| o.id)),
        )
        .col_expr(
            ideas::Column::Version,
            Expr::col(ideas::Column::Version).add(1),
        )
        .col_expr(ideas::Column::UpdatedAt, Expr::value(now))
        .filter(ideas::Column::Id.eq(idea_id))
        .filter(ideas::Column::Version.eq(idea.version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(status_history::lost_race("idea"));
    }
    let change_id = status_history::record(
        &txn,
        status_history::Change {
            subject_type: SUBJECT,
            subject_id: idea_id,
            from: Some(from.as_str()),
            to: to.as_str(),
            note: &note,
            actor: actor.id,
            at: now,
        },
    )
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "idea.status_changed",
            subject_type: SUBJECT,
            subject_id: Some(idea_id),
            before: Some(json!({ "status": from.as_str(), "duplicate_of": idea.duplicate_of, "version": idea.version })),
            after: Some(json!({ "status": to.as_str(), "duplicate_of": duplicate_of.as_ref().map(|o| o.id), "note": note, "version": idea.version + 1 })),
        },
    )
    .await?;
    audit::changed(&txn, SUBJECT, idea_id).await?;
    // A duplicate's supporters count for its original until it stops being one.
    if let Some(original) = &duplicate_of {
        super::merge::combine(&txn, idea_id, original).await?;
    } else if let (IdeaStatus::Duplicate, Some(original)) = (from, idea.duplicate_of) {
        super::merge::separate(&txn, idea_id, original).await?;
    }

    let link = state.settings.link(&format!("/ideas/{idea_id}"));
    let mut recipients: Vec<(Uuid, bool)> = Vec::new();
    if let Some(author) = idea.author_id {
        recipients.push((author, true));
    }
    let supporters = idea_supports::Entity::find()
        .filter(idea_supports::Column::IdeaId.eq(idea_id))
        .filter(idea_supports::Column::Notify.eq(true))
        .all(&txn)
        .await?;
    recipients.extend(supporters.iter().map(|s| (s.user_id, false)));
    recipients.retain(|(id, _)| *id != actor.id);
    let people = users::Entity::find()
        .filter(users::Column::Id.is_in(recipients.iter().map(|(id, _)| *id).collect::<Vec<_>>()))
        .all(&txn)
        .await?;
    let mut queued = false;
    for (user_id, is_author) in &recipients {
        let Some(person) = people.iter().find(|p| p.id == *user_id) else {
            continue;
        };
        let message = templates::status_update(
            &person.email,
            &templates::StatusUpdate {
                subject: if *is_author {
                    format!("Your idea is now {}", to.label().to_lowercase())
                } else {
                    format!("An idea you support is now {}", to.label().to_lowercase())
                },
                item: "idea",
                title: &idea.title,
                status: to.label(),
                note: &note,
                link: &link,
                why: if *is_author {
                    "You are receiving this because you submitted this idea."
                } else {
                    "You are receiving this because you support this idea and asked to hear about changes. You can stop these emails on the idea's page."
                },
            },
        )?;
        email::enqueue(&txn, &format!("idea-status:{change_id}:{user_id}"), message).await?;
        queued = true;
    }
    txn.commit().await?;
    if queued {
        state.outbox_ready.notify_one();
    }
    ideas::Entity::find_by_id(idea_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idea_references_accept_links_and_ids() {
        let id = Uuid::now_v7();
        assert_eq!(
            parse_idea_reference(&format!("https://hub.example/ideas/{id}")),
            Some(id)
        );
        assert_eq!(parse_idea_reference(&id.to_string()), Some(id));
        assert_eq!(parse_idea_reference("not a link"), None);
    }
}
