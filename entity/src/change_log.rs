use sea_orm::entity::prelude::*;

/// One row per changed item, written in the same transaction as the change.
/// The search indexer follows it by `seq`, so this table keeps an integer
/// sequence rather than a UUID key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "change_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub entity_type: String,
    pub entity_id: Uuid,
    /// upsert | delete
    pub op: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
