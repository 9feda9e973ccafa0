use sea_orm::entity::prelude::*;

/// An email waiting to be sent, being sent, sent, or failed for good.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Unique: the same email can be enqueued any number of times and is sent once.
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
    /// Extra headers such as List-Unsubscribe, as a JSON object of strings.
    pub headers: Option<Json>,
    /// pending | sending | sent | failed
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// While a worker holds a row; a crashed worker's claim lapses at this time.
    pub locked_until: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
