use sea_orm::entity::prelude::*;

/// An upload of organisations from an NHS ODS CSV file, processed in the
/// background so that its progress can be watched.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisation_imports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub created_by: Option<Uuid>,
    pub file_name: String,
    pub source: String,
    /// pending | running | done | failed
    pub status: String,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub created_count: i32,
    pub updated_count: i32,
    pub rejected_count: i32,
    /// The kind chosen on upload (a resumed import needs it) and the rejected
    /// rows: `{"kind": …, "rows": [{line, ods_code, name, reason}]}`.
    pub rejected: Option<Json>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
