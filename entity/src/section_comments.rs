use sea_orm::entity::prelude::*;

/// A response's comment on one section of one version of the document,
/// and the board's disposition of it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "section_comments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub response_id: Uuid,
    pub consultation_id: Uuid,
    pub version_number: i32,
    /// The section's anchor, derived from its heading.
    pub anchor: String,
    /// The heading as it was when the comment was made.
    pub section_title: String,
    pub body: String,
    pub redacted_body: Option<String>,
    /// An HL7 ballot disposition code.
    pub disposition: Option<String>,
    pub rationale: String,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
