//! `GET /api/v1/search` and similar items.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::query::{self, SearchResults};
use super::similar::{self, Target};
use super::{Params, cursor_for};
use crate::api::ApiTags;
use crate::api::bounded::Bounded;
use crate::api::problem::ApiError;
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy;
use crate::error::{AppError, FieldError};
use crate::pagination::PageSize;
use uuid::Uuid;

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
    #[oai(nullable)]
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
    /// kind, status, theme, category, severity, respondent, organisation or consultation
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
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

impl From<query::Hit> for SearchHit {
    fn from(h: query::Hit) -> Self {
        SearchHit {
            id: h.id,
            kind: h.kind,
            title_html: h.title_html,
            snippet_html: h.snippet_html,
            status: h.status,
            link: h.link,
            created_at: h.created,
            support_count: h.support,
        }
    }
}

#[derive(Debug, Object)]
pub struct SimilarHit {
    #[oai(flatten)]
    pub hit: SearchHit,
    /// How alike: 1 for the closest match, the others relative to it.
    pub score: f64,
}

#[derive(Debug, Object)]
pub struct SimilarResponse {
    /// Most alike first, among the items the caller may see.
    pub items: Vec<SimilarHit>,
}

impl From<Vec<(f64, query::Hit)>> for SimilarResponse {
    fn from(found: Vec<(f64, query::Hit)>) -> Self {
        SimilarResponse {
            items: found
                .into_iter()
                .map(|(score, hit)| SimilarHit {
                    hit: SearchHit::from(hit),
                    score,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Object)]
pub struct DraftBody {
    /// Up to 2,000 characters.
    #[oai(default)]
    pub title: String,
    /// Up to 100,000 characters; the opening is compared.
    #[oai(default)]
    pub text: String,
    /// Only these kinds (idea, report, comment); all when empty.
    #[oai(default)]
    pub kind: Vec<String>,
}

const KINDS: &[&str] = &["idea", "report", "comment"];

/// Checks kind names, giving the static names the index uses.
fn kinds(field: &str, raw: &[String]) -> Result<Vec<&'static str>, AppError> {
    raw.iter()
        .map(|k| {
            KINDS
                .iter()
                .copied()
                .find(|known| known == k)
                .ok_or_else(|| {
                    AppError::Validation(vec![FieldError::new(
                        field,
                        "kind must be idea, report or comment",
                    )])
                })
        })
        .collect()
}

/// The most similar items one request may ask for.
const MAX_SIMILAR: u64 = 20;

/// The `limit` of a request for similar items, documented as 1 to `MAX_SIMILAR`.
type SimilarLimit = Bounded<1, { MAX_SIMILAR as i64 }>;

fn similar_limit(limit: Option<SimilarLimit>) -> Result<usize, AppError> {
    match limit.map(Bounded::non_negative) {
        None => Ok(5),
        Some(n @ 1..=MAX_SIMILAR) => Ok(n as usize),
        Some(_) => Err(AppError::Validation(vec![FieldError::new(
            "limit",
            format!("limit must be between 1 and {MAX_SIMILAR}"),
        )])),
    }
}

impl From<SearchResults> for SearchResponse {
    fn from(r: SearchResults) -> Self {
        SearchResponse {
            total: r.total as u64,
            hits: r.hits.into_iter().map(SearchHit::from).collect(),
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
            next_cursor: r.next_offset.map(|offset| cursor_for(offset, r.as_of)),
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
        /// A consultation's title: the consultation and its responses
        #[oai(default)]
        consultation: Query<Vec<String>>,
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
        limit: Query<Option<PageSize>>,
    ) -> Result<Json<SearchResponse>, ApiError> {
        let filters = vec![
            ("kind".to_owned(), kind.0),
            ("status".to_owned(), status.0),
            ("theme".to_owned(), theme.0),
            ("category".to_owned(), category.0),
            ("severity".to_owned(), severity.0),
            ("respondent".to_owned(), respondent.0),
            ("organisation".to_owned(), organisation.0),
            ("consultation".to_owned(), consultation.0),
        ];
        let request = Params {
            q: &q.0,
            filters,
            from: &from.0,
            to: &to.0,
            sort: &sort.0,
            cursor: &cursor.0,
            limit: limit.0.map(Bounded::non_negative),
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

    /// Items like an item
    ///
    /// Ranked by the distinctive words they share, among what the caller may
    /// see; used to link and merge. An item the caller may not see is 404.
    #[oai(
        path = "/search/similar",
        method = "get",
        operation_id = "similarToItem"
    )]
    async fn similar_to_item(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        /// The item's kind: idea, report or comment
        item_kind: Query<String>,
        item_id: Query<Uuid>,
        /// Only these kinds; all when absent. Can repeat.
        #[oai(default)]
        kind: Query<Vec<String>>,
        limit: Query<Option<SimilarLimit>>,
    ) -> Result<Json<SimilarResponse>, ApiError> {
        let item_kind = kinds("item_kind", std::slice::from_ref(&item_kind.0))?
            .first()
            .copied()
            .ok_or(AppError::NotFound)?;
        let only = kinds("kind", &kind.0)?;
        let limit = similar_limit(limit.0)?;
        let target = Target::Item(item_kind, item_id.0);
        let found = similar::similar_in_background(&state, &caller, target, only, limit).await?;
        Ok(Json(SimilarResponse::from(found)))
    }

    /// Items like a draft
    ///
    /// For text not yet submitted, such as an idea being written: possible
    /// duplicates, most alike first, among what the caller may see.
    #[oai(
        path = "/search/similar",
        method = "post",
        operation_id = "similarToDraft"
    )]
    async fn similar_to_draft(
        &self,
        state: Data<&AppState>,
        caller: Data<&Caller>,
        body: Json<DraftBody>,
        limit: Query<Option<SimilarLimit>>,
    ) -> Result<Json<SimilarResponse>, ApiError> {
        let body = body.0;
        let mut errors = Vec::new();
        if body.title.chars().count() > 2_000 {
            errors.push(FieldError::new(
                "title",
                "title must be 2,000 characters or fewer",
            ));
        }
        if body.text.chars().count() > 100_000 {
            errors.push(FieldError::new(
                "text",
                "text must be 100,000 characters or fewer",
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors).into());
        }
        let only = kinds("kind", &body.kind)?;
        let limit = similar_limit(limit.0)?;
        let target = Target::Draft {
            title: body.title,
            body: body.text,
        };
        let found = similar::similar_in_background(&state, &caller, target, only, limit).await?;
        Ok(Json(SimilarResponse::from(found)))
    }
}
