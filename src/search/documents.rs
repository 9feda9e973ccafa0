//! What goes into the index for each kind of item, read from the database
//! as it is now (so applying a change twice gives the same document).

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

fn respondent_of(user: Option<&users::Model>) -> Option<String> {
    user.and_then(|u| u.respondent_type.as_deref())
        .and_then(RespondentType::parse)
        .map(|r| r.label().to_owned())
}

/// The item as it should be indexed now; None when it no longer exists.
pub async fn load(
    conn: &impl ConnectionTrait,
    kind: &str,
    id: Uuid,
) -> Result<Option<SearchDoc>, DbErr> {
    match kind {
        "idea" => idea(conn, id).await,
        "report" => report(conn, id).await,
        "comment" => comment(conn, id).await,
        _ => Ok(None),
    }
}

async fn idea(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<SearchDoc>, DbErr> {
    let Some(idea) = ideas::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    let theme_ids: Vec<Uuid> = idea_themes::Entity::find()
        .filter(idea_themes::Column::IdeaId.eq(id))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| t.theme_id)
        .collect();
    let theme_names = if theme_ids.is_empty() {
        Vec::new()
    } else {
        themes::Entity::find()
            .filter(themes::Column::Id.is_in(theme_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|t| t.name)
            .collect()
    };
    let author = match idea.author_id {
        Some(a) => users::Entity::find_by_id(a).one(conn).await?,
        None => None,
    };
    Ok(Some(SearchDoc {
        id,
        kind: "idea",
        body: format!("{}\n\n{}", idea.description, idea.expected_impact),
        status: idea.status.clone(),
        themes: theme_names,
        organisation: author.as_ref().and_then(|a| a.organisation_name.clone()),
        respondent: respondent_of(author.as_ref()),
        created: idea.created_at,
        support: idea.support_count.max(0) as u64,
        visible_to: vec![PUBLIC.to_owned()],
        link: format!("/ideas/{id}"),
        title: idea.title,
        ..SearchDoc::default()
    }))
}

async fn report(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<SearchDoc>, DbErr> {
    let Some(report) = reports::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    let organisation = organisations::Entity::find_by_id(report.organisation_id)
        .one(conn)
        .await?
        .map(|o| o.name);
    // Reports are for the board and the reporter; the reporter's identity
    // is never indexed, so a confidential reporter cannot leak through search.
    let mut visible_to = vec![BOARD.to_owned()];
    if let Some(reporter) = report.reporter_id {
        visible_to.push(owner(reporter));
    }
    Ok(Some(SearchDoc {
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
        organisation,
        created: report.created_at,
        visible_to,
        link: format!("/reports/{id}"),
        ..SearchDoc::default()
    }))
}

async fn comment(conn: &impl ConnectionTrait, id: Uuid) -> Result<Option<SearchDoc>, DbErr> {
    let Some(comment) = comments::Entity::find_by_id(id).one(conn).await? else {
        return Ok(None);
    };
    if comment.visibility != "public" {
        return Ok(None);
    }
    let Some(idea) = ideas::Entity::find_by_id(comment.subject_id)
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    // A hidden comment's text is for the board only.
    let visible_to = if comment.hidden_at.is_some() {
        vec![BOARD.to_owned()]
    } else {
        vec![PUBLIC.to_owned()]
    };
    let author = match comment.author_id {
        Some(a) => users::Entity::find_by_id(a).one(conn).await?,
        None => None,
    };
    Ok(Some(SearchDoc {
        id,
        kind: "comment",
        title: format!("Comment on: {}", idea.title),
        body: comment.body,
        status: if comment.hidden_at.is_some() {
            "hidden".to_owned()
        } else {
            idea.status
        },
        respondent: respondent_of(author.as_ref()),
        created: comment.created_at,
        visible_to,
        link: format!("/ideas/{}#comment-{id}", idea.id),
        ..SearchDoc::default()
    }))
}
