use sea_orm::entity::prelude::*;

/// A consultation on a proposed standard.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    pub summary: String,
    /// Comma-separated: `everyone`, or any of nhs_staff, supplier, expert.
    pub audience: String,
    pub opens_at: DateTimeUtc,
    pub closes_at: DateTimeUtc,
    /// draft | published | outcome_published (open and closed follow from the times).
    pub status: String,
    /// The number of the document version respondents see now.
    pub current_version: i32,
    /// The board's summary of what it did, in Markdown.
    pub outcome_summary: String,
    pub outcome_published_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    /// Bumped on every change, so that stale updates can be refused.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::consultation_versions::Entity")]
    Versions,
}

impl Related<super::consultation_versions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Versions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
