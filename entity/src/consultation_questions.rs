use sea_orm::entity::prelude::*;

/// A question respondents answer, in `position` order.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_questions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub consultation_id: Uuid,
    pub position: i32,
    /// free_text | single_choice | multi_choice | agreement_scale
    pub kind: String,
    pub prompt: String,
    pub help_text: String,
    pub required: bool,
    /// The choices as a JSON array of strings (choice questions only).
    pub options: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
