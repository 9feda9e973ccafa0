//! Database migrations. A migration that has landed is never edited: add a new one.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_foundation;
mod m20261121_000002_ideas_reports;
mod m20261121_000003_saved_searches;
mod m20261121_000004_consultations;
mod m20261121_000005_assignment;
mod m20261121_000006_merged_supports;
mod m20261121_000007_tags_links;
mod m20261121_000008_digests;
mod m20261121_000009_change_log_recent;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_foundation::Migration),
            Box::new(m20261121_000002_ideas_reports::Migration),
            Box::new(m20261121_000003_saved_searches::Migration),
            Box::new(m20261121_000004_consultations::Migration),
            Box::new(m20261121_000005_assignment::Migration),
            Box::new(m20261121_000006_merged_supports::Migration),
            Box::new(m20261121_000007_tags_links::Migration),
            Box::new(m20261121_000008_digests::Migration),
            Box::new(m20261121_000009_change_log_recent::Migration),
        ]
    }
}
