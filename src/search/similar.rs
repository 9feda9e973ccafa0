//! "More like this": items that resemble an indexed item or a draft,
//! ranked by the distinctive words they share (tf-idf), among what the
//! caller may see. Idea submission shows them as possible duplicates and
//! triage uses them to link and merge.

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, MoreLikeThisQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, OwnedValue, Value};
use tantivy::{DocAddress, TantivyDocument, Term};
use uuid::Uuid;

use super::documents;
use super::query::{Audience, Hit, hits, visibility};
use super::schema::SearchIndex;
use crate::error::AppError;

/// What to find items like.
pub enum Like<'a> {
    /// An item in the index, such as `("idea", id)`.
    Item(&'a str, Uuid),
    /// Text not yet submitted.
    Draft { title: &'a str, body: &'a str },
}

/// Words too common in any English text to say what an item is about.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "ani", "are", "as", "at", "be", "been",
    "but", "by", "can", "could", "do", "doe", "for", "from", "had", "has", "have", "he", "her",
    "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "more", "most", "my", "no",
    "not", "of", "on", "one", "onli", "or", "other", "our", "out", "over", "she", "should", "so",
    "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "up", "us", "veri", "was", "we", "were", "what", "when", "where",
    "which", "while", "who", "will", "with", "would", "you", "your",
];

/// Hits weaker than this share of the best one are left out: they share
/// a word or two, not a subject.
const RELATIVE_FLOOR: f32 = 0.25;
/// Texts are compared on their opening: enough to find the subject.
const DRAFT_CHARS: usize = 5_000;

fn item_query(index: &SearchIndex, kind: &str, id: Uuid) -> TermQuery {
    TermQuery::new(
        Term::from_field_text(index.fields.key, &documents::key(kind, id)),
        IndexRecordOption::Basic,
    )
}

/// Items like `like` of the given kinds (all kinds when empty), most alike
/// first. An item the caller may not see is `NotFound`, as if absent.
pub fn similar(
    index: &SearchIndex,
    audience: &Audience,
    like: &Like<'_>,
    kinds: &[&str],
    limit: usize,
) -> Result<Vec<(f64, Hit)>, AppError> {
    let searcher = index.reader.searcher();
    let f = index.fields;
    let builder = MoreLikeThisQuery::builder()
        .with_min_doc_frequency(1)
        .with_min_term_frequency(1)
        .with_min_word_length(3)
        .with_max_query_terms(25)
        // tantivy weighs each word by how many documents hold it, counting
        // versions replaced since the last merge, against the documents
        // alive now, and panics when the first exceeds the second. A word
        // in every document says nothing about likeness: leave such words out.
        .with_max_doc_frequency(searcher.num_docs())
        .with_stop_words(STOP_WORDS.iter().map(|w| (*w).to_owned()).collect());
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let (title, body) = match like {
        Like::Item(kind, id) => {
            let mut visible: Vec<(Occur, Box<dyn Query>)> =
                vec![(Occur::Must, Box::new(item_query(index, kind, *id)))];
            if let Some(allowed) = visibility(index, audience) {
                visible.push((Occur::Must, allowed));
            }
            let found = searcher
                .search(
                    &BooleanQuery::new(visible),
                    &TopDocs::with_limit(1).order_by_score(),
                )
                .map_err(AppError::internal)?;
            let address: DocAddress = found.first().map(|(_, a)| *a).ok_or(AppError::NotFound)?;
            clauses.push((Occur::MustNot, Box::new(item_query(index, kind, *id))));
            // Only the words: other stored fields (kind, status, dates)
            // would make every item of the same kind look alike.
            let doc: TantivyDocument = searcher.doc(address).map_err(AppError::internal)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            (text(f.title), text(f.body))
        }
        Like::Draft { title, body } => ((*title).to_owned(), (*body).to_owned()),
    };
    let body: String = body.chars().take(DRAFT_CHARS).collect();
    if title.trim().is_empty() && body.trim().is_empty() {
        return Ok(Vec::new());
    }
    let like_query = builder.with_document_fields(vec![
        (f.title, vec![OwnedValue::Str(title)]),
        (f.body, vec![OwnedValue::Str(body)]),
    ]);
    clauses.insert(0, (Occur::Must, Box::new(like_query)));
    let kinds: Vec<(Occur, Box<dyn Query>)> = kinds
        .iter()
        .map(|kind| {
            let query: Box<dyn Query> = Box::new(TermQuery::new(
                Term::from_field_text(f.kind, kind),
                IndexRecordOption::Basic,
            ));
            (Occur::Should, query)
        })
        .collect();
    if !kinds.is_empty() {
        clauses.push((Occur::Must, Box::new(BooleanQuery::new(kinds))));
    }
    if let Some(allowed) = visibility(index, audience) {
        clauses.push((Occur::Must, allowed));
    }
    let query = BooleanQuery::new(clauses);
    let top = searcher
        .search(
            &query,
            &TopDocs::with_limit(limit.clamp(1, 20)).order_by_score(),
        )
        .map_err(AppError::internal)?;
    let best = top.first().map(|(score, _)| *score).unwrap_or_default();
    let kept: Vec<(f32, DocAddress)> = top
        .into_iter()
        .filter(|(score, _)| *score >= best * RELATIVE_FLOOR)
        .collect();
    let found = hits(
        index,
        &searcher,
        &query,
        kept.iter().map(|(_, address)| *address).collect(),
    )?;
    Ok(kept
        .iter()
        .zip(found)
        .map(|((score, _), hit)| {
            let relative = f64::from(*score / best.max(f32::EPSILON));
            ((relative * 100.0).round() / 100.0, hit)
        })
        .collect())
}

/// What to find items like, owned so that the search can run off the
/// async threads.
pub enum Target {
    Item(&'static str, Uuid),
    Draft { title: String, body: String },
}

/// Runs `similar` on a blocking thread, with the caller's visibility
/// decided by the policy module: the one way pages and the API ask.
pub async fn similar_in_background(
    state: &crate::app_state::AppState,
    caller: &crate::auth::caller::Caller,
    target: Target,
    kinds: Vec<&'static str>,
    limit: usize,
) -> Result<Vec<(f64, Hit)>, AppError> {
    let audience = crate::auth::policy::search_audience(caller);
    let index = state.search.current();
    tokio::task::spawn_blocking(move || {
        let like = match &target {
            Target::Item(kind, id) => Like::Item(kind, *id),
            Target::Draft { title, body } => Like::Draft { title, body },
        };
        similar(&index, &audience, &like, &kinds, limit)
    })
    .await
    .map_err(AppError::internal)?
}

/// An item shown beside another as similar.
#[derive(Debug, Clone)]
pub struct Related {
    pub kind: String,
    pub link: String,
    /// The title, HTML-escaped.
    pub title_html: String,
}

impl Related {
    pub fn kind_label(&self) -> &'static str {
        super::kind_label(&self.kind)
    }
}

/// Items like an indexed one, for the side of its page. An item not yet
/// indexed has none; a failing index is logged, not shown as an error.
pub async fn related(
    state: &crate::app_state::AppState,
    caller: &crate::auth::caller::Caller,
    kind: &'static str,
    id: Uuid,
) -> Vec<Related> {
    let found = similar_in_background(
        state,
        caller,
        Target::Item(kind, id),
        vec!["idea", "report"],
        5,
    )
    .await;
    match found {
        Ok(found) => found
            .into_iter()
            .map(|(_, hit)| Related {
                kind: hit.kind,
                link: hit.link,
                title_html: hit.title_html,
            })
            .collect(),
        Err(AppError::NotFound) => Vec::new(),
        Err(err) => {
            tracing::warn!(error = %err, "similar items could not be found");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::documents::SearchDoc;
    use crate::search::query::Audience;
    use crate::search::schema::WriterSize;

    fn idea(id: Uuid, title: &str, body: &str) -> (String, Uuid, Vec<SearchDoc>) {
        let doc = SearchDoc {
            id,
            kind: "idea",
            title: title.to_owned(),
            body: body.to_owned(),
            status: "submitted".to_owned(),
            link: format!("/ideas/{id}"),
            ..SearchDoc::default()
        };
        ("idea".to_owned(), id, vec![doc])
    }

    #[test]
    fn a_word_in_every_item_after_edits_leaves_likeness_to_the_others() {
        let dir = std::env::temp_dir().join(format!("hub-similar-{}", Uuid::now_v7()));
        let index = SearchIndex::create(&dir, WriterSize::Service).expect("index");
        let (referrals, waits, pharmacy) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let edited = || idea(pharmacy, "Pharmacy stock", "Shared pharmacy stock lists");
        crate::search::indexer::write(
            &index,
            vec![
                idea(
                    referrals,
                    "Cardiology referrals",
                    "Shared records for cardiology",
                ),
                idea(waits, "Cardiology waits", "Shared clinics for cardiology"),
                edited(),
            ],
            1,
        )
        .expect("written");
        // Each edit replaces the document; until segments merge, the old
        // versions still count towards how many documents hold "shared".
        for seq in 2..5 {
            crate::search::indexer::write(&index, vec![edited()], seq).expect("rewritten");
        }
        let found = similar(
            &index,
            &Audience::Everything,
            &Like::Item("idea", referrals),
            &[],
            5,
        )
        .expect("similar items");
        let ids: Vec<&str> = found.iter().map(|(_, hit)| hit.id.as_str()).collect();
        assert_eq!(ids, [waits.to_string()]);
        index.finish();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
