//! What the index holds for consultations and their responses.
//!
//! A consultation is one document for its summary and one per section of
//! its current version, all under the consultation's id (replaced together
//! when it changes). A response is one document of its answers and section
//! comments with redactions applied; the board (and its respondent) find it
//! once submitted, everyone once the outcome is published if the respondent
//! consented. Its respondent's name is never indexed, and their
//! organisation only when they agreed to be named.

use std::collections::HashMap;

use chrono::Utc;
use entity::{
    consultation_answers, consultation_questions, consultation_responses, consultation_versions,
    consultations, item_themes, section_comments, themes,
};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::documents::{BOARD, PUBLIC, SearchDoc, distinct, owner};
use crate::auth::domain::RespondentType;
use crate::consultations::domain::{Phase, QuestionKind};

pub const CONSULTATION: &str = "consultation";
pub const RESPONSE: &str = "consultation_response";

pub async fn consultations_by_id(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<SearchDoc>>, DbErr> {
    let found = consultations::Entity::find()
        .filter(consultations::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let versions = consultation_versions::Entity::find()
        .filter(consultation_versions::Column::ConsultationId.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let now = Utc::now();
    Ok(found
        .into_iter()
        .map(|c| {
            let phase = Phase::of(&c, now);
            let visible_to = vec![if phase == Phase::Draft { BOARD } else { PUBLIC }.to_owned()];
            let doc = |title: String, body: String, link: String| SearchDoc {
                id: c.id,
                kind: CONSULTATION,
                title,
                body,
                // The stored status, not the phase: open and closed follow
                // from the clock, and the index only changes with the data.
                status: c.status.clone(),
                consultation: Some(c.title.clone()),
                created: c.created_at,
                visible_to: visible_to.clone(),
                link,
                ..SearchDoc::default()
            };
            let mut docs = vec![doc(
                c.title.clone(),
                c.summary.clone(),
                format!("/consultations/{}", c.slug),
            )];
            if let Some(current) = versions
                .iter()
                .find(|v| v.consultation_id == c.id && v.number == c.current_version)
            {
                for section in crate::markdown::sections(&current.document) {
                    docs.push(doc(
                        format!("{} – {}", section.title, c.title),
                        section.body,
                        format!("/consultations/{}#{}", c.slug, section.anchor),
                    ));
                }
            }
            (c.id, docs)
        })
        .collect())
}

pub async fn responses_by_id(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, SearchDoc>, DbErr> {
    let found = consultation_responses::Entity::find()
        .filter(consultation_responses::Column::Id.is_in(ids.iter().copied()))
        .filter(consultation_responses::Column::Status.eq("submitted"))
        .all(conn)
        .await?;
    let consultation_ids = distinct(found.iter().map(|r| r.consultation_id));
    let parents: HashMap<Uuid, consultations::Model> = consultations::Entity::find()
        .filter(consultations::Column::Id.is_in(consultation_ids.clone()))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let free_text: Vec<Uuid> = consultation_questions::Entity::find()
        .filter(consultation_questions::Column::ConsultationId.is_in(consultation_ids))
        .filter(consultation_questions::Column::Kind.eq(QuestionKind::FreeText.as_str()))
        .all(conn)
        .await?
        .into_iter()
        .map(|q| q.id)
        .collect();
    let mut texts: HashMap<Uuid, Vec<String>> = HashMap::new();
    for a in consultation_answers::Entity::find()
        .filter(consultation_answers::Column::ResponseId.is_in(ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .filter(|a| free_text.contains(&a.question_id))
    {
        texts
            .entry(a.response_id)
            .or_default()
            .push(a.redacted_value.unwrap_or(a.value));
    }
    for c in section_comments::Entity::find()
        .filter(section_comments::Column::ResponseId.is_in(ids.iter().copied()))
        .all(conn)
        .await?
    {
        texts
            .entry(c.response_id)
            .or_default()
            .push(c.redacted_body.unwrap_or(c.body));
    }
    let theme_names: HashMap<Uuid, String> = themes::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let mut themes_of: HashMap<Uuid, Vec<String>> = HashMap::new();
    for link in item_themes::Entity::find()
        .filter(item_themes::Column::SubjectType.eq(RESPONSE))
        .filter(item_themes::Column::SubjectId.is_in(ids.iter().copied()))
        .all(conn)
        .await?
    {
        if let Some(name) = theme_names.get(&link.theme_id) {
            themes_of
                .entry(link.subject_id)
                .or_default()
                .push(name.clone());
        }
    }
    Ok(found
        .into_iter()
        .filter_map(|r| {
            let c = parents.get(&r.consultation_id)?;
            let public = crate::auth::policy::response_is_public(c, &r);
            let mut visible_to = vec![BOARD.to_owned()];
            if let Some(respondent) = r.respondent_id {
                visible_to.push(owner(respondent));
            }
            if public {
                visible_to.push(PUBLIC.to_owned());
            }
            let named = r.consent == "named";
            let doc = SearchDoc {
                id: r.id,
                kind: RESPONSE,
                title: format!("Response to {}", c.title),
                body: texts.remove(&r.id).unwrap_or_default().join("\n\n"),
                status: r.status.clone(),
                themes: themes_of.remove(&r.id).unwrap_or_default(),
                organisation: r.organisation_name.clone().filter(|_| named),
                respondent: RespondentType::parse(&r.respondent_type).map(|t| t.label().to_owned()),
                consultation: Some(c.title.clone()),
                created: r.submitted_at.unwrap_or(r.created_at),
                visible_to,
                // One link for every audience: it sends each caller where they may read it.
                link: format!("/consultations/{}/responses/{}", c.slug, r.id),
                ..SearchDoc::default()
            };
            Some((r.id, doc))
        })
        .collect())
}
