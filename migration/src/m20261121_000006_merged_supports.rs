//! Merging a duplicate idea into its original copies the duplicate's
//! supporters onto the original; each copied support remembers where it
//! came from, so that the merge can be undone exactly.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("idea_supports")
                    .add_column(uuid_null("merged_from"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("idea_supports")
                    .drop_column("merged_from")
                    .to_owned(),
            )
            .await
    }
}
