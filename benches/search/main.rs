//! Search benchmark: builds a corpus in a fresh PostgreSQL database, then
//! measures, side by side on the same corpus and queries, search latency
//! over HTTP and in-process (tantivy), PostgreSQL full-text search with
//! ranking and facet counts, the full reindex, the freshness lag of
//! acknowledged writes, and peak memory; it prints the ratios against the
//! aims. Absolute times drift on a shared machine; the ratios are the
//! result. Run it with `bench/search` (see docs/search-benchmark.md).

mod corpus;
mod postgres_fts;
#[path = "../shared.rs"]
mod shared;

use std::time::{Duration, Instant};

use hub::search::query::{self, Audience, SearchRequest};
use serde_json::json;

struct Options {
    items: usize,
    queries: usize,
    probes: usize,
    admin_url: String,
    keep: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        items: 100_000,
        queries: 200,
        probes: 60,
        admin_url: shared::admin_url(),
        keep: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<usize> {
            let raw = args
                .next()
                .ok_or_else(|| anyhow::anyhow!("{name} needs a number"))?;
            shared::count(&raw)
        };
        match arg.as_str() {
            "--items" => options.items = number("--items")?,
            "--queries" => options.queries = number("--queries")?,
            "--probes" => options.probes = number("--probes")?,
            "--keep" => options.keep = true,
            // cargo bench passes this to every bench target.
            "--bench" => {}
            other => anyhow::bail!(
                "unknown argument {other}: use --items N, --queries N, --probes N, --keep"
            ),
        }
    }
    Ok(options)
}

/// Sorted latencies with percentiles.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Latencies(samples)
    }

    fn at(&self, percentile: f64) -> Duration {
        shared::percentile(&self.0, percentile)
    }

    fn p50(&self) -> Duration {
        self.at(50.0)
    }

    fn p99(&self) -> Duration {
        self.at(99.0)
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1_000.0)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn directory_mib(path: &std::path::Path) -> f64 {
    fn walk(path: &std::path::Path) -> u64 {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            walk(&p)
                        } else {
                            e.metadata().map(|m| m.len()).unwrap_or(0)
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(path) as f64 / (1024.0 * 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let admin_url = options.admin_url.clone();
    shared::with_fresh_database(
        &admin_url,
        "hub_bench",
        options.keep,
        |database_url, data_dir| async move { run(&options, &database_url, &data_dir).await },
    )
    .await
}

async fn run(
    options: &Options,
    database_url: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let settings = hub::settings::Settings::load_from(
        None,
        [
            ("HUB_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
            ("HUB_DATA_DIR".to_owned(), data_dir.display().to_string()),
            ("HUB_DATABASE_URL".to_owned(), database_url.to_owned()),
        ],
    )?;
    let (mailer, _outbox) = hub::email::transport::Mailer::memory();
    let app = hub::startup::Application::build(settings, mailer).await?;
    let state = app.state().clone();
    let db = state.db.clone();

    shared::step(&format!("generating {} items", options.items));
    let clock = Instant::now();
    let counts = corpus::generate(&db, options.items, 20_261_121, |done| {
        if done % 20_000 < 500 {
            eprintln!("    {done} items written");
        }
    })
    .await?;
    let generated = clock.elapsed();

    shared::step("full reindex into a new index (tantivy)");
    let clock = Instant::now();
    let indexed =
        hub::search::store::rebuild_generation(&data_dir.join("search"), &db, |done, total| {
            if done % 20_000 < 1_000 || done == total {
                eprintln!("    {done}/{total} indexed");
            }
        })
        .await?;
    let reindex = clock.elapsed();

    shared::step("PostgreSQL full-text table and GIN index");
    let clock = Instant::now();
    postgres_fts::build(&db).await?;
    let pg_build = clock.elapsed();

    let port = app.port();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stop_rx.await;
    }));
    // The service switches to the rebuilt index within a poll.
    let deadline = Instant::now() + Duration::from_secs(30);
    while state.search.current().reader.searcher().num_docs() < indexed {
        anyhow::ensure!(Instant::now() < deadline, "the service did not switch");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let board = hub::auth::service::upsert_user(
        &db,
        &hub::auth::domain::EmailAddress::parse("bench-board@example.nhs.uk")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        hub::auth::domain::Role::Board,
        None,
    )
    .await?;
    let board_token = hub::auth::service::create_api_token(&db, &board, "bench")
        .await?
        .token;
    let contributor = hub::auth::service::upsert_user(
        &db,
        &hub::auth::domain::EmailAddress::parse("bench-nurse@example.nhs.uk")
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        hub::auth::domain::Role::Contributor,
        None,
    )
    .await?;
    let contributor_token = hub::auth::service::create_api_token(&db, &contributor, "bench")
        .await?
        .token;

    let queries = corpus::queries(20_261_121, options.queries);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    shared::step(&format!(
        "{} queries, each way (after a warm-up pass)",
        queries.len()
    ));
    let index = state.search.current();
    let in_process = |q: &str| -> anyhow::Result<usize> {
        let request = SearchRequest {
            q: q.to_owned(),
            limit: 20,
            ..SearchRequest::default()
        };
        Ok(query::search(&index, &Audience::Everything, &request)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .total)
    };
    let http = |q: String| {
        let request = client
            .get(format!("{base}/api/v1/search"))
            .bearer_auth(&board_token)
            .query(&[("q", q.as_str()), ("limit", "20")]);
        async move {
            let response = request.send().await?;
            anyhow::ensure!(response.status().is_success(), "HTTP {}", response.status());
            let body: serde_json::Value = response.json().await?;
            Ok::<u64, anyhow::Error>(body["total"].as_u64().unwrap_or(0))
        }
    };
    for q in &queries {
        in_process(q)?;
        http(q.clone()).await?;
        postgres_fts::search(&db, q).await?;
    }
    let mut tantivy_times = Vec::new();
    let mut http_times = Vec::new();
    let mut pg_times = Vec::new();
    let mut agreeing = 0;
    for q in &queries {
        let clock = Instant::now();
        let ours = in_process(q)?;
        tantivy_times.push(clock.elapsed());
        let clock = Instant::now();
        http(q.clone()).await?;
        http_times.push(clock.elapsed());
        let clock = Instant::now();
        let theirs = postgres_fts::search(&db, q).await?;
        pg_times.push(clock.elapsed());
        // Stemmers differ a little; most totals should still agree.
        if ours as i64 == theirs || (ours as f64 - theirs as f64).abs() <= 0.05 * theirs as f64 {
            agreeing += 1;
        }
    }
    let tantivy = Latencies::new(tantivy_times);
    let over_http = Latencies::new(http_times);
    let postgres = Latencies::new(pg_times);

    shared::step(&format!(
        "freshness: {} acknowledged writes until searchable",
        options.probes
    ));
    let mut lags = Vec::new();
    let mut probe_rng = corpus::Rng::new(7);
    for n in 0..options.probes {
        let word = format!("freshprobe{n}x{}", std::process::id());
        let response = client
            .post(format!("{base}/api/v1/ideas"))
            .bearer_auth(&contributor_token)
            .json(&json!({
                "title": format!("Probe {word}"),
                "description": "A write whose visibility in search is timed.",
                "themes": ["interoperability"],
                "beneficiaries": ["staff"],
                "expected_impact": "None"
            }))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "probe not created");
        let acknowledged = Instant::now();
        loop {
            let index = state.search.current();
            let request = SearchRequest {
                q: word.clone(),
                limit: 1,
                exact_only: true,
                ..SearchRequest::default()
            };
            let found = query::search(&index, &Audience::Everything, &request)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .total;
            if found > 0 {
                lags.push(acknowledged.elapsed());
                break;
            }
            anyhow::ensure!(
                acknowledged.elapsed() < Duration::from_secs(30),
                "probe never searchable"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Spread the probes over the indexer's polling cycle.
        tokio::time::sleep(Duration::from_millis(probe_rng.below(300) as u64)).await;
    }
    let freshness = Latencies::new(lags);
    let _ = stop_tx.send(());
    let _ = server.await;

    let index_mib = directory_mib(&data_dir.join("search"));
    let peak = shared::peak_memory_mib();
    let items = counts.total();
    let words_m = counts.words as f64 / 1e6;
    println!();
    println!(
        "## Search benchmark: {items} items ({} ideas, {} reports, {} comments, {} consultation responses), {words_m:.1}M words",
        counts.ideas, counts.reports, counts.comments, counts.responses
    );
    println!();
    println!(
        "{} queries (one word, two words, phrases), top 20 with facet counts, one at a time.",
        queries.len()
    );
    println!();
    println!("| | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| tantivy, in-process | {} | {} |",
        ms(tantivy.p50()),
        ms(tantivy.p99())
    );
    println!(
        "| `GET /api/v1/search` over HTTP | {} | {} |",
        ms(over_http.p50()),
        ms(over_http.p99())
    );
    println!(
        "| PostgreSQL full-text search (ts_rank, top 20, facet counts) | {} | {} |",
        ms(postgres.p50()),
        ms(postgres.p99())
    );
    println!(
        "| freshness: acknowledged write to searchable | {} | {} |",
        ms(freshness.p50()),
        ms(freshness.p99())
    );
    println!();
    println!("| ratio | value | aim |");
    println!("|---|---|---|");
    println!(
        "| HTTP p50 / in-process p50 | {:.2}x | within 2x |",
        ratio(over_http.p50(), tantivy.p50())
    );
    println!(
        "| PostgreSQL p50 / HTTP p50 | {:.1}x | at least 10x |",
        ratio(postgres.p50(), over_http.p50())
    );
    println!(
        "| PostgreSQL p99 / HTTP p99 | {:.1}x | |",
        ratio(postgres.p99(), over_http.p99())
    );
    println!("| freshness p99 | {} | under 1 s |", ms(freshness.p99()));
    let per_second = items as f64 / reindex.as_secs_f64().max(1e-9);
    println!(
        "| full reindex | {:.1} s ({per_second:.0} items/s; 1M at this rate: {:.0} s) | 1M under 180 s |",
        reindex.as_secs_f64(),
        1_000_000.0 / per_second
    );
    println!();
    println!(
        "Corpus written in {:.1} s; PostgreSQL table and GIN index built in {:.1} s; \
         index on disk {index_mib:.0} MiB; peak memory (VmHWM) {}; \
         {agreeing} of {} queries found the same total (±5%) both ways.",
        generated.as_secs_f64(),
        pg_build.as_secs_f64(),
        peak.map_or("unknown".to_owned(), |m| format!("{m:.0} MiB")),
        queries.len()
    );
    Ok(())
}
