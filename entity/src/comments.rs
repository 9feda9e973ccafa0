use sea_orm::entity::prelude::*;

/// A comment in Markdown on an idea (and later other items).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// idea
    pub subject_type: String,
    pub subject_id: Uuid,
    pub author_id: Option<Uuid>,
    pub body: String,
    /// public | internal (board members only)
    pub visibility: String,
    pub edited_at: Option<DateTimeUtc>,
    /// Set when a board member hides the comment; the reason is shown instead.
    pub hidden_at: Option<DateTimeUtc>,
    pub hidden_reason: Option<String>,
    pub hidden_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
