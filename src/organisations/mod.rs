//! The organisation register, seeded with the global digital exemplar trusts.

pub mod api;
pub mod import;
pub mod pages;
pub mod service;

use chrono::Utc;
use entity::organisations;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set,
};
use uuid::Uuid;

const EXEMPLARS: &str = include_str!("global-digital-exemplars.csv");

/// Adds the exemplar trusts that are not in the register yet. Safe to run on
/// every start.
pub async fn seed(db: &DatabaseConnection) -> Result<usize, DbErr> {
    let mut added = 0;
    for line in EXEMPLARS.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut fields = line.splitn(4, ',');
        let (Some(code), Some(name), Some(kind)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let note = fields.next().map(str::to_owned);
        let exists = organisations::Entity::find()
            .filter(organisations::Column::OdsCode.eq(code))
            .one(db)
            .await?;
        if exists.is_some() {
            continue;
        }
        let now = Utc::now();
        organisations::ActiveModel {
            id: Set(Uuid::now_v7()),
            name: Set(name.to_owned()),
            kind: Set(kind.to_owned()),
            ods_code: Set(Some(code.to_owned())),
            note: Set(note),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        added += 1;
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_seed_file_lists_twelve_exemplars_with_ods_codes() {
        let rows: Vec<_> = super::EXEMPLARS
            .lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(rows.len(), 12);
        assert!(
            rows.iter()
                .all(|r| r.split(',').next().is_some_and(|c| c.len() == 3))
        );
    }
}
