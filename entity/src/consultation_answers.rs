use sea_orm::entity::prelude::*;

/// A response's answer to one question.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_answers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub response_id: Uuid,
    pub question_id: Uuid,
    /// Free text, the chosen option, a JSON array of options, or 1 to 5.
    pub value: String,
    /// The published text when personal details were redacted (the original stays for the board).
    pub redacted_value: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
