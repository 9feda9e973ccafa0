//! Tags the board files ideas, reports and consultation responses under
//! while triaging. A tag is created the first time it is used. Adding and
//! removing a tag are each complete in themselves, so two board members
//! tagging the same item at once both keep their change: tags do not take
//! the item's version.

use std::collections::HashMap;

use chrono::Utc;
use entity::{item_tags, tags, users};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::inbox::InboxKind;
use crate::audit::{self, AuditEvent};
use crate::error::{AppError, FieldError};
use crate::text::TextField;

/// Enough for any sensible filing; more is a sign of tags used as notes.
pub const MAX_PER_ITEM: u64 = 20;

const LABEL: TextField<'static> = TextField {
    name: "tag",
    label: "Tag",
    max_chars: 40,
    multiline: false,
    required: Some("Enter a tag"),
};

/// A tag as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub slug: String,
    pub label: String,
}

impl From<tags::Model> for Tag {
    fn from(t: tags::Model) -> Self {
        Tag {
            slug: t.slug,
            label: t.label,
        }
    }
}

/// The label as written and its slug, or a message for the `tag` field.
pub fn check_label(raw: &str) -> Result<(String, String), AppError> {
    let mut errors = Vec::new();
    let label = LABEL.check(raw, &mut errors);
    let Some(label) = label else {
        return Err(AppError::Validation(errors));
    };
    let slug = crate::text::slug(&label);
    if slug.is_empty() {
        return Err(AppError::Validation(vec![FieldError::new(
            "tag",
            "A tag must contain a letter or a number",
        )]));
    }
    Ok((label, slug))
}

/// Every tag in use, by label.
pub async fn all(conn: &impl ConnectionTrait) -> Result<Vec<Tag>, AppError> {
    Ok(tags::Entity::find()
        .order_by_asc(tags::Column::Label)
        .all(conn)
        .await?
        .into_iter()
        .map(Tag::from)
        .collect())
}

/// The tags of each of `items` of one kind.
pub async fn of_items(
    conn: &impl ConnectionTrait,
    kind: InboxKind,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<Tag>>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let links = item_tags::Entity::find()
        .filter(item_tags::Column::SubjectType.eq(kind.as_str()))
        .filter(item_tags::Column::SubjectId.is_in(ids.iter().copied()))
        .all(conn)
        .await?;
    let tag_ids: Vec<Uuid> = links.iter().map(|l| l.tag_id).collect();
    let by_id: HashMap<Uuid, tags::Model> = tags::Entity::find()
        .filter(tags::Column::Id.is_in(tag_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let mut out: HashMap<Uuid, Vec<Tag>> = HashMap::new();
    for link in links {
        if let Some(tag) = by_id.get(&link.tag_id) {
            out.entry(link.subject_id)
                .or_default()
                .push(Tag::from(tag.clone()));
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|t| t.label.to_lowercase());
    }
    Ok(out)
}

pub async fn of_item(
    conn: &impl ConnectionTrait,
    kind: InboxKind,
    id: Uuid,
) -> Result<Vec<Tag>, AppError> {
    Ok(of_items(conn, kind, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default())
}

/// What adding a tag did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    Tagged,
    /// The item already had it; nothing changed.
    AlreadyTagged,
    NotFound,
}

/// Tags one item; `label` is checked by [`check_label`] first.
pub async fn add(
    db: &DatabaseConnection,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    label: &str,
    slug: &str,
) -> Result<Added, AppError> {
    let txn = crate::db::begin_write(db).await?;
    match super::notes::item(&txn, kind, id).await {
        Ok(_) => {}
        Err(AppError::NotFound) => return Ok(Added::NotFound),
        Err(other) => return Err(other),
    }
    let now = Utc::now();
    // Two board members using a new tag at once: the first label stays.
    tags::Entity::insert(tags::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug.to_owned()),
        label: Set(label.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(tags::Column::Slug)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    let tag = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug))
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("tag vanished after insert")))?;
    let before = of_item(&txn, kind, id).await?;
    if before.iter().any(|t| t.slug == tag.slug) {
        return Ok(Added::AlreadyTagged);
    }
    if before.len() as u64 >= MAX_PER_ITEM {
        return Err(AppError::Validation(vec![FieldError::new(
            "tag",
            format!("An item can have at most {MAX_PER_ITEM} tags: remove one first"),
        )]));
    }
    let inserted = item_tags::Entity::insert(item_tags::ActiveModel {
        subject_type: Set(kind.as_str().to_owned()),
        subject_id: Set(id),
        tag_id: Set(tag.id),
        created_by: Set(Some(actor.id)),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            item_tags::Column::SubjectType,
            item_tags::Column::SubjectId,
            item_tags::Column::TagId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Ok(Added::AlreadyTagged);
    }
    let after: Vec<&str> = before
        .iter()
        .map(|t| t.label.as_str())
        .chain(std::iter::once(tag.label.as_str()))
        .collect();
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "triage.tagged",
            subject_type: kind.as_str(),
            subject_id: Some(id),
            before: Some(json!({ "tags": labels(&before) })),
            after: Some(json!({ "tags": after })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Added::Tagged)
}

fn labels(list: &[Tag]) -> Vec<&str> {
    list.iter().map(|t| t.label.as_str()).collect()
}

/// Removes a tag from one item; returns whether it had it.
pub async fn remove(
    db: &DatabaseConnection,
    actor: &users::Model,
    kind: InboxKind,
    id: Uuid,
    slug: &str,
) -> Result<bool, AppError> {
    let txn = crate::db::begin_write(db).await?;
    super::notes::item(&txn, kind, id).await?;
    let before = of_item(&txn, kind, id).await?;
    let Some(tag) = tags::Entity::find()
        .filter(tags::Column::Slug.eq(slug))
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    let removed = item_tags::Entity::delete_many()
        .filter(item_tags::Column::SubjectType.eq(kind.as_str()))
        .filter(item_tags::Column::SubjectId.eq(id))
        .filter(item_tags::Column::TagId.eq(tag.id))
        .exec(&txn)
        .await?
        .rows_affected;
    if removed == 0 {
        return Ok(false);
    }
    let after: Vec<&str> = before
        .iter()
        .filter(|t| t.slug != tag.slug)
        .map(|t| t.label.as_str())
        .collect();
    audit::record(
        &txn,
        AuditEvent {
            actor: Some(actor.id),
            action: "triage.untagged",
            subject_type: kind.as_str(),
            subject_id: Some(id),
            before: Some(json!({ "tags": labels(&before) })),
            after: Some(json!({ "tags": after })),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_keeps_its_words_and_gets_a_slug() {
        let (label, slug) = check_label("  Quick win ").expect("valid");
        assert_eq!(label, "Quick win");
        assert_eq!(slug, "quick-win");
    }

    #[test]
    fn a_label_without_letters_or_numbers_is_refused() {
        let Err(AppError::Validation(errors)) = check_label("!!!") else {
            panic!("expected a validation error");
        };
        assert_eq!(errors[0].field, "tag");
    }

    #[test]
    fn an_empty_or_long_label_is_refused() {
        assert!(check_label("   ").is_err());
        assert!(check_label(&"a".repeat(41)).is_err());
    }
}
