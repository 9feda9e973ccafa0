//! Load run: contributors submit ideas, reports and consultation responses
//! to a real `hub serve` process while board members search, on SQLite and
//! on PostgreSQL. Prints throughput, p50/p99 latency and errors for the
//! submissions alone (the baseline) and side by side with searching, then
//! checks that every acknowledged write is in the database and in the search
//! index. With `--fault kill` it kills the server (SIGKILL) halfway and
//! starts it again; with `--fault postgres-restart` it restarts PostgreSQL
//! halfway. Run it with `bench/load` (see docs/load.md).

mod report;
mod server;
#[path = "../shared.rs"]
mod shared;
mod traffic;
mod verify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use report::Phase;
use server::Server;
use traffic::People;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Kill,
    PostgresRestart,
}

struct Options {
    seconds: u64,
    contributors: usize,
    searchers: usize,
    /// Each board member starts a search at most this often; zero: as soon
    /// as the last one is answered.
    search_every: Duration,
    accounts: usize,
    backends: Vec<Backend>,
    fault: Fault,
    keep: bool,
    hub: PathBuf,
}

const USAGE: &str = "use --seconds N, --contributors N, --searchers N, --search-every MS, --accounts N, \
--db sqlite|postgres|both, --fault none|kill|postgres-restart, --keep";

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        seconds: 20,
        contributors: 16,
        searchers: 4,
        search_every: Duration::ZERO,
        accounts: 300,
        backends: vec![Backend::Sqlite, Backend::Postgres],
        fault: Fault::None,
        keep: false,
        hub: PathBuf::from(
            std::env::var("HUB_BIN").unwrap_or_else(|_| "target/release/hub".into()),
        ),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<String> {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a value: {USAGE}"))
        };
        match arg.as_str() {
            "--seconds" => options.seconds = shared::count(&value(&arg)?)? as u64,
            "--contributors" => options.contributors = shared::count(&value(&arg)?)?.max(1),
            "--searchers" => options.searchers = shared::count(&value(&arg)?)?,
            "--search-every" => {
                options.search_every = Duration::from_millis(shared::count(&value(&arg)?)? as u64)
            }
            "--accounts" => options.accounts = shared::count(&value(&arg)?)?.max(1),
            "--db" => {
                options.backends = match value(&arg)?.as_str() {
                    "sqlite" => vec![Backend::Sqlite],
                    "postgres" => vec![Backend::Postgres],
                    "both" => vec![Backend::Sqlite, Backend::Postgres],
                    other => anyhow::bail!("--db {other}: {USAGE}"),
                }
            }
            "--fault" => {
                options.fault = match value(&arg)?.as_str() {
                    "none" => Fault::None,
                    "kill" => Fault::Kill,
                    "postgres-restart" => Fault::PostgresRestart,
                    other => anyhow::bail!("--fault {other}: {USAGE}"),
                }
            }
            "--keep" => options.keep = true,
            // cargo bench passes this to every bench target.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other}: {USAGE}"),
        }
    }
    if options.fault == Fault::PostgresRestart {
        options.backends = vec![Backend::Postgres];
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    anyhow::ensure!(
        options.hub.exists(),
        "no hub binary at {} (bench/load builds it; HUB_BIN picks another)",
        options.hub.display()
    );
    let mut failures = Vec::new();
    for backend in options.backends.clone() {
        let name = match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        };
        shared::step(&format!("{name}: load run"));
        let outcome = match backend {
            Backend::Sqlite => {
                let data_dir =
                    std::env::temp_dir().join(format!("hub_load_{}", std::process::id()));
                let url = format!("sqlite://{}?mode=rwc", data_dir.join("hub.db").display());
                let outcome = run(&options, name, url, data_dir.clone()).await;
                if options.keep {
                    eprintln!("kept {}", data_dir.display());
                } else {
                    let _ = std::fs::remove_dir_all(&data_dir);
                }
                outcome
            }
            Backend::Postgres => {
                let options = &options;
                shared::with_fresh_database(
                    &shared::admin_url(),
                    "hub_load",
                    options.keep,
                    |url, dir| async move { run(options, name, url, dir).await },
                )
                .await
            }
        };
        if let Err(err) = outcome {
            eprintln!("{name}: {err:#}");
            failures.push(name);
        }
    }
    anyhow::ensure!(failures.is_empty(), "failed on {failures:?}");
    Ok(())
}

async fn run(
    options: &Options,
    name: &str,
    database_url: String,
    data_dir: PathBuf,
) -> anyhow::Result<()> {
    let mut server = Server::new(options.hub.clone(), data_dir, database_url.clone())?;
    server.migrate()?;
    shared::step(&format!(
        "{} contributor and {} board accounts",
        options.accounts,
        options.searchers.max(1)
    ));
    let (contributors, board) =
        traffic::accounts(&database_url, options.accounts, options.searchers.max(1)).await?;
    server.start().await?;
    let base: Arc<str> = Arc::from(server.url(""));
    // Enough consultations that every response of both phases can be a
    // first one, at up to 3,000 submissions a second (two in ten responses).
    let phase_count = if options.fault == Fault::None { 2 } else { 1 };
    let needed = (phase_count * options.seconds as usize * 3_000 / 5)
        .div_ceil(options.accounts)
        .clamp(1, 400);
    shared::step(&format!("{needed} open consultations"));
    let consultations = traffic::consultations(&base, &board[0], needed).await?;
    let people = Arc::new(People::new(contributors, board, consultations));

    let mut acknowledged = Vec::new();
    let mut phases = Vec::new();
    if options.fault == Fault::None {
        shared::step(&format!(
            "baseline: {} contributors submitting, nobody searching, {} s",
            options.contributors, options.seconds
        ));
        let crowd = Crowd {
            seconds: options.seconds,
            contributors: options.contributors,
            searchers: 0,
            search_every: options.search_every,
        };
        let (phase, keys) = phase(crowd, base.clone(), people.clone()).await;
        acknowledged.extend(keys);
        phases.push(("submissions alone", phase));
    }
    let pace = if options.search_every.is_zero() {
        "as fast as they are answered".to_owned()
    } else {
        format!("each once every {} ms", options.search_every.as_millis())
    };
    shared::step(&format!(
        "{} contributors submitting while {} board members search ({pace}), {} s",
        options.contributors, options.searchers, options.seconds
    ));
    let (mixed, keys, fault_report) =
        phase_with_fault(options, &mut server, &base, &people).await?;
    acknowledged.extend(keys);
    phases.push(("with board searching", mixed));

    report::print(name, &phases);
    if people.responses_ran_out() {
        println!(
            "note: every contributor responded to every consultation before the end, so later \
             responses' turns went to ideas and reports; the last phase's mix is not the stated one"
        );
    }
    if let Some(text) = fault_report {
        println!("{text}");
    }
    shared::step("checking every acknowledged write");
    let checked = verify::everything(&server, &database_url, &acknowledged).await?;
    println!("{checked}");
    let mib = |m: Option<f64>| m.map_or("unknown".to_owned(), |m| format!("{m:.0} MiB"));
    println!(
        "peak memory: hub serve {}, the load generator {}",
        mib(server.peak_memory_mib()),
        mib(shared::peak_memory_mib())
    );
    server.stop()?;
    let (emails, twice) = server::emails_sent_twice(&server.mail_dir())?;
    println!("emails written: {emails}; sent more than once: {twice}");
    anyhow::ensure!(
        checked.lost == 0,
        "{} acknowledged writes were lost",
        checked.lost
    );
    anyhow::ensure!(twice == 0, "{twice} emails were sent more than once");
    Ok(())
}

/// How many people for how long.
#[derive(Clone, Copy)]
struct Crowd {
    seconds: u64,
    contributors: usize,
    searchers: usize,
    search_every: Duration,
}

/// One timed phase.
async fn phase(crowd: Crowd, base: Arc<str>, people: Arc<People>) -> (Phase, Vec<String>) {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(crowd.seconds);
    let mut tasks = Vec::new();
    for worker in 0..crowd.contributors {
        tasks.push(tokio::spawn(traffic::contributor(
            base.clone(),
            people.clone(),
            worker * 1_000_003,
            started,
            deadline,
        )));
    }
    let mut searching = Vec::new();
    for worker in 0..crowd.searchers {
        searching.push(tokio::spawn(traffic::searcher(
            base.clone(),
            people.clone(),
            worker,
            crowd.search_every,
            started,
            deadline,
        )));
    }
    let mut samples = Vec::new();
    let mut keys = Vec::new();
    for task in tasks {
        if let Ok((s, acked)) = task.await {
            samples.extend(s);
            keys.extend(acked.keys);
        }
    }
    for task in searching {
        if let Ok(s) = task.await {
            samples.extend(s);
        }
    }
    (Phase::new(samples, started.elapsed()), keys)
}

/// The mixed phase, with a fault injected halfway when asked.
async fn phase_with_fault(
    options: &Options,
    server: &mut Server,
    base: &Arc<str>,
    people: &Arc<People>,
) -> anyhow::Result<(Phase, Vec<String>, Option<String>)> {
    let crowd = Crowd {
        seconds: options.seconds,
        contributors: options.contributors,
        searchers: options.searchers,
        search_every: options.search_every,
    };
    if options.fault == Fault::None {
        let (phase, keys) = phase(crowd, base.clone(), people.clone()).await;
        return Ok((phase, keys, None));
    }
    let half = Duration::from_secs(options.seconds / 2);
    let watch = tokio::spawn(verify::watch_readiness(
        base.to_string(),
        Duration::from_secs(options.seconds + 5),
    ));
    let load = tokio::spawn(phase(crowd, base.clone(), people.clone()));
    tokio::time::sleep(half).await;
    let text = match options.fault {
        Fault::None => String::new(),
        Fault::Kill => {
            let at = Instant::now();
            server.kill_hard()?;
            let ready_in = server.start().await?;
            format!(
                "fault: hub serve killed with SIGKILL at {} s and started again; ready {:.1} s after the kill ({:.1} s to start)",
                half.as_secs(),
                at.elapsed().as_secs_f64(),
                ready_in.as_secs_f64()
            )
        }
        Fault::PostgresRestart => {
            let at = Instant::now();
            verify::restart_postgres()?;
            format!(
                "fault: PostgreSQL restarted at {} s (the restart took {:.1} s)",
                half.as_secs(),
                at.elapsed().as_secs_f64()
            )
        }
    };
    let (phase, keys) = load.await?;
    let readiness = watch.await??;
    let mut text = format!("{text}\n{readiness}");
    text.push_str(&format!("\n{}", report::failures_by_status(&phase)));
    Ok((phase, keys, Some(text)))
}
