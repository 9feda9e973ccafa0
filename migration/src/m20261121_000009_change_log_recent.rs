//! The search indexer on PostgreSQL looks back over the last seconds of the
//! change log for rows that committed late; an index on `created_at` keeps
//! that a range read instead of a scan of the whole log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_change_log_created_at")
                    .table("change_log")
                    .col("created_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_change_log_created_at")
                    .table("change_log")
                    .to_owned(),
            )
            .await
    }
}
