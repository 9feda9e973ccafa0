//! The search page: a query box, filters as checkboxes with counts, and
//! highlighted results. Works without JavaScript (a GET form).

use askama::Template;
use poem::http::StatusCode;
use poem::web::Data;
use poem::{IntoResponse, Request, Response, handler};

use super::query::{self, FACETS, Hit};
use super::saved::SavedQuery;
use super::{Params, cursor_for};
use crate::app_state::AppState;
use crate::auth::caller::Caller;
use crate::auth::policy::{self, Permission};
use crate::consultations::domain::Phase;
use crate::error::AppError;
use crate::ideas::domain::IdeaStatus;
use crate::reports::domain::{Category, ReportStatus, Severity};
use crate::web::forms::{Errors, Fields};
use crate::web::page::{PageContext, render, render_with_status};

pub struct FilterOption {
    pub value: String,
    pub label: String,
    pub count: u64,
    pub checked: bool,
}

pub struct FilterGroup {
    pub name: &'static str,
    pub legend: &'static str,
    pub options: Vec<FilterOption>,
}

#[derive(Template)]
#[template(path = "search/search.html")]
struct SearchPage {
    page: PageContext,
    q: String,
    from: String,
    to: String,
    sort: String,
    searched: bool,
    total: usize,
    fuzzy: bool,
    hits: Vec<Hit>,
    groups: Vec<FilterGroup>,
    next_page: Option<String>,
    /// For board members, after a search that ran.
    save_link: Option<String>,
    errors: Errors,
}

impl SearchPage {
    fn kind_label(&self, kind: &str) -> &'static str {
        crate::search::kind_label(kind)
    }

    fn status_label(&self, status: &str) -> String {
        label("status", status)
    }
}

fn label(group: &str, value: &str) -> String {
    let known = match group {
        "kind" => match value {
            "idea" => Some("Ideas"),
            "report" => Some("Reports"),
            "comment" => Some("Comments"),
            "consultation" => Some("Consultations"),
            "consultation_response" => Some("Consultation responses"),
            _ => None,
        },
        "status" => IdeaStatus::parse(value)
            .map(IdeaStatus::label)
            .or_else(|| ReportStatus::parse(value).map(ReportStatus::label))
            .or_else(|| Phase::parse(value).map(Phase::label))
            .or((value == "published").then_some("Published"))
            .or((value == "hidden").then_some("Hidden")),
        "category" => Category::parse(value).map(Category::label),
        "severity" => Severity::parse(value).map(Severity::label),
        _ => None,
    };
    known.map(str::to_owned).unwrap_or_else(|| value.to_owned())
}

#[handler]
pub async fn search(
    req: &Request,
    state: Data<&AppState>,
    caller: Data<&Caller>,
) -> Result<Response, AppError> {
    let fields = Fields::parse(req.uri().query().unwrap_or("").as_bytes());
    let filters: Vec<(String, Vec<String>)> = FACETS
        .iter()
        .map(|(group, _)| ((*group).to_owned(), fields.all(group)))
        .collect();
    let searched = req.uri().query().is_some_and(|q| !q.is_empty());
    let params = Params {
        q: fields.get("q"),
        filters: filters.clone(),
        from: fields.get("from"),
        to: fields.get("to"),
        sort: fields.get("sort"),
        cursor: fields.get("cursor"),
        limit: Some(20),
    };
    let outcome = match params.into_request() {
        Ok(request) => {
            let audience = policy::search_audience(&caller);
            let index = state.search.current();
            let offset = request.offset;
            tokio::task::spawn_blocking(move || {
                query::search(&index, &audience, &request).map(|r| (r, offset))
            })
            .await
            .map_err(AppError::internal)?
        }
        Err(err) => Err(err),
    };
    let (results, errors) = match outcome {
        Ok((results, _)) => (Some(results), Errors::default()),
        Err(AppError::Validation(errors)) => (None, errors.into()),
        Err(other) => return Err(other),
    };
    let groups = FACETS
        .iter()
        .map(|(group, legend)| {
            let selected = filters
                .iter()
                .find(|(g, _)| g == group)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let counts = results
                .as_ref()
                .and_then(|r| r.facets.iter().find(|(g, _)| g == group))
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut options: Vec<FilterOption> = counts
                .iter()
                .map(|c| FilterOption {
                    label: label(group, &c.value),
                    checked: selected.contains(&c.value),
                    value: c.value.clone(),
                    count: c.count,
                })
                .collect();
            // A ticked filter stays on the page even when it matches nothing now.
            for value in selected
                .iter()
                .filter(|v| !counts.iter().any(|c| &c.value == *v))
            {
                options.push(FilterOption {
                    label: label(group, value),
                    value: value.clone(),
                    count: 0,
                    checked: true,
                });
            }
            FilterGroup {
                name: group,
                legend,
                options,
            }
        })
        .filter(|g| !g.options.is_empty())
        .collect();
    let next_page = results
        .as_ref()
        .and_then(|r| r.next_offset.map(|o| (o, r.as_of)))
        .map(|(offset, as_of)| {
            let cursor = cursor_for(offset, as_of);
            SavedQuery::from_fields(&fields).link_to("/search", Some(&cursor))
        });
    let save_link = (searched
        && results.is_some()
        && policy::require(&caller, Permission::SaveSearches).is_ok())
    .then(|| SavedQuery::from_fields(&fields).link_to("/search/save", None));
    let page = SearchPage {
        save_link,
        page: PageContext::new(&caller, &state.key),
        q: fields.get("q").to_owned(),
        from: fields.get("from").to_owned(),
        to: fields.get("to").to_owned(),
        sort: fields.get("sort").to_owned(),
        searched,
        total: results.as_ref().map(|r| r.total).unwrap_or(0),
        fuzzy: results.as_ref().is_some_and(|r| r.fuzzy),
        hits: results.map(|r| r.hits).unwrap_or_default(),
        groups,
        next_page,
        errors,
    };
    if page.errors.is_empty() {
        Ok(render(&page)?.into_response())
    } else {
        render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
    }
}
