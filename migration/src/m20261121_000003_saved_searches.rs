//! Searches board members save, to run again and to hear about new matches.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("saved_searches")
                    .col(pk_uuid("id"))
                    .col(uuid("owner_id"))
                    .col(string_len("name", 100))
                    .col(text("query"))
                    // {"kind": ["idea"], ...}: the facet filters, as JSON text.
                    .col(text("filters"))
                    .col(date_null("date_from"))
                    .col(date_null("date_to"))
                    .col(string_len("sort", 20))
                    .col(boolean("notify").default(false))
                    // Matches created after this are "new" to the owner.
                    .col(timestamp_with_time_zone("seen_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_saved_searches_owner")
                            .from("saved_searches", "owner_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_saved_searches_owner_name")
                    .table("saved_searches")
                    .col("owner_id")
                    .col("name")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("saved_searches").to_owned())
            .await
    }
}
