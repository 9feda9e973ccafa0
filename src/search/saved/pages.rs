//! Saved search pages: name the search on the page, list them with their
//! new matches, see what is new and mark it seen, choose to be told, delete.

use askama::Template;
use poem::web::{Data, Path};
use poem::{IntoResponse, Request, Response, handler};
use uuid::Uuid;

use super::{SaveInput, SavedQuery};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::error::AppError;
use crate::search::query::Hit;
use crate::web::forms::{Errors, Fields, refusal};
use crate::web::page::{PageContext, render, render_with_status, see_other};

#[derive(Template)]
#[template(path = "search/save.html")]
struct SavePage {
    page: PageContext,
    query: SavedQuery,
    name: String,
    notify: bool,
    errors: Errors,
}

/// `GET /search/save?…`: the form naming the search just run.
#[handler]
pub async fn save_form(
    req: &Request,
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Response, AppError> {
    policy::require(&caller, Permission::SaveSearches)?;
    let fields = Fields::parse(req.uri().query().unwrap_or("").as_bytes());
    Ok(render(&SavePage {
        page: PageContext::new(&caller, &state.key),
        query: SavedQuery::from_fields(&fields),
        name: String::new(),
        notify: true,
        errors: Errors::default(),
    })?
    .into_response())
}

/// `POST /search/saved`.
#[handler]
pub async fn save(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::SaveSearches)?;
    let input = SaveInput {
        name: fields.get("name").to_owned(),
        query: SavedQuery::from_fields(&fields),
        notify: fields.ticked("notify"),
    };
    let index = state.search.current();
    let outcome = match super::check(&index, &input) {
        Ok((name, request)) => super::create(&state.db, user, name, &input, &request).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(_) => Ok(see_other("/search/saved?saved=1")),
        Err(err) => {
            let (errors, status) = refusal(err, "name")?;
            render_with_status(
                &SavePage {
                    page: PageContext::new(&caller, &state.key),
                    query: input.query,
                    name: input.name,
                    notify: input.notify,
                    errors,
                },
                status,
            )
        }
    }
}

pub struct SavedRow {
    pub id: Uuid,
    pub name: String,
    pub summary: String,
    pub link: String,
    pub notify: bool,
    pub new_count: usize,
}

#[derive(Template)]
#[template(path = "search/saved.html")]
struct ListPage {
    page: PageContext,
    rows: Vec<SavedRow>,
    notice: Option<&'static str>,
}

/// `GET /search/saved`.
#[handler]
pub async fn list(
    req: &Request,
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::SaveSearches)?;
    let saved = super::list(&state.db, user.id).await?;
    let audience = policy::search_audience(&caller);
    let index = state.search.current();
    let rows = tokio::task::spawn_blocking(move || {
        saved
            .iter()
            .map(|s| {
                let query = SavedQuery::of(s);
                // A search that no longer runs (a retired filter value
                // still runs; a changed syntax might not) shows no count.
                let new_count = super::new_matches(&index, &audience, s, 1)
                    .map(|r| r.total)
                    .unwrap_or(0);
                SavedRow {
                    id: s.id,
                    name: s.name.clone(),
                    summary: query.summary(),
                    link: query.link(),
                    notify: s.notify,
                    new_count,
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(AppError::internal)?;
    let query = req.uri().query().unwrap_or("");
    let notice = if query.contains("saved=1") {
        Some("Your search has been saved.")
    } else if query.contains("deleted=1") {
        Some("The saved search has been deleted.")
    } else if query.contains("seen=1") {
        Some("The new matches have been marked as seen.")
    } else {
        None
    };
    Ok(render(&ListPage {
        page: PageContext::new(&caller, &state.key),
        rows,
        notice,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "search/new_matches.html")]
struct NewMatchesPage {
    page: PageContext,
    saved: entity::saved_searches::Model,
    summary: String,
    link: String,
    total: usize,
    hits: Vec<Hit>,
    /// When the page was drawn: what arrives later is not marked seen.
    shown_at: String,
}

impl NewMatchesPage {
    fn kind_label(&self, kind: &str) -> &'static str {
        crate::search::kind_label(kind)
    }
}

/// `GET /search/saved/{id}`: what is new since the owner last looked.
#[handler]
pub async fn new_matches(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::SaveSearches)?;
    let saved = super::find(&state.db, user.id, id).await?;
    let shown_at = chrono::Utc::now();
    let results = run_new_matches(&state, &caller, &saved).await?;
    let query = SavedQuery::of(&saved);
    Ok(render(&NewMatchesPage {
        page: PageContext::new(&caller, &state.key),
        summary: query.summary(),
        link: query.link(),
        total: results.total,
        hits: results.hits,
        saved,
        shown_at: shown_at.timestamp_micros().to_string(),
    })?
    .into_response())
}

/// How many new matches a page shows.
const SHOWN: u64 = 50;

async fn run_new_matches(
    state: &AppState,
    caller: &Caller,
    saved: &entity::saved_searches::Model,
) -> Result<crate::search::query::SearchResults, AppError> {
    let audience = policy::search_audience(caller);
    let index = state.search.current();
    let saved = saved.clone();
    tokio::task::spawn_blocking(move || super::new_matches(&index, &audience, &saved, SHOWN))
        .await
        .map_err(AppError::internal)?
}

/// `POST /search/saved/{id}/seen`, with the moment the page was drawn.
#[handler]
pub async fn mark_seen(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::SaveSearches)?;
    let saved = super::find(&state.db, user.id, id).await?;
    let shown_at = fields
        .get("shown_at")
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .ok_or_else(|| AppError::BadRequest("shown_at is missing or not a time".into()))?;
    // The same oldest-first page as was shown, to know where it ended.
    let results = run_new_matches(&state, &caller, &saved).await?;
    if let Some(mark) = super::seen_mark(&state, &results, shown_at).await? {
        super::mark_seen(&state.db, &saved, mark).await?;
    }
    Ok(see_other("/search/saved?seen=1"))
}

/// `POST /search/saved/{id}/notify`: `notify=yes` or `notify=no`.
#[handler]
pub async fn set_notify(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
    fields: Fields,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::SaveSearches)?;
    let notify = match fields.get("notify") {
        "yes" => true,
        "no" => false,
        _ => return Err(AppError::BadRequest("notify must be yes or no".into())),
    };
    super::update(&state.db, user.id, id, None, Some(notify)).await?;
    Ok(see_other("/search/saved"))
}

/// `POST /search/saved/{id}/delete`.
#[handler]
pub async fn delete(
    state: Data<&AppState>,
    caller: Data<&Caller>,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    let user = policy::require(&caller, Permission::SaveSearches)?;
    super::delete(&state.db, user.id, id).await?;
    Ok(see_other("/search/saved?deleted=1"))
}
