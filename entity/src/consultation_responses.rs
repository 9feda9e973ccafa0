use sea_orm::entity::prelude::*;

/// One person's (or organisation's) response to a consultation.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consultation_responses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub consultation_id: Uuid,
    /// None for imported responses and once the account has been deleted.
    pub respondent_id: Option<Uuid>,
    /// Who sent an imported response.
    pub respondent_name: Option<String>,
    pub respondent_email: Option<String>,
    /// nhs_staff | supplier | expert | patient_or_public | other, when responding.
    pub respondent_type: String,
    /// individual | organisation
    pub capacity: String,
    pub organisation_name: Option<String>,
    /// None until the respondent says whether they have interests to declare.
    pub interests_declared: Option<bool>,
    pub products_affected: String,
    pub commercial_interest: String,
    /// named | anonymous | private
    pub consent: String,
    /// draft | submitted
    pub status: String,
    pub submitted_at: Option<DateTimeUtc>,
    /// web | import
    pub source: String,
    /// Why personal details were redacted before publication.
    pub redaction_reason: Option<String>,
    pub redacted_by: Option<Uuid>,
    pub redacted_at: Option<DateTimeUtc>,
    pub version: i32,
    /// The board member handling it, if any.
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
