//! The themes ideas are filed under. The board adds, renames and retires
//! them; a retired theme stays on the ideas filed under it.

use chrono::Utc;
use entity::themes;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::error::{AppError, FieldError};
use crate::text::TextField;

/// The themes the board starts with.
pub const STARTING_THEMES: &[&str] = &[
    "Interoperability",
    "Patient access",
    "Workforce and productivity",
    "Cyber security",
    "Data and AI",
    "Clinical safety",
    "Procurement",
];

const NAME: TextField<'static> = TextField {
    name: "name",
    label: "Theme name",
    max_chars: 80,
    multiline: false,
    required: Some("Enter a name for the theme"),
};

/// Adds the starting themes that are missing. Safe on every start.
pub async fn seed(db: &DatabaseConnection) -> Result<(), DbErr> {
    let now = Utc::now();
    for (position, name) in STARTING_THEMES.iter().enumerate() {
        themes::Entity::insert(themes::ActiveModel {
            id: Set(Uuid::now_v7()),
            slug: Set(crate::text::slug(name)),
            name: Set((*name).to_owned()),
            active: Set(true),
            position: Set(position as i32),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(themes::Column::Slug)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Themes in the board's order; `active_only` for the ones offered on forms.
pub async fn list(
    conn: &impl ConnectionTrait,
    active_only: bool,
) -> Result<Vec<themes::Model>, DbErr> {
    let mut query = themes::Entity::find()
        .order_by_asc(themes::Column::Position)
        .order_by_asc(themes::Column::Name);
    if active_only {
        query = query.filter(themes::Column::Active.eq(true));
    }
    query.all(conn).await
}

pub async fn create(
    db: &DatabaseConnection,
    actor: Uuid,
    raw_name: &str,
) -> Result<themes::Model, AppError> {
    let mut errors = Vec::new();
    let name = NAME.check(raw_name, &mut errors);
    let Some(name) = name else {
        return Err(AppError::Validation(errors));
    };
    let slug = crate::text::slug(&name);
    if slug.is_empty() {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            "Theme name must contain letters or numbers",
        )]));
    }
    let txn = crate::db::begin_write(db).await?;
    let existing = themes::Entity::find()
        .filter(themes::Column::Slug.eq(slug.as_str()))
        .one(&txn)
        .await?;
    if existing.is_some() {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            "A theme with this name already exists",
        )]));
    }
    let position = list(&txn, false).await?.len() as i32;
    let now = Utc::now();
    let theme = themes::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug),
        name: Set(name),
        active: Set(true),
        position: Set(position),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor),
            action: "theme.created",
            subject_type: "theme",
            subject_id: Some(theme.id),
            before: None,
            after: Some(json!({ "name": theme.name, "slug": theme.slug })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(theme)
}

/// Renames a theme (its slug, used in links and filters, stays) or retires
/// and restores it.
pub async fn update(
    db: &DatabaseConnection,
    actor: Uuid,
    id: Uuid,
    raw_name: Option<&str>,
    active: Option<bool>,
) -> Result<themes::Model, AppError> {
    let mut errors = Vec::new();
    let name = raw_name.and_then(|n| NAME.check(n, &mut errors));
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let txn = crate::db::begin_write(db).await?;
    let theme = themes::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let before = json!({ "name": theme.name, "active": theme.active });
    let mut changed: themes::ActiveModel = theme.into();
    if let Some(name) = name {
        changed.name = Set(name);
    }
    if let Some(active) = active {
        changed.active = Set(active);
    }
    changed.updated_at = Set(Utc::now());
    let theme = changed.update(&txn).await?;
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor),
            action: "theme.updated",
            subject_type: "theme",
            subject_id: Some(theme.id),
            before: Some(before),
            after: Some(json!({ "name": theme.name, "active": theme.active })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(theme)
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes() {
        assert_eq!(crate::text::slug("Data and AI"), "data-and-ai");
        assert_eq!(
            crate::text::slug("  Workforce & productivity! "),
            "workforce-productivity"
        );
    }
}
