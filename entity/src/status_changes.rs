use sea_orm::entity::prelude::*;

/// The public history of an idea's or a report's status, each with its note.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "status_changes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// idea | report
    pub subject_type: String,
    pub subject_id: Uuid,
    /// None for the first entry, made when the item is submitted.
    pub from_status: Option<String>,
    pub to_status: String,
    pub note: String,
    pub actor_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
