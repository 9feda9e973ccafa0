//! Email digests: each board member's choice of how often, when and what,
//! and which period was last sent, so that no digest goes twice.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("digest_subscriptions")
                    .col(uuid("user_id").primary_key())
                    .col(string_len("frequency", 10))
                    .col(small_integer("weekday"))
                    .col(small_integer("send_hour"))
                    .col(string_len("sections", 200))
                    .col(string_len_null("last_period", 20))
                    .col(timestamp_with_time_zone_null("covered_until"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_digest_subscriptions_user")
                            .from("digest_subscriptions", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("digest_subscriptions").to_owned())
            .await
    }
}
