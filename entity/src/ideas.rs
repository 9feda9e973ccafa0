use sea_orm::entity::prelude::*;

/// An idea to improve patient outcomes or staff lives.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ideas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// None once the author's account has been deleted.
    pub author_id: Option<Uuid>,
    pub title: String,
    /// Markdown, rendered and sanitized on display.
    pub description: String,
    /// Comma-separated: patients, staff, system.
    pub beneficiaries: String,
    pub expected_impact: String,
    /// submitted | under_review | shortlisted | in_progress | implemented | declined | duplicate
    pub status: String,
    pub duplicate_of: Option<Uuid>,
    pub support_count: i32,
    pub comment_count: i32,
    /// Bumped on every change, so that stale updates can be refused.
    pub version: i32,
    /// The board member handling it, if any.
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
