//! What goes into the index for each kind of item, read from the database
//! as it is now (so applying a change twice gives the same document).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{comments, idea_themes, ideas, organisations, reports, themes, users};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use tantivy::schema::Facet;
use tantivy::{DateTime as TantivyDate, TantivyDocument};
use uuid::Uuid;

use super::schema::SearchFields;
use crate::auth::domain::RespondentType;

/// Everyone may see it.
pub const PUBLIC: &str = "public";
/// Board members see everything; this marks items only they (and an owner) see.
pub const BOARD: &str = "board";

pub fn owner(user: Uuid) -> String {
    format!("user:{user}")
}

pub fn key(kind: &str, id: Uuid) -> String {
    format!("{kind}:{id}")
}

/// One item as indexed.
#[derive(Debug, Default)]
pub struct SearchDoc {
    pub id: Uuid,
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub status: String,
    pub themes: Vec<String>,
    pub category: Option<String>,
    pub severity: Option<String>,
    pub organisation: Option<String>,
    pub respondent: Option<String>,
    /// The consultation's title, for consultations and their responses.
    pub consultation: Option<String>,
    pub created: DateTime<Utc>,
    pub support: u64,
    pub visible_to: Vec<String>,
    pub link: String,
}

impl SearchDoc {
    pub fn to_tantivy(&self, f: &SearchFields) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_text(f.key, key(self.kind, self.id));
        doc.add_text(f.id, self.id.to_string());
        doc.add_text(f.kind, self.kind);
        doc.add_text(f.title, &self.title);
        doc.add_text(f.body, &self.body);
        doc.add_text(f.status, &self.status);
        doc.add_facet(f.facets, Facet::from_path(["kind", self.kind]));
        doc.add_facet(f.facets, Facet::from_path(["status", self.status.as_str()]));
        for theme in &self.themes {
            doc.add_text(f.theme, theme);
            doc.add_facet(f.facets, Facet::from_path(["theme", theme.as_str()]));
        }
        for (field, facet, value) in [
            (f.category, "category", &self.category),
            (f.severity, "severity", &self.severity),
            (f.organisation, "organisation", &self.organisation),
            (f.respondent, "respondent", &self.respondent),
        ] {
            if let Some(value) = value {
                doc.add_text(field, value);
                doc.add_facet(f.facets, Facet::from_path([facet, value.as_str()]));
            }
        }
        if let Some(consultation) = &self.consultation {
            doc.add_facet(
                f.facets,
                Facet::from_path(["consultation", consultation.as_str()]),
            );
        }
        doc.add_date(
            f.created,
            TantivyDate::from_timestamp_micros(self.created.timestamp_micros()),
        );
        doc.add_u64(f.support, self.support);
        for who in &self.visible_to {
            doc.add_text(f.visible_to, who);
        }
        doc.add_text(f.link, &self.link);
        doc
    }
}

pub(super) fn respondent_of(user: Option<&users::Model>) -> Option<String> {
    user.and_then(|u| u.respondent_type.as_deref())
        .and_then(RespondentType::parse)
        .map(|r| r.label().to_owned())
}

/// Items of one kind as they should be indexed now, by id: most items are
/// one document, a consultation is one per section. An id missing from the
/// result no longer exists (or is not indexed). A few queries per call,
/// whatever the number of ids, so that a rebuild stays fast.
pub async fn load_many(
    conn: &impl ConnectionTrait,
    kind: &str,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<SearchDoc>>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let one_each = |found: HashMap<Uuid, SearchDoc>| {
        found.into_iter().map(|(id, doc)| (id, vec![doc])).collect()
    };
    match kind {
        "idea" => Ok(one_each(ideas_by_id(conn, ids).await?)),
        "report" => Ok(one_each(reports_by_id(conn, ids).await?)),
        "comment" => Ok(one_each(comments_by_id(conn, ids).await?)),
        super::consultations::CONSULTATION => {
            super::consultations::consultations_by_id(conn, ids).await
        }
        super::consultations::RESPONSE => Ok(one_each(
            super::consultations::responses_by_id(conn, ids).await?,
        )),
        _ => Ok(HashMap::new()),
    }
}

/// Each id once, for an `IN` list.
pub(super) fn distinct(ids: impl Iterator<Item = Uuid>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = ids.collect();
    ids.sort();
    ids.dedup();
    ids
}

async fn users_by_id(
    conn: &impl ConnectionTrait,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, users::Model>, DbErr> {
    let ids = distinct(ids);
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect())
}

async fn ideas_by_id(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, SearchDoc>, DbErr> {
    let found = ideas::Entity::find()
        .filter(ideas::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let theme_names: HashMap<Uuid, String> = themes::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let mut themes_of: HashMap<Uuid, Vec<String>> = HashMap::new();
    for link in idea_themes::Entity::find()
        .filter(idea_themes::Column::IdeaId.is_in(ids.iter().copied()))
        .all(conn)
        .await?
    {
        if let Some(name) = theme_names.get(&link.theme_id) {
            themes_of
                .entry(link.idea_id)
                .or_default()
                .push(name.clone());
        }
    }
    let authors = users_by_id(conn, found.iter().filter_map(|i| i.author_id)).await?;
    Ok(found
        .into_iter()
        .map(|idea| {
            let id = idea.id;
            let author = idea.author_id.and_then(|a| authors.get(&a));
            let doc = SearchDoc {
                id,
                kind: "idea",
                body: format!("{}\n\n{}", idea.description, idea.expected_impact),
                status: idea.status.clone(),
                themes: themes_of.remove(&id).unwrap_or_default(),
                organisation: author.and_then(|a| a.organisation_name.clone()),
                respondent: respondent_of(author),
                created: idea.created_at,
                support: idea.support_count.max(0) as u64,
                visible_to: vec![PUBLIC.to_owned()],
                link: format!("/ideas/{id}"),
                title: idea.title,
                ..SearchDoc::default()
            };
            (id, doc)
        })
        .collect())
}

async fn reports_by_id(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, SearchDoc>, DbErr> {
    let found = reports::Entity::find()
        .filter(reports::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let org_ids = distinct(found.iter().map(|r| r.organisation_id));
    let organisations: HashMap<Uuid, String> = organisations::Entity::find()
        .filter(organisations::Column::Id.is_in(org_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    Ok(found
        .into_iter()
        .map(|report| {
            let id = report.id;
            // Reports are for the board and the reporter; the reporter's
            // identity is never indexed, so a confidential reporter cannot
            // leak through search.
            let mut visible_to = vec![BOARD.to_owned()];
            if let Some(reporter) = report.reporter_id {
                visible_to.push(owner(reporter));
            }
            let doc = SearchDoc {
                id,
                kind: "report",
                title: report.system_name.clone(),
                body: format!(
                    "{}\n\n{}\n\n{}\n\n{}\n\n{}",
                    report.supplier_name.clone().unwrap_or_default(),
                    report.evidence,
                    report.patient_impact,
                    report.staff_impact,
                    report.standard_reference.clone().unwrap_or_default()
                ),
                status: report.status.clone(),
                category: Some(report.category.clone()),
                severity: Some(report.severity.clone()),
                organisation: organisations.get(&report.organisation_id).cloned(),
                created: report.created_at,
                visible_to,
                link: format!("/reports/{id}"),
                ..SearchDoc::default()
            };
            (id, doc)
        })
        .collect())
}

async fn comments_by_id(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, SearchDoc>, DbErr> {
    let found: Vec<comments::Model> = comments::Entity::find()
        .filter(comments::Column::Id.is_in(ids.iter().copied()))
        .filter(comments::Column::Visibility.eq("public"))
        .all(conn)
        .await?;
    let idea_ids = distinct(found.iter().map(|c| c.subject_id));
    let subjects: HashMap<Uuid, ideas::Model> = ideas::Entity::find()
        .filter(ideas::Column::Id.is_in(idea_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    let authors = users_by_id(conn, found.iter().filter_map(|c| c.author_id)).await?;
    Ok(found
        .into_iter()
        .filter_map(|comment| {
            let idea = subjects.get(&comment.subject_id)?;
            let id = comment.id;
            let hidden = comment.hidden_at.is_some();
            let author = comment.author_id.and_then(|a| authors.get(&a));
            let doc = SearchDoc {
                id,
                kind: "comment",
                title: format!("Comment on: {}", idea.title),
                body: comment.body,
                // A hidden comment's text is for the board only.
                status: if hidden {
                    "hidden".to_owned()
                } else {
                    idea.status.clone()
                },
                respondent: respondent_of(author),
                created: comment.created_at,
                visible_to: vec![if hidden { BOARD } else { PUBLIC }.to_owned()],
                link: format!("/ideas/{}#comment-{id}", idea.id),
                ..SearchDoc::default()
            };
            Some((id, doc))
        })
        .collect())
}
