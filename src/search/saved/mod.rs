//! Saved searches: a board member names a search to run again, and can ask
//! to hear about items that match it after they last looked (digests use
//! `new_matches`). A search runs with its owner's visibility at the time it
//! runs, never the visibility they had when they saved it.

pub mod api;
pub mod pages;

use std::collections::BTreeMap;

use chrono::Utc;
use entity::{saved_searches, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::query::{self, Audience, FACETS, SearchRequest, SearchResults, Sort};
use super::schema::SearchIndex;
use crate::error::{AppError, FieldError};
use crate::text::TextField;

/// Enough for the searches one person follows; more is a sign of misuse.
pub const MAX_PER_PERSON: u64 = 50;
/// Values one filter of a saved search may hold.
const MAX_FILTER_VALUES: usize = 20;

/// The saved search's name, checked the same way when saved and renamed.
const NAME: TextField<'static> = TextField {
    name: "name",
    label: "Name",
    max_chars: 100,
    multiline: false,
    required: Some("Enter a name for this search"),
};

/// A search as saved: what the search page and API take.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SavedQuery {
    pub q: String,
    pub filters: Vec<(String, Vec<String>)>,
    pub from: String,
    pub to: String,
    pub sort: String,
}

impl SavedQuery {
    pub fn of(model: &saved_searches::Model) -> Self {
        let filters: BTreeMap<String, Vec<String>> =
            serde_json::from_str(&model.filters).unwrap_or_default();
        SavedQuery {
            q: model.query.clone(),
            filters: filters.into_iter().collect(),
            from: model.date_from.map(|d| d.to_string()).unwrap_or_default(),
            to: model.date_to.map(|d| d.to_string()).unwrap_or_default(),
            sort: model.sort.clone(),
        }
    }

    /// The request it stands for, or field errors.
    pub fn request(&self, limit: u64) -> Result<SearchRequest, AppError> {
        super::Params {
            q: &self.q,
            filters: self.filters.clone(),
            from: &self.from,
            to: &self.to,
            sort: &self.sort,
            cursor: "",
            limit: Some(limit),
        }
        .into_request()
    }

    /// The search's parameters as the search page's form sends them.
    pub fn from_fields(fields: &crate::web::forms::Fields) -> Self {
        SavedQuery {
            q: fields.get("q").to_owned(),
            filters: FACETS
                .iter()
                .map(|(group, _)| ((*group).to_owned(), fields.all(group)))
                .filter(|(_, values)| !values.is_empty())
                .collect(),
            from: fields.get("from").to_owned(),
            to: fields.get("to").to_owned(),
            sort: fields.get("sort").to_owned(),
        }
    }

    /// The search page showing it.
    pub fn link(&self) -> String {
        self.link_to("/search", None)
    }

    /// A link to `path` carrying these parameters (and a page's cursor).
    pub fn link_to(&self, path: &str, cursor: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("q", &self.q),
            ("from", &self.from),
            ("to", &self.to),
            ("sort", &self.sort),
        ];
        for (group, values) in &self.filters {
            pairs.extend(values.iter().map(|v| (group.as_str(), v.as_str())));
        }
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor));
        }
        crate::web::page::link_with_query(path, pairs)
    }

    /// A short description for lists and emails.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.q.trim().is_empty() {
            parts.push(format!("“{}”", self.q.trim()));
        }
        for (group, values) in &self.filters {
            if !values.is_empty() {
                let legend = FACETS
                    .iter()
                    .find(|(g, _)| g == group)
                    .map_or(group.as_str(), |(_, legend)| legend);
                parts.push(format!("{legend}: {}", values.join(", ")));
            }
        }
        if !self.from.is_empty() || !self.to.is_empty() {
            parts.push(format!(
                "created {} to {}",
                or_any(&self.from),
                or_any(&self.to)
            ));
        }
        if parts.is_empty() {
            "Everything".to_owned()
        } else {
            parts.join(" · ")
        }
    }
}

fn or_any(date: &str) -> &str {
    if date.is_empty() { "any time" } else { date }
}

/// What a person asks to save.
#[derive(Debug, Clone, Default)]
pub struct SaveInput {
    pub name: String,
    pub query: SavedQuery,
    pub notify: bool,
}

/// Checks the name and that the search itself runs (a malformed query or
/// an unknown filter is refused here, not when a digest runs it).
pub fn check(index: &SearchIndex, input: &SaveInput) -> Result<(String, SearchRequest), AppError> {
    let mut errors = Vec::new();
    let name = NAME.check(&input.name, &mut errors);
    // One entry per filter group, each within bounds, as it will be stored.
    let mut merged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (group, values) in &input.query.filters {
        let entry = merged.entry(group.clone()).or_default();
        for value in values {
            if !value.is_empty() && !entry.contains(value) {
                entry.push(value.clone());
            }
        }
    }
    for (group, values) in &merged {
        if values.len() > MAX_FILTER_VALUES || values.iter().any(|v| v.chars().count() > 200) {
            errors.push(FieldError::new(
                group,
                format!("Choose up to {MAX_FILTER_VALUES} values of 200 characters or fewer"),
            ));
        }
    }
    let query = SavedQuery {
        filters: merged.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        ..input.query.clone()
    };
    let request = match query.request(1) {
        Ok(request) => match query::search(index, &Audience::Public(None), &request) {
            Ok(_) => Some(request),
            Err(AppError::Validation(found)) => {
                errors.extend(found);
                None
            }
            Err(other) => return Err(other),
        },
        Err(AppError::Validation(found)) => {
            errors.extend(found);
            None
        }
        Err(other) => return Err(other),
    };
    match (name, request) {
        (Some(name), Some(request)) if errors.is_empty() => Ok((name, request)),
        _ => Err(AppError::Validation(errors)),
    }
}

pub async fn create(
    db: &DatabaseConnection,
    owner: &users::Model,
    name: String,
    input: &SaveInput,
    request: &SearchRequest,
) -> Result<saved_searches::Model, AppError> {
    let count = saved_searches::Entity::find()
        .filter(saved_searches::Column::OwnerId.eq(owner.id))
        .count(db)
        .await?;
    if count >= MAX_PER_PERSON {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            format!(
                "You can save up to {MAX_PER_PERSON} searches: delete one you no longer need first"
            ),
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    ensure_unique(&txn, owner.id, &name, None).await?;
    let filters: BTreeMap<&str, &Vec<String>> = request
        .filters
        .iter()
        .map(|(group, values)| (group.as_str(), values))
        .collect();
    let now = Utc::now();
    let saved = saved_searches::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_id: Set(owner.id),
        name: Set(name),
        query: Set(input.query.q.trim().to_owned()),
        filters: Set(serde_json::to_string(&filters).map_err(AppError::internal)?),
        date_from: Set(request.from),
        date_to: Set(request.to),
        sort: Set(sort_name(request.sort).to_owned()),
        notify: Set(input.notify),
        seen_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|err| match err.sql_err() {
        // Saved twice at once under one name: the same answer as one at a time.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            AppError::Validation(vec![FieldError::new(
                "name",
                "You already have a saved search with this name: choose another name",
            )])
        }
        _ => AppError::from(err),
    })?;
    record(
        &txn,
        owner.id,
        "saved_search.created",
        saved.id,
        None,
        Some(described(&saved)),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

fn described(saved: &saved_searches::Model) -> serde_json::Value {
    json!({ "name": saved.name, "query": saved.query, "notify": saved.notify })
}

async fn record(
    conn: &crate::db::WriteTransaction,
    owner: Uuid,
    action: &str,
    id: Uuid,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<(), AppError> {
    crate::audit::record(
        conn,
        crate::audit::AuditEvent {
            actor: Some(owner),
            action,
            subject_type: "saved_search",
            subject_id: Some(id),
            before,
            after,
        },
    )
    .await?;
    Ok(())
}

fn sort_name(sort: Sort) -> &'static str {
    match sort {
        Sort::Relevance => "relevance",
        Sort::Newest => "newest",
        Sort::MostSupported => "most_supported",
        Sort::Oldest => "oldest",
    }
}

async fn ensure_unique(
    db: &impl ConnectionTrait,
    owner: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> Result<(), AppError> {
    let mut same = saved_searches::Entity::find()
        .filter(saved_searches::Column::OwnerId.eq(owner))
        .filter(saved_searches::Column::Name.eq(name));
    if let Some(id) = except {
        same = same.filter(saved_searches::Column::Id.ne(id));
    }
    if same.one(db).await?.is_some() {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            format!("You already have a saved search called “{name}”: choose another name"),
        )]));
    }
    Ok(())
}

/// The owner's saved searches, by name.
pub async fn list(
    db: &impl ConnectionTrait,
    owner: Uuid,
) -> Result<Vec<saved_searches::Model>, AppError> {
    Ok(saved_searches::Entity::find()
        .filter(saved_searches::Column::OwnerId.eq(owner))
        .order_by_asc(saved_searches::Column::Name)
        .all(db)
        .await?)
}

/// One of the owner's saved searches; anyone else's is not found.
pub async fn find(
    db: &impl ConnectionTrait,
    owner: Uuid,
    id: Uuid,
) -> Result<saved_searches::Model, AppError> {
    saved_searches::Entity::find_by_id(id)
        .filter(saved_searches::Column::OwnerId.eq(owner))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Renames it or changes whether its owner hears about new matches.
pub async fn update(
    db: &DatabaseConnection,
    owner: Uuid,
    id: Uuid,
    name: Option<&str>,
    notify: Option<bool>,
) -> Result<saved_searches::Model, AppError> {
    let txn = crate::db::begin_write(db).await?;
    let saved = find(&txn, owner, id).await?;
    let before = described(&saved);
    let mut active: saved_searches::ActiveModel = saved.into();
    if let Some(raw) = name {
        let mut errors = Vec::new();
        let checked = NAME.check(raw, &mut errors);
        let Some(checked) = checked.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        ensure_unique(&txn, owner, &checked, Some(id)).await?;
        active.name = Set(checked);
    }
    if let Some(notify) = notify {
        active.notify = Set(notify);
    }
    active.updated_at = Set(Utc::now());
    let saved = active.update(&txn).await?;
    record(
        &txn,
        owner,
        "saved_search.updated",
        id,
        Some(before),
        Some(described(&saved)),
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}

pub async fn delete(db: &DatabaseConnection, owner: Uuid, id: Uuid) -> Result<(), AppError> {
    let txn = crate::db::begin_write(db).await?;
    let saved = find(&txn, owner, id).await?;
    saved_searches::Entity::delete_by_id(saved.id)
        .exec(&txn)
        .await?;
    record(
        &txn,
        owner,
        "saved_search.deleted",
        id,
        Some(described(&saved)),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Records that the owner has seen the matches up to `at` (never moving
/// back, which would make seen matches new again).
pub async fn mark_seen(
    db: &DatabaseConnection,
    saved: &saved_searches::Model,
    at: chrono::DateTime<Utc>,
) -> Result<(), AppError> {
    if at <= saved.seen_at {
        return Ok(());
    }
    let mut active: saved_searches::ActiveModel = saved.clone().into();
    active.seen_at = Set(at);
    let txn = crate::db::begin_write(db).await?;
    active.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

/// Up to when the owner has now seen a saved search's new matches, given
/// the `results` they were shown at `shown_at`: never past that moment, nor
/// past the last change the index has applied (so an item not yet
/// searchable is shown next time), nor past the last match shown when there
/// were more than were shown. None while the index is being filled.
pub async fn seen_mark(
    state: &crate::app_state::AppState,
    results: &SearchResults,
    shown_at: chrono::DateTime<Utc>,
) -> Result<Option<chrono::DateTime<Utc>>, AppError> {
    if state.search.needs_fill() {
        return Ok(None);
    }
    let mut mark = shown_at.min(Utc::now()) - chrono::Duration::seconds(2);
    if let Some(change) = entity::change_log::Entity::find_by_id(state.search.applied())
        .one(&state.db)
        .await?
    {
        mark = mark.min(change.created_at);
    }
    if results.total > results.hits.len()
        && let Some(last) = results.hits.last().and_then(|h| h.created)
    {
        mark = mark.min(last);
    }
    Ok(Some(mark))
}

/// Items matching a saved search that were created after its owner last
/// looked, oldest first, among what `audience` may see.
pub fn new_matches(
    index: &SearchIndex,
    audience: &Audience,
    saved: &saved_searches::Model,
    limit: u64,
) -> Result<SearchResults, AppError> {
    let mut request = SavedQuery::of(saved).request(limit)?;
    request.since = Some(saved.seen_at);
    request.sort = Sort::Oldest;
    // Near matches are a help when searching, not news worth an email.
    request.exact_only = true;
    query::search(index, audience, &request)
}
