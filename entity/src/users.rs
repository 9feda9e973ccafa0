use sea_orm::entity::prelude::*;

/// A person who signs in: NHS staff, suppliers, experts, board members, admins.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Stored lower-cased so that one address is one account.
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: Option<String>,
    /// contributor | board | admin
    pub role: String,
    /// nhs_staff | supplier | expert | patient_or_public | other
    pub respondent_type: Option<String>,
    pub organisation_id: Option<Uuid>,
    /// Free-text organisation when it is not in the register (suppliers, charities).
    pub organisation_name: Option<String>,
    pub job_title: Option<String>,
    pub profile_completed_at: Option<DateTimeUtc>,
    pub last_signed_in_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
