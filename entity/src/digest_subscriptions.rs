use sea_orm::entity::prelude::*;

/// A board member's digest settings and what was last sent. A board member
/// without a row has the defaults.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "digest_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// daily | weekly | off
    pub frequency: String,
    /// For weekly digests: 1 is Monday ... 7 is Sunday.
    pub weekday: i16,
    /// The hour of the day (UK time) the digest is sent from.
    pub send_hour: i16,
    /// Comma-separated section keys.
    pub sections: String,
    /// The period (`2026-11-21`, `2026-W47`) last sent or found empty.
    pub last_period: Option<String>,
    /// What the last digest covered up to: the next one starts here.
    pub covered_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
