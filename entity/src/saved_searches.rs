use sea_orm::entity::prelude::*;

/// A search a board member saved, to run again and to hear about new
/// matches (in their digest).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_searches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    /// The words and field filters, as typed.
    pub query: String,
    /// The facet filters as JSON: `{"kind": ["idea"], "theme": ["cyber security"]}`.
    pub filters: String,
    pub date_from: Option<Date>,
    pub date_to: Option<Date>,
    /// relevance | newest | most_supported
    pub sort: String,
    /// Whether the owner wants to hear about new matches.
    pub notify: bool,
    /// Matches created after this are new to the owner.
    pub seen_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
