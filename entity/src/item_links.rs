use sea_orm::entity::prelude::*;

/// A link the board made between an item and another item or a
/// consultation's section. Read in both directions.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "item_links")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub from_type: String,
    pub from_id: Uuid,
    /// idea, report, consultation_response or consultation_section
    pub to_type: String,
    /// The item, or the consultation a section belongs to.
    pub to_id: Uuid,
    /// The section's anchor; empty when the target is an item.
    pub to_anchor: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
