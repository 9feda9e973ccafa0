//! Merging a duplicate idea into its original, and undoing it: the
//! duplicate's supporters are copied onto the original (each copy
//! remembers its duplicate), so the original's support count is the
//! combined one, and unmerging removes exactly those copies.

use entity::{idea_supports, ideas};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::db::WriteTransaction;
use crate::error::AppError;

async fn recount(txn: &WriteTransaction, idea_id: Uuid) -> Result<(), AppError> {
    let count = idea_supports::Entity::find()
        .filter(idea_supports::Column::IdeaId.eq(idea_id))
        .count(txn)
        .await?;
    ideas::Entity::update_many()
        .col_expr(ideas::Column::SupportCount, Expr::value(count as i32))
        .filter(ideas::Column::Id.eq(idea_id))
        .exec(txn)
        .await?;
    // Its support count is in the search index ("most supported").
    crate::audit::changed(txn, super::service::SUBJECT, idea_id).await?;
    Ok(())
}

/// Copies the duplicate's supporters onto the original (not its author, not
/// those who already support it).
pub async fn combine(
    txn: &WriteTransaction,
    duplicate: Uuid,
    target: &ideas::Model,
) -> Result<(), AppError> {
    let original = target.id;
    let already: Vec<Uuid> = idea_supports::Entity::find()
        .filter(idea_supports::Column::IdeaId.eq(original))
        .all(txn)
        .await?
        .into_iter()
        .map(|s| s.user_id)
        .collect();
    let copies = idea_supports::Entity::find()
        .filter(idea_supports::Column::IdeaId.eq(duplicate))
        .all(txn)
        .await?
        .into_iter()
        .filter(|s| !already.contains(&s.user_id) && Some(s.user_id) != target.author_id);
    let now = chrono::Utc::now();
    for support in copies {
        idea_supports::ActiveModel {
            idea_id: Set(original),
            user_id: Set(support.user_id),
            notify: Set(support.notify),
            merged_from: Set(Some(duplicate)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    recount(txn, original).await
}

/// Removes the supports a merge copied from the duplicate onto the original.
pub async fn separate(
    txn: &WriteTransaction,
    duplicate: Uuid,
    original: Uuid,
) -> Result<(), AppError> {
    idea_supports::Entity::delete_many()
        .filter(idea_supports::Column::IdeaId.eq(original))
        .filter(idea_supports::Column::MergedFrom.eq(duplicate))
        .exec(txn)
        .await?;
    recount(txn, original).await
}
