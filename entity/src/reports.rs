use sea_orm::entity::prelude::*;

/// A report of a place where best practice is not being followed. Visible
/// only to board members and to its reporter.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub reporter_id: Option<Uuid>,
    pub organisation_id: Uuid,
    pub system_name: String,
    pub supplier_name: Option<String>,
    /// interoperability | outage | cyber_security | privacy | usability | procurement | data_quality | other
    pub category: String,
    /// The standard or consultation section it breaches: a link or a reference.
    pub standard_reference: Option<String>,
    /// low | medium | high | critical
    pub severity: String,
    pub patient_impact: String,
    pub staff_impact: String,
    /// Markdown.
    pub evidence: String,
    /// The reporter's identity is then shown to board members only.
    pub confidential: bool,
    /// new | triaged | investigating | escalated | resolved | closed | not_actionable
    pub status: String,
    pub version: i32,
    /// The board member handling it, if any.
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
