//! Board triage: who each idea, report and consultation response is
//! assigned to. The column has no foreign key because SQLite cannot add one
//! to an existing table: a service that removes accounts must clear it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 3] = ["ideas", "reports", "consultation_responses"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(uuid_null("assignee_id"))
                        .to_owned(),
                )
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("ix_{table}_assignee"))
                        .table(table)
                        .col("assignee_id")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("ix_{table}_assignee"))
                        .table(table)
                        .to_owned(),
                )
                .await?;
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column("assignee_id")
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
