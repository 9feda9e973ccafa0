//! Finding organisations in the register.

use entity::organisations;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

/// How many matches a search offers before asking for more detail.
pub const MAX_MATCHES: u64 = 20;

pub async fn find(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<organisations::Model>, DbErr> {
    organisations::Entity::find_by_id(id).one(conn).await
}

/// Organisations whose name contains `text` or whose ODS code is `text`,
/// exact matches first, at most `limit`.
pub async fn search(
    conn: &impl ConnectionTrait,
    text: &str,
    limit: u64,
) -> Result<Vec<organisations::Model>, DbErr> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = organisations::Entity::find()
        .filter(name_contains_or_code_is(text))
        .order_by_asc(organisations::Column::Name)
        .limit(limit)
        .all(conn)
        .await?;
    let lower = text.to_lowercase();
    found.sort_by_key(|o| {
        let exact = o.ods_code.as_deref() == Some(text.to_uppercase().as_str())
            || o.name.to_lowercase() == lower;
        !exact
    });
    Ok(found)
}

/// What a typed organisation resolves to.
#[derive(Debug)]
pub enum Resolution {
    One(organisations::Model),
    Several(Vec<organisations::Model>),
    None,
}

/// Resolves what someone typed: an ODS code or exact name picks one
/// organisation; otherwise the matches are offered to choose from.
pub async fn resolve(conn: &impl ConnectionTrait, text: &str) -> Result<Resolution, DbErr> {
    // An ODS code is found by its index rather than by reading every name
    // (and cannot be crowded out of the matches by names containing it).
    let upper = text.trim().to_uppercase();
    if (1..=20).contains(&upper.len()) && upper.chars().all(|c| c.is_ascii_alphanumeric()) {
        let found = organisations::Entity::find()
            .filter(organisations::Column::OdsCode.eq(upper.as_str()))
            .one(conn)
            .await?;
        if let Some(org) = found {
            return Ok(Resolution::One(org));
        }
    }
    let matches = search(conn, text, MAX_MATCHES).await?;
    let lower = text.trim().to_lowercase();
    if let Some(exact) = matches
        .iter()
        .find(|o| o.ods_code.as_deref() == Some(upper.as_str()) || o.name.to_lowercase() == lower)
    {
        return Ok(Resolution::One(exact.clone()));
    }
    Ok(match matches.len() {
        0 => Resolution::None,
        1 => Resolution::One(matches.into_iter().next().expect("one match")),
        _ => Resolution::Several(matches),
    })
}

/// One page of the register in name order, with the number of organisations
/// listed. With `text`, only those whose name contains it or whose ODS code
/// is it.
pub async fn register_page(
    conn: &impl ConnectionTrait,
    text: &str,
    offset: u64,
    limit: u64,
) -> Result<(Vec<organisations::Model>, u64), DbErr> {
    let text = text.trim();
    let mut query = organisations::Entity::find();
    if !text.is_empty() {
        query = query.filter(name_contains_or_code_is(text));
    }
    let total = sea_orm::PaginatorTrait::count(query.clone(), conn).await?;
    let page = query
        .order_by_asc(organisations::Column::Name)
        .order_by_asc(organisations::Column::Id)
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    Ok((page, total))
}

fn name_contains_or_code_is(text: &str) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(crate::db::contains_ignoring_case(
            organisations::Column::Name,
            text,
        ))
        .add(organisations::Column::OdsCode.eq(text.to_uppercase()))
}
