//! How people are shown next to what they wrote: name, respondent type and
//! organisation. Never their email address.

use std::collections::HashMap;

use entity::users;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::domain::RespondentType;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: Uuid,
    pub name: String,
    pub respondent_type: Option<&'static str>,
    pub organisation: Option<String>,
}

impl From<&users::Model> for Person {
    fn from(u: &users::Model) -> Self {
        Person {
            id: u.id,
            name: u
                .display_name
                .clone()
                .unwrap_or_else(|| "Name not given".to_owned()),
            respondent_type: u
                .respondent_type
                .as_deref()
                .and_then(RespondentType::parse)
                .map(RespondentType::label),
            organisation: u.organisation_name.clone(),
        }
    }
}

/// The people with these ids, for showing beside a list of items.
pub async fn load(
    conn: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Person>, DbErr> {
    let mut ids: Vec<Uuid> = ids.into_iter().collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found = users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    Ok(found.iter().map(|u| (u.id, Person::from(u))).collect())
}
