//! Board triage: tags the board puts on ideas, reports and consultation
//! responses, and links between items (an idea, a report, a consultation's
//! section). Both are board-only working data.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("tags")
                    .col(uuid("id").primary_key())
                    .col(string_len_uniq("slug", 60))
                    .col(string_len("label", 40))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("item_tags")
                    .col(string_len("subject_type", 30))
                    .col(uuid("subject_id"))
                    .col(uuid("tag_id"))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(
                        Index::create()
                            .col("subject_type")
                            .col("subject_id")
                            .col("tag_id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_item_tags_tag")
                            .from("item_tags", "tag_id")
                            .to("tags", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_item_tags_tag")
                    .table("item_tags")
                    .col("tag_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("item_links")
                    .col(uuid("id").primary_key())
                    .col(string_len("from_type", 30))
                    .col(uuid("from_id"))
                    .col(string_len("to_type", 30))
                    .col(uuid("to_id"))
                    // A consultation section's anchor; empty for an item, so
                    // the unique index below holds on both databases.
                    .col(string_len("to_anchor", 200).default(""))
                    .col(uuid_null("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_item_links_pair")
                    .table("item_links")
                    .unique()
                    .col("from_type")
                    .col("from_id")
                    .col("to_type")
                    .col("to_id")
                    .col("to_anchor")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_item_links_to")
                    .table("item_links")
                    .col("to_type")
                    .col("to_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["item_links", "item_tags", "tags"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
