//! Queries: words, "phrases", -exclusions, OR, field filters, facet filters
//! with counts, a date range, three orders, highlighted snippets, and a
//! retry with one-typo tolerance when the exact words find nothing. Every
//! query is limited to what the caller may see before anything is counted.

use chrono::{DateTime, NaiveDate, Utc};
use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::query::{
    AllQuery, BooleanQuery, FuzzyTermQuery, Occur, Query, QueryParser, RangeQuery, TermQuery,
};
use tantivy::schema::{Facet, IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DateTime as TantivyDate, DocAddress, Order, Searcher, TantivyDocument, Term};
use uuid::Uuid;

use super::documents::{PUBLIC, owner};
use super::schema::SearchIndex;
use crate::error::{AppError, FieldError};

/// The facet groups, in the order pages show them.
pub const FACETS: &[(&str, &str)] = &[
    ("kind", "Type"),
    ("status", "Status"),
    ("theme", "Theme"),
    ("category", "Kind of problem"),
    ("severity", "Severity"),
    ("respondent", "Respondent type"),
    ("organisation", "Organisation"),
    ("consultation", "Consultation"),
];

/// Statuses that mean "still being worked on", for `status:open`.
const OPEN: &[&str] = &[
    "submitted",
    "under_review",
    "shortlisted",
    "in_progress",
    "new",
    "triaged",
    "investigating",
    "escalated",
];

pub const MAX_QUERY_CHARS: usize = 500;
pub const MAX_LIMIT: usize = 100;
/// Results further in than this are reached by narrowing the search: the
/// engine holds every earlier result in memory to page past them.
pub const MAX_OFFSET: usize = 10_000;

/// One clause of a boolean query.
type Clause = (Occur, Box<dyn Query>);

/// What the caller may see, decided by the policy module.
#[derive(Debug, Clone)]
pub enum Audience {
    Everything,
    /// Public items plus this person's own (None when signed out).
    Public(Option<Uuid>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Relevance,
    Newest,
    MostSupported,
    /// Oldest first: a saved search's new matches, so that what is shown
    /// of a long list is what can be marked seen.
    Oldest,
}

impl Sort {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "" | "relevance" => Some(Sort::Relevance),
            "newest" => Some(Sort::Newest),
            "most_supported" => Some(Sort::MostSupported),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: String,
    /// Facet filters: group name to the values any of which must match.
    pub filters: Vec<(String, Vec<String>)>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub sort: Sort,
    pub offset: usize,
    pub limit: usize,
    /// Items created after this are left out, so that later pages are
    /// not shifted by new arrivals; set from the first page's time.
    pub as_of: Option<DateTime<Utc>>,
    /// Only items created after this: a saved search's new matches.
    pub since: Option<DateTime<Utc>>,
    /// No retry allowing typos when nothing matches exactly.
    pub exact_only: bool,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub id: String,
    pub kind: String,
    pub title_html: String,
    pub snippet_html: String,
    pub status: String,
    pub link: String,
    pub created: Option<DateTime<Utc>>,
    pub support: u64,
}

#[derive(Debug, Clone)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<Hit>,
    /// Each group with its values and counts, among what the caller may see.
    pub facets: Vec<(String, Vec<FacetCount>)>,
    /// True when nothing matched exactly and these are near matches.
    pub fuzzy: bool,
    pub next_offset: Option<usize>,
    /// The moment these results stand at, carried by the next cursor.
    pub as_of: DateTime<Utc>,
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Validation(vec![FieldError::new(field, message)])
}

pub(crate) fn visibility(index: &SearchIndex, audience: &Audience) -> Option<Box<dyn Query>> {
    let field = index.fields.visible_to;
    let term = |who: &str| -> Clause {
        (
            Occur::Should,
            Box::new(TermQuery::new(
                Term::from_field_text(field, who),
                IndexRecordOption::Basic,
            )),
        )
    };
    match audience {
        Audience::Everything => None,
        Audience::Public(user) => {
            let mut allowed = vec![term(PUBLIC)];
            if let Some(user) = user {
                allowed.push(term(&owner(*user)));
            }
            Some(Box::new(BooleanQuery::new(allowed)))
        }
    }
}

fn words_query(index: &SearchIndex, q: &str) -> Result<Box<dyn Query>, AppError> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(Box::new(AllQuery));
    }
    let f = index.fields;
    let mut parser = QueryParser::for_index(&index.index, vec![f.title, f.body]);
    parser.set_conjunction_by_default();
    parser.set_field_boost(f.title, 2.0);
    let open = format!(
        "({})",
        OPEN.iter()
            .map(|s| format!("status:{s}"))
            .collect::<Vec<_>>()
            .join(" OR ")
    );
    let rewritten = q.replace("status:open", &open);
    parser.parse_query(&rewritten).map_err(|err| {
        invalid(
            "q",
            format!(
                "The search could not be understood ({err}). Check that quotes and brackets are closed, and that filters use a known field: kind, status, theme, category, severity, organisation, respondent"
            ),
        )
    })
}

/// Each word within one typo, in the title or the body.
fn fuzzy_query(index: &SearchIndex, q: &str) -> Option<Box<dyn Query>> {
    if q.contains(':') || q.contains('"') {
        return None;
    }
    let f = index.fields;
    let mut tokenizer = index.index.tokenizer_for_field(f.body).ok()?;
    let mut clauses: Vec<Clause> = Vec::new();
    for word in q
        .split_whitespace()
        .filter(|w| !w.starts_with('-') && *w != "OR")
    {
        let mut stream = tokenizer.token_stream(word);
        while let Some(token) = stream.next() {
            let either: Vec<Clause> = [f.title, f.body]
                .into_iter()
                .map(|field| {
                    let query: Box<dyn Query> = Box::new(FuzzyTermQuery::new(
                        Term::from_field_text(field, &token.text),
                        1,
                        true,
                    ));
                    (Occur::Should, query)
                })
                .collect();
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(either))));
        }
    }
    (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
}

fn filters(index: &SearchIndex, request: &SearchRequest) -> Result<Vec<Clause>, AppError> {
    let f = index.fields;
    let mut clauses: Vec<Clause> = Vec::new();
    for (group, values) in &request.filters {
        if !FACETS.iter().any(|(g, _)| g == group) {
            return Err(invalid(group, format!("{group} is not a filter")));
        }
        let any: Vec<Clause> = values
            .iter()
            .filter(|v| !v.is_empty())
            .map(|value| {
                let facet = Facet::from_path([group.as_str(), value.as_str()]);
                let query: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_facet(f.facets, &facet),
                    IndexRecordOption::Basic,
                ));
                (Occur::Should, query)
            })
            .collect();
        if !any.is_empty() {
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
    }
    if request.from.is_some() || request.to.is_some() {
        let at = |date: NaiveDate| {
            let micros = date
                .and_hms_opt(0, 0, 0)
                .map(|d| d.and_utc().timestamp_micros())
                .unwrap_or(0);
            Term::from_field_date(f.created, TantivyDate::from_timestamp_micros(micros))
        };
        if let (Some(from), Some(to)) = (request.from, request.to)
            && from > to
        {
            return Err(invalid(
                "to",
                "The end date must be on or after the start date",
            ));
        }
        let lower = request.from.map_or(std::ops::Bound::Unbounded, |d| {
            std::ops::Bound::Included(at(d))
        });
        let upper = request
            .to
            .and_then(|d| d.succ_opt())
            .map_or(std::ops::Bound::Unbounded, |d| {
                std::ops::Bound::Excluded(at(d))
            });
        clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
    }
    // Saved searches' "new since" and cursors' "as of the first page".
    let created = |at: DateTime<Utc>| {
        Term::from_field_date(
            f.created,
            TantivyDate::from_timestamp_micros(at.timestamp_micros()),
        )
    };
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let bounds = [
        request.since.map(|at| (Excluded(created(at)), Unbounded)),
        request.as_of.map(|at| (Unbounded, Included(created(at)))),
    ];
    for (lower, upper) in bounds.into_iter().flatten() {
        clauses.push((Occur::Must, Box::new(RangeQuery::new(lower, upper))));
    }
    Ok(clauses)
}

fn text(doc: &TantivyDocument, field: tantivy::schema::Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

fn escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) fn hits(
    index: &SearchIndex,
    searcher: &Searcher,
    query: &dyn Query,
    addresses: Vec<DocAddress>,
) -> Result<Vec<Hit>, AppError> {
    let f = index.fields;
    let mut body_snippets =
        SnippetGenerator::create(searcher, query, f.body).map_err(AppError::internal)?;
    body_snippets.set_max_num_chars(240);
    let mut title_snippets =
        SnippetGenerator::create(searcher, query, f.title).map_err(AppError::internal)?;
    title_snippets.set_max_num_chars(400);
    let body_terms = terms_in(query, f.body);
    addresses
        .into_iter()
        .map(|address| {
            let doc: TantivyDocument = searcher.doc(address).map_err(AppError::internal)?;
            let title = text(&doc, f.title);
            let body = text(&doc, f.body);
            let title_snippet = title_snippets.snippet(&title);
            let body_snippet = snippet(&body_snippets, &body_terms, &body);
            Ok(Hit {
                id: text(&doc, f.id),
                kind: text(&doc, f.kind),
                title_html: if title_snippet.highlighted().is_empty() {
                    escape(&title)
                } else {
                    title_snippet.to_html()
                },
                snippet_html: if body_snippet.highlighted().is_empty() {
                    escape(&body.chars().take(240).collect::<String>())
                } else {
                    body_snippet.to_html()
                },
                status: text(&doc, f.status),
                link: text(&doc, f.link),
                created: doc
                    .get_first(f.created)
                    .and_then(|v| v.as_datetime())
                    .and_then(|d| DateTime::from_timestamp_micros(d.into_timestamp_micros())),
                support: doc
                    .get_first(f.support)
                    .and_then(|v| v.as_u64())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Snippets are made from a window of the text around the first place a
/// query term appears: tokenizing whole long bodies for every hit would
/// cost more than the search itself.
const SNIPPET_WINDOW: usize = 720;

/// The indexed forms (stems) of the query's terms in `field`.
fn terms_in(query: &dyn Query, field: tantivy::schema::Field) -> Vec<String> {
    let mut terms = Vec::new();
    query.query_terms(&mut |term, _| {
        if term.field() == field
            && let Some(text) = term.value().as_str()
            && !text.is_empty()
        {
            terms.push(text.to_owned());
        }
    });
    terms.sort();
    terms.dedup();
    terms
}

/// Where `needle` (lower-case) first appears in `haystack`, ignoring ASCII case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .find(|&at| haystack[at..at + needle.len()].eq_ignore_ascii_case(needle))
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn snippet(
    generator: &SnippetGenerator,
    terms: &[String],
    text: &str,
) -> tantivy::snippet::Snippet {
    if text.len() > SNIPPET_WINDOW {
        // A stem is nearly always a prefix of the words it comes from; when
        // it is not found this way, the whole text is used.
        if let Some(first) = terms
            .iter()
            .filter_map(|term| find_ignoring_case(text, term))
            .min()
        {
            let start = floor_boundary(text, first.saturating_sub(SNIPPET_WINDOW / 4));
            let end = floor_boundary(text, start + SNIPPET_WINDOW);
            let window = generator.snippet(&text[start..end]);
            if !window.highlighted().is_empty() {
                return window;
            }
        }
    }
    generator.snippet(text)
}

/// Runs a search for a caller who may see `audience`.
pub fn search(
    index: &SearchIndex,
    audience: &Audience,
    request: &SearchRequest,
) -> Result<SearchResults, AppError> {
    if request.q.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid(
            "q",
            format!("The search must be {MAX_QUERY_CHARS} characters or fewer"),
        ));
    }
    let words = words_query(index, &request.q)?;
    let mut request = request.clone();
    request.as_of.get_or_insert_with(Utc::now);
    let request = &request;
    let mut results = run(index, audience, request, words)?;
    if results.total == 0
        && !request.exact_only
        && !request.q.trim().is_empty()
        && let Some(fuzzy) = fuzzy_query(index, &request.q)
    {
        results = run(index, audience, request, fuzzy)?;
        results.fuzzy = results.total > 0;
    }
    Ok(results)
}

fn run(
    index: &SearchIndex,
    audience: &Audience,
    request: &SearchRequest,
    words: Box<dyn Query>,
) -> Result<SearchResults, AppError> {
    let mut clauses: Vec<Clause> = vec![(Occur::Must, words.box_clone())];
    clauses.extend(filters(index, request)?);
    if let Some(visible) = visibility(index, audience) {
        clauses.push((Occur::Must, visible));
    }
    let query = BooleanQuery::new(clauses);
    let searcher = index.reader.searcher();
    let mut facet_collector = FacetCollector::for_field("facets");
    for (group, _) in FACETS {
        facet_collector.add_facet(Facet::from_path([*group]));
    }
    let limit = request.limit.clamp(1, MAX_LIMIT);
    let top = TopDocs::with_limit(limit).and_offset(request.offset);
    let (total, facet_counts, addresses) = match request.sort {
        Sort::Relevance => {
            let (total, facets, docs) = searcher
                .search(&query, &(Count, facet_collector, top.order_by_score()))
                .map_err(AppError::internal)?;
            (
                total,
                facets,
                docs.into_iter().map(|(_, a)| a).collect::<Vec<_>>(),
            )
        }
        Sort::Newest | Sort::Oldest => {
            let order = if request.sort == Sort::Newest {
                Order::Desc
            } else {
                Order::Asc
            };
            let (total, facets, docs) = searcher
                .search(
                    &query,
                    &(
                        Count,
                        facet_collector,
                        top.order_by_fast_field::<TantivyDate>("created", order),
                    ),
                )
                .map_err(AppError::internal)?;
            (total, facets, docs.into_iter().map(|(_, a)| a).collect())
        }
        Sort::MostSupported => {
            let (total, facets, docs) = searcher
                .search(
                    &query,
                    &(
                        Count,
                        facet_collector,
                        top.order_by_fast_field::<u64>("support", Order::Desc),
                    ),
                )
                .map_err(AppError::internal)?;
            (total, facets, docs.into_iter().map(|(_, a)| a).collect())
        }
    };
    let facets = FACETS
        .iter()
        .map(|(group, _)| {
            let mut values: Vec<FacetCount> = facet_counts
                .get(format!("/{group}").as_str())
                .map(|(facet, count)| FacetCount {
                    value: facet
                        .to_path()
                        .last()
                        .map(|s| (*s).to_owned())
                        .unwrap_or_default(),
                    count,
                })
                .collect();
            values.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
            ((*group).to_owned(), values)
        })
        .collect();
    let next_offset = request
        .offset
        .checked_add(limit)
        .filter(|next| *next < total && *next <= MAX_OFFSET);
    Ok(SearchResults {
        total,
        hits: hits(index, &searcher, words.as_ref(), addresses)?,
        facets,
        fuzzy: false,
        next_offset,
        as_of: request.as_of.unwrap_or_else(Utc::now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn generator() -> SnippetGenerator {
        let tokenizer = tantivy::tokenizer::TokenizerManager::default()
            .get("en_stem")
            .expect("the English stemmer is built in");
        let terms = BTreeMap::from([("prescrib".to_owned(), 1.0)]);
        SnippetGenerator::new(
            terms,
            tokenizer,
            tantivy::schema::Field::from_field_id(0),
            240,
        )
    }

    #[test]
    fn any_query_people_type_is_answered_or_refused_never_a_failure() {
        let dir = std::env::temp_dir().join(format!("hub-query-{}", uuid::Uuid::now_v7()));
        let index = SearchIndex::create(&dir, crate::search::schema::WriterSize::Service)
            .expect("an empty index");
        let mut hostile = crate::hostile::Hostile::new(7);
        for case in 0..2_000 {
            let q = hostile.text(8);
            let filter = hostile.text(2);
            let params = crate::search::Params {
                q: &q,
                filters: vec![("kind".to_owned(), vec![filter.clone()])],
                from: "",
                to: "",
                sort: "relevance",
                cursor: "",
                limit: Some(20),
            };
            let outcome = params.into_request().and_then(|request| {
                search(&index, &Audience::Public(None), &request)
                    .and_then(|_| search(&index, &Audience::Everything, &request))
            });
            match outcome {
                Ok(_) | Err(AppError::Validation(_)) => {}
                Err(other) => panic!("case {case}: q {q:?} kind {filter:?}: {other:?}"),
            }
        }
        index.finish();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_match_deep_in_a_long_text_is_highlighted_from_a_window() {
        let text = format!(
            "{}Prescribing errors fell by half.",
            "Ward rounds ran late. ".repeat(400)
        );
        let terms = vec!["prescrib".to_owned()];
        let html = snippet(&generator(), &terms, &text).to_html();
        assert!(html.contains("<b>Prescribing</b>"), "{html}");
    }

    #[test]
    fn windows_cut_multi_byte_text_on_character_boundaries() {
        let text = format!("{}PRESCRIBE it.", "é ".repeat(2_000));
        let terms = vec!["absent".to_owned(), "prescrib".to_owned()];
        assert!(find_ignoring_case(&text, "prescrib").is_some());
        assert_eq!(find_ignoring_case(&text, "absent"), None);
        let html = snippet(&generator(), &terms, &text).to_html();
        assert!(html.contains("<b>PRESCRIBE</b>"), "{html}");
    }
}
