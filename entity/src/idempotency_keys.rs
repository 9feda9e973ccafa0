use sea_orm::entity::prelude::*;

/// The first response to a create request carrying an `Idempotency-Key`,
/// replayed when the same caller retries with the same key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub key: String,
    /// SHA-256 of method, path and body: the same key with another request is refused.
    pub request_hash: String,
    pub response_status: i32,
    pub response_body: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
