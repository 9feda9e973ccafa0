use sea_orm::entity::prelude::*;

/// One version of a consultation's proposed standard.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub consultation_id: Uuid,
    /// 1, 2, 3...: comments record the number they were made on.
    pub number: i32,
    /// The standard as Markdown; each heading is a section.
    pub document: String,
    /// What changed from the previous version (empty for the first).
    pub change_summary: String,
    pub published_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::consultations::Entity",
        from = "Column::ConsultationId",
        to = "super::consultations::Column::Id"
    )]
    Consultation,
}

impl Related<super::consultations::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Consultation.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
