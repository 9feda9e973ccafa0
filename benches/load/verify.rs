//! After the load: is every acknowledged write in the database and in the
//! search index? And, during a fault, what did `/health/ready` say?

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::server::Server;

pub struct Checked {
    pub acknowledged: usize,
    pub lost: usize,
    pub missing_from_database: usize,
    pub missing_from_index: usize,
    pub index_caught_up_in: Duration,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "acknowledged writes: {}; missing from the database: {}; missing from the search index: {} \
             (the index held every one {:.1} s after the load ended)",
            self.acknowledged,
            self.missing_from_database,
            self.missing_from_index,
            self.index_caught_up_in.as_secs_f64()
        )
    }
}

fn ids_of(keys: &[String], kind: &str) -> Vec<Uuid> {
    keys.iter()
        .filter_map(|k| k.split_once(':'))
        .filter(|(k, _)| *k == kind)
        .filter_map(|(_, id)| Uuid::parse_str(id).ok())
        .collect()
}

/// How many of `ids` the table behind `E` does not hold (500 at a time).
async fn missing_rows<E>(
    db: &DatabaseConnection,
    ids: &[Uuid],
    id: E::Column,
) -> anyhow::Result<usize>
where
    E: EntityTrait,
{
    let mut found = HashSet::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<Uuid> = E::find()
            .select_only()
            .column(id)
            .filter(id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(ids.iter().filter(|id| !found.contains(id)).count())
}

pub async fn everything(
    server: &Server,
    database_url: &str,
    keys: &[String],
) -> anyhow::Result<Checked> {
    let db = Database::connect(database_url).await?;
    let ideas = ids_of(keys, "idea");
    let reports = ids_of(keys, "report");
    let responses = ids_of(keys, "consultation_response");
    anyhow::ensure!(
        ideas.len() + reports.len() + responses.len() == keys.len(),
        "an acknowledged write of an unknown kind"
    );
    let mut missing_from_database =
        missing_rows::<entity::ideas::Entity>(&db, &ideas, entity::ideas::Column::Id).await?
            + missing_rows::<entity::reports::Entity>(&db, &reports, entity::reports::Column::Id)
                .await?;
    // A response counts only once it is stored as submitted.
    let mut submitted = HashSet::new();
    for chunk in responses.chunks(500) {
        let rows: Vec<Uuid> = entity::consultation_responses::Entity::find()
            .select_only()
            .column(entity::consultation_responses::Column::Id)
            .filter(entity::consultation_responses::Column::Id.is_in(chunk.iter().copied()))
            .filter(entity::consultation_responses::Column::Status.eq("submitted"))
            .into_tuple()
            .all(&db)
            .await?;
        submitted.extend(rows);
    }
    missing_from_database += responses
        .iter()
        .filter(|id| !submitted.contains(id))
        .count();
    db.close().await?;

    // The index follows the change log: wait (up to two minutes) for it.
    let started = Instant::now();
    let search = hub::search::store::Search::open_read_only(&server.search_dir())?;
    let mut missing_from_index;
    loop {
        missing_from_index = search.current().missing(keys)?.len();
        if missing_from_index == 0 || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        search.follow_pointer()?;
    }
    Ok(Checked {
        acknowledged: keys.len(),
        lost: missing_from_database.max(missing_from_index),
        missing_from_database,
        missing_from_index,
        index_caught_up_in: started.elapsed(),
    })
}

/// Polls `/health/ready` every 100 ms for `length`, and says when it was
/// not ready, with what status, and when it was ready again.
pub async fn watch_readiness(base: String, length: Duration) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    let started = Instant::now();
    let mut runs: Vec<(String, Duration, Duration, usize)> = Vec::new();
    while started.elapsed() < length {
        let at = started.elapsed();
        let answer = match client.get(format!("{base}/health/ready")).send().await {
            Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
            Err(_) => "no answer".to_owned(),
        };
        match runs.last_mut() {
            Some((last, _, until, n)) if *last == answer => {
                *until = at;
                *n += 1;
            }
            _ => runs.push((answer, at, at, 1)),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let parts: Vec<String> = runs
        .iter()
        .map(|(answer, from, until, n)| {
            format!(
                "{answer} ×{n} ({:.1}–{:.1} s)",
                from.as_secs_f64(),
                until.as_secs_f64()
            )
        })
        .collect();
    Ok(format!(
        "/health/ready, polled every 100 ms: {}",
        parts.join(", then ")
    ))
}

/// Restarts the local PostgreSQL cluster (as `pg_ctlcluster` on Debian).
pub fn restart_postgres() -> anyhow::Result<()> {
    let version = std::fs::read_dir("/etc/postgresql")?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .ok_or_else(|| anyhow::anyhow!("no PostgreSQL cluster under /etc/postgresql"))?;
    let status = std::process::Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()?;
    anyhow::ensure!(status.success(), "pg_ctlcluster restart failed: {status}");
    Ok(())
}
