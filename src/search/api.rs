//! `GET /api/v1/search`.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::query::{self, SearchResults};
use super::{Params, cursor_for};
use crate::api::ApiTags;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy;

pub struct SearchApi;

#[derive(Debug, Object)]
pub struct SearchHit {
    pub id: String,
    /// idea, report or comment
    pub kind: String,
    /// The title with matching words in `<b>`; the rest HTML-escaped.
    pub title_html: String,
    /// A passage with matching words in `<b>`; the rest HTML-escaped.
    pub snippet_html: String,
    pub status: String,
    /// The item's page.
    pub link: String,
    pub created_at: Option<DateTime<Utc>>,
    pub support_count: u64,
}

#[derive(Debug, Object)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Object)]
pub struct FacetGroup {
    /// kind, status, theme, category, severity, respondent or organisation
    pub name: String,
    pub values: Vec<FacetValue>,
}

#[derive(Debug, Object)]
pub struct SearchResponse {
    /// How many items match, among those the caller may see.
    pub total: u64,
    pub hits: Vec<SearchHit>,
    pub facets: Vec<FacetGroup>,
    /// True when nothing matched exactly and these allow one typo per word.
    pub near_matches: bool,
    pub next_cursor: Option<String>,
}

impl From<SearchResults> for SearchResponse {
    fn from(r: SearchResults) -> Self {
        SearchResponse {
            total: r.total as u64,
            hits: r
                .hits
                .into_iter()
                .map(|h| SearchHit {
                    id: h.id,
                    kind: h.kind,
                    title_html: h.title_html,
                    snippet_html: h.snippet_html,
                    status: h.status,
                    link: h.link,
                    created_at: h.created,
                    support_count: h.support,
                })
                .collect(),
            facets: r
                .facets
                .into_iter()
                .map(|(name, values)| FacetGroup {
                    name,
                    values: values
                        .into_iter()
                        .map(|v| FacetValue {
                            value: v.value,
                            count: v.count,
                        })
                        .collect(),
                })
                .collect(),
            near_matches: r.fuzzy,
            next_cursor: r.next_offset.map(cursor_for),
        }
    }
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Search")]
impl SearchApi {
    /// Search everything the caller may see
    ///
    /// `q` takes words, "exact phrases", `-excluded` words, `OR`, and field
    /// filters such as `kind:idea`, `status:open` or `theme:"cyber security"`.
    /// Filter parameters can repeat (`kind=idea&kind=report`).
    #[oai(path = "/search", method = "get", operation_id = "search")]
    #[expect(
        clippy::too_many_arguments,
        reason = "each query parameter is one argument"
    )]
    async fn search(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        #[oai(default)] q: Query<String>,
        #[oai(default)] kind: Query<Vec<String>>,
        #[oai(default)] status: Query<Vec<String>>,
        #[oai(default)] theme: Query<Vec<String>>,
        #[oai(default)] category: Query<Vec<String>>,
        #[oai(default)] severity: Query<Vec<String>>,
        #[oai(default)] respondent: Query<Vec<String>>,
        #[oai(default)] organisation: Query<Vec<String>>,
        /// Created on or after, like 2026-10-01
        #[oai(default)]
        from: Query<String>,
        /// Created on or before, like 2026-10-31
        #[oai(default)]
        to: Query<String>,
        /// relevance (default), newest or most_supported
        #[oai(default)]
        sort: Query<String>,
        #[oai(default)] cursor: Query<String>,
        limit: Query<Option<u64>>,
    ) -> Result<Json<SearchResponse>, ApiError> {
        let filters = vec![
            ("kind".to_owned(), kind.0),
            ("status".to_owned(), status.0),
            ("theme".to_owned(), theme.0),
            ("category".to_owned(), category.0),
            ("severity".to_owned(), severity.0),
            ("respondent".to_owned(), respondent.0),
            ("organisation".to_owned(), organisation.0),
        ];
        let request = Params {
            q: &q.0,
            filters,
            from: &from.0,
            to: &to.0,
            sort: &sort.0,
            cursor: &cursor.0,
            limit: limit.0,
        }
        .into_request()?;
        let audience = policy::search_audience(&caller);
        let index = state.search.current();
        let results =
            tokio::task::spawn_blocking(move || query::search(&index, &audience, &request))
                .await
                .map_err(crate::error::AppError::internal)??;
        Ok(Json(SearchResponse::from(results)))
    }
}
