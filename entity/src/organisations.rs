use sea_orm::entity::prelude::*;

/// The organisation register: NHS trusts (with ODS codes) and others.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organisations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    /// trust | acute | mental_health | community | ambulance | icb | gp | supplier | other
    pub kind: String,
    #[sea_orm(unique)]
    pub ods_code: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
