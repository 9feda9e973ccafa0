//! What the benchmarks share: a fresh PostgreSQL database and data
//! directory for one run, counts from the command line, percentiles,
//! progress steps, and the process's peak memory.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database};

/// The server to create the run's database on (`HUB_BENCH_PG_URL`).
pub fn admin_url() -> String {
    std::env::var("HUB_BENCH_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The most memory this process has held (VmHWM), in MiB.
pub fn peak_memory_mib() -> Option<f64> {
    peak_memory_mib_of("self")
}

/// The most memory process `pid` has held, in MiB.
pub fn peak_memory_mib_of(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// A count given on the command line: `_` or `,` may group its digits.
pub fn count(raw: &str) -> anyhow::Result<usize> {
    Ok(raw.replace(['_', ','], "").parse()?)
}

/// The `p`th percentile of `sorted` by nearest rank (zero when empty).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn step(message: &str) {
    eprintln!("==> {message}");
}

/// Runs `run` with a new database (`{prefix}_{pid}`) and data directory,
/// dropped afterwards unless `keep`.
pub async fn with_fresh_database<F, Fut>(
    admin_url: &str,
    prefix: &str,
    keep: bool,
    run: F,
) -> anyhow::Result<()>
where
    F: FnOnce(String, PathBuf) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let started = Instant::now();
    let admin = Database::connect(admin_url).await?;
    let name = format!("{prefix}_{}", std::process::id());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await?;
    let database_url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => anyhow::bail!("HUB_BENCH_PG_URL must end in /database"),
    };
    let data_dir = std::env::temp_dir().join(&name);
    let outcome = run(database_url.clone(), data_dir.clone()).await;
    if !keep {
        let _ = std::fs::remove_dir_all(&data_dir);
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    } else {
        eprintln!("kept {database_url} and {}", data_dir.display());
    }
    eprintln!("finished in {:.0} s", started.elapsed().as_secs_f64());
    outcome
}
