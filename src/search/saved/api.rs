//! `/api/v1/me/saved-searches`: board members' saved searches.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::{SaveInput, SavedQuery};
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::pagination::{self, PageSize};
use crate::search::api::SearchResponse;

pub struct SavedSearchesApi;

#[derive(Debug, Object)]
pub struct FilterValues {
    /// kind, status, theme, category, severity, respondent or organisation
    pub name: String,
    pub values: Vec<String>,
}

#[derive(Debug, Object)]
pub struct SavedSearch {
    pub id: Uuid,
    pub name: String,
    pub q: String,
    pub filters: Vec<FilterValues>,
    #[oai(nullable)]
    pub from: Option<String>,
    #[oai(nullable)]
    pub to: Option<String>,
    pub sort: String,
    /// Whether the owner hears about new matches (in their digest).
    pub notify: bool,
    /// Matches created after this are new.
    pub seen_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The search page showing it.
    pub link: String,
    /// A short description of the search.
    pub summary: String,
}

impl From<&entity::saved_searches::Model> for SavedSearch {
    fn from(m: &entity::saved_searches::Model) -> Self {
        let query = SavedQuery::of(m);
        SavedSearch {
            id: m.id,
            name: m.name.clone(),
            q: m.query.clone(),
            filters: query
                .filters
                .iter()
                .map(|(name, values)| FilterValues {
                    name: name.clone(),
                    values: values.clone(),
                })
                .collect(),
            from: m.date_from.map(|d| d.to_string()),
            to: m.date_to.map(|d| d.to_string()),
            sort: m.sort.clone(),
            notify: m.notify,
            seen_at: m.seen_at,
            created_at: m.created_at,
            link: query.link(),
            summary: query.summary(),
        }
    }
}

#[derive(Debug, Object)]
pub struct SaveSearchBody {
    /// Up to 100 characters, unique among the caller's saved searches.
    pub name: String,
    /// As `q` on `GET /search`.
    #[oai(default)]
    pub q: String,
    /// Facet filters, as on `GET /search`.
    #[oai(default)]
    pub filters: Vec<FilterValues>,
    /// Created on or after, like 2026-10-01
    #[oai(default)]
    pub from: String,
    /// Created on or before, like 2026-10-31
    #[oai(default)]
    pub to: String,
    /// relevance (default), newest or most_supported
    #[oai(default)]
    pub sort: String,
    /// Hear about new matches in the digest.
    #[oai(default)]
    pub notify: bool,
}

#[derive(Debug, Object)]
pub struct UpdateSavedSearchBody {
    pub name: Option<String>,
    pub notify: Option<bool>,
}

#[derive(ApiResponse)]
pub enum SaveSearchResponse {
    #[oai(status = 201)]
    Created(Json<SavedSearch>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
pub enum DeletedResponse {
    /// Deleted.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Search")]
impl SavedSearchesApi {
    /// The caller's saved searches (board)
    #[oai(
        path = "/me/saved-searches",
        method = "get",
        operation_id = "listSavedSearches"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
    ) -> Result<Json<Vec<SavedSearch>>, ApiError> {
        let user = policy::require(&caller, Permission::SaveSearches)?;
        let saved = super::list(&state.db, user.id).await?;
        Ok(Json(saved.iter().map(SavedSearch::from).collect()))
    }

    /// Save a search (board)
    #[oai(
        path = "/me/saved-searches",
        method = "post",
        operation_id = "saveSearch"
    )]
    async fn save(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<SaveSearchBody>,
    ) -> Result<SaveSearchResponse, ApiError> {
        let user = policy::require(&caller, Permission::SaveSearches)?;
        let body = body.0;
        let input = SaveInput {
            name: body.name,
            query: SavedQuery {
                q: body.q,
                filters: body
                    .filters
                    .into_iter()
                    .map(|f| (f.name, f.values))
                    .collect(),
                from: body.from,
                to: body.to,
                sort: body.sort,
            },
            notify: body.notify,
        };
        let index = state.search.current();
        let (name, request) = super::check(&index, &input)?;
        let saved = super::create(&state.db, user, name, &input, &request).await?;
        Ok(SaveSearchResponse::Created(
            Json(SavedSearch::from(&saved)),
            format!("/api/v1/me/saved-searches/{}", saved.id),
        ))
    }

    /// One saved search (its owner)
    #[oai(
        path = "/me/saved-searches/:id",
        method = "get",
        operation_id = "getSavedSearch"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<Json<SavedSearch>, ApiError> {
        let user = policy::require(&caller, Permission::SaveSearches)?;
        let saved = super::find(&state.db, user.id, id.0).await?;
        Ok(Json(SavedSearch::from(&saved)))
    }

    /// Rename a saved search or change whether to hear about new matches
    #[oai(
        path = "/me/saved-searches/:id",
        method = "patch",
        operation_id = "updateSavedSearch"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        body: Json<UpdateSavedSearchBody>,
    ) -> Result<Json<SavedSearch>, ApiError> {
        let user = policy::require(&caller, Permission::SaveSearches)?;
        let saved = super::update(
            &state.db,
            user.id,
            id.0,
            body.0.name.as_deref(),
            body.0.notify,
        )
        .await?;
        Ok(Json(SavedSearch::from(&saved)))
    }

    /// Delete a saved search
    #[oai(
        path = "/me/saved-searches/:id",
        method = "delete",
        operation_id = "deleteSavedSearch"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
    ) -> Result<DeletedResponse, ApiError> {
        let user = policy::require(&caller, Permission::SaveSearches)?;
        super::delete(&state.db, user.id, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// New matches of a saved search
    ///
    /// Items matching it that were created after the owner last looked,
    /// oldest first. `mark_seen=true` records that those returned have now
    /// been seen (with more than `limit`, the rest stay new).
    #[oai(
        path = "/me/saved-searches/:id/new-matches",
        method = "get",
        operation_id = "savedSearchNewMatches"
    )]
    async fn new_matches(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        id: Path<Uuid>,
        #[oai(default)] mark_seen: Query<bool>,
        limit: Query<Option<PageSize>>,
    ) -> Result<Json<SearchResponse>, ApiError> {
        let user = policy::require(&caller, Permission::SaveSearches)?;
        let saved = super::find(&state.db, user.id, id.0).await?;
        let limit = pagination::page_size(limit.0)?;
        let audience = policy::search_audience(&caller);
        let index = state.search.current();
        let checked_at = Utc::now();
        let for_search = saved.clone();
        let results = tokio::task::spawn_blocking(move || {
            super::new_matches(&index, &audience, &for_search, limit)
        })
        .await
        .map_err(AppError::internal)??;
        if mark_seen.0
            && let Some(mark) = super::seen_mark(&state, &results, checked_at).await?
        {
            super::mark_seen(&state.db, &saved, mark).await?;
        }
        let mut response = SearchResponse::from(results);
        // A next page of "new" items would move as they are marked seen.
        response.next_cursor = None;
        Ok(Json(response))
    }
}
