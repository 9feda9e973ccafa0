//! Digest benchmark: builds the digests of many board members over a large
//! corpus in a fresh PostgreSQL database, and prints the time and peak
//! memory. Side by side on the same data it builds them again without the
//! saved-search section (the baseline), so the printed ratio shows what the
//! searches cost; absolute times drift on a shared machine. Run it with
//! `bench/digests` (see docs/digests-benchmark.md).

#[path = "../search/corpus.rs"]
mod corpus;
#[path = "../shared.rs"]
mod shared;

use std::time::{Duration, Instant};

use chrono::Utc;
use hub::digests::schedule::{self, Mode, Outcome};
use hub::digests::settings::{self, DigestSettings, Section};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

struct Options {
    items: usize,
    board: usize,
    admin_url: String,
    keep: bool,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        items: 100_000,
        board: 1_000,
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
            "--board" => options.board = number("--board")?,
            "--keep" => options.keep = true,
            // cargo bench passes this to every bench target.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other}: use --items N, --board N, --keep"),
        }
    }
    Ok(options)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1_000.0)
}

/// One pass over every board member: (total time, sorted per-digest times,
/// digests with news, total lines).
async fn pass(
    state: &hub::app_state::AppState,
    people: &[entity::users::Model],
    mode: Mode,
) -> anyhow::Result<(Duration, Vec<Duration>, usize, usize)> {
    let now = Utc::now();
    let mut each = Vec::with_capacity(people.len());
    let mut with_news = 0;
    let mut lines = 0;
    let clock = Instant::now();
    for (n, person) in people.iter().enumerate() {
        let started = Instant::now();
        match schedule::send_one(state, person, now, mode).await? {
            Outcome::Preview { digest, .. } => {
                with_news += usize::from(digest.has_news());
                lines += digest.parts.iter().map(|p| p.lines.len()).sum::<usize>();
            }
            Outcome::Sent { .. } => with_news += 1,
            _ => {}
        }
        each.push(started.elapsed());
        if (n + 1) % 250 == 0 {
            eprintln!("    {}/{} digests", n + 1, people.len());
        }
    }
    let total = clock.elapsed();
    each.sort();
    Ok((total, each, with_news, lines))
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
            ("HUB_DIGESTS".to_owned(), "off".to_owned()),
        ],
    )?;
    let (mailer, _outbox) = hub::email::transport::Mailer::memory();
    let app = hub::startup::Application::build(settings, mailer).await?;
    let state = app.state().clone();
    let db = state.db.clone();

    shared::step(&format!("generating {} items", options.items));
    let counts = corpus::generate(&db, options.items, 20_261_121, |done| {
        if done % 20_000 < 500 {
            eprintln!("    {done} items written");
        }
    })
    .await?;
    shared::step("indexing them");
    hub::search::store::rebuild_generation(&data_dir.join("search"), &db, |done, total| {
        if done % 20_000 < 1_000 || done == total {
            eprintln!("    {done}/{total} indexed");
        }
    })
    .await?;
    state.search.follow_pointer()?;

    shared::step(&format!(
        "{} board members, each with items assigned and two saved searches",
        options.board
    ));
    let queries = corpus::queries(7, options.board * 2);
    let mut people = Vec::with_capacity(options.board);
    let idea_ids: Vec<uuid::Uuid> = entity::ideas::Entity::find()
        .select_only()
        .column(entity::ideas::Column::Id)
        .into_tuple()
        .all(&db)
        .await?;
    for n in 0..options.board {
        let email = hub::auth::domain::EmailAddress::parse(&format!("board{n}@example.nhs.uk"))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let person = hub::auth::service::upsert_user(
            &db,
            &email,
            hub::auth::domain::Role::Board,
            Some(format!("Board Member {n}")),
        )
        .await?;
        // Five ideas each, spread over the corpus.
        let mine: Vec<uuid::Uuid> = idea_ids
            .iter()
            .skip(n * 5 % idea_ids.len().max(1))
            .take(5)
            .copied()
            .collect();
        entity::ideas::Entity::update_many()
            .col_expr(entity::ideas::Column::AssigneeId, Expr::value(person.id))
            .filter(entity::ideas::Column::Id.is_in(mine))
            .exec(&db)
            .await?;
        for (k, q) in queries[n * 2..n * 2 + 2].iter().enumerate() {
            let input = hub::search::saved::SaveInput {
                name: format!("Search {k}"),
                query: hub::search::saved::SavedQuery {
                    q: q.clone(),
                    ..Default::default()
                },
                notify: true,
            };
            let (name, request) = hub::search::saved::check(&state.search.current(), &input)?;
            hub::search::saved::create(&db, &person, name, &input, &request).await?;
        }
        people.push(person);
    }
    // Their last digest a day ago: a day's news.
    let day_ago = Utc::now() - chrono::Duration::days(1);
    for person in &people {
        settings::ensure_row(&db, person.id).await?;
    }
    entity::digest_subscriptions::Entity::update_many()
        .col_expr(
            entity::digest_subscriptions::Column::CoveredUntil,
            Expr::value(day_ago),
        )
        .exec(&db)
        .await?;
    entity::saved_searches::Entity::update_many()
        .col_expr(entity::saved_searches::Column::SeenAt, Expr::value(day_ago))
        .exec(&db)
        .await?;

    shared::step("baseline: every digest without the saved-search section");
    let without: Vec<Section> = Section::ALL
        .iter()
        .copied()
        .filter(|s| *s != Section::SavedSearches)
        .collect();
    for person in &people {
        let chosen = DigestSettings {
            sections: without.clone(),
            ..DigestSettings::default()
        };
        settings::save(&db, person.id, &chosen, "digest.settings_changed").await?;
    }
    let (base_total, base_each, _, _) = pass(&state, &people, Mode::DryRun).await?;

    shared::step("every digest, all sections (built and rendered, nothing sent)");
    for person in &people {
        settings::save(
            &db,
            person.id,
            &DigestSettings::default(),
            "digest.settings_changed",
        )
        .await?;
    }
    let (full_total, full_each, with_news, lines) = pass(&state, &people, Mode::DryRun).await?;

    shared::step("every digest enqueued into the outbox");
    let (send_total, send_each, sent, _) = pass(&state, &people, Mode::Now).await?;
    let outbox = entity::email_outbox::Entity::find()
        .filter(entity::email_outbox::Column::IdempotencyKey.starts_with("digest:"))
        .count(&db)
        .await?;

    let peak = shared::peak_memory_mib();
    println!();
    println!(
        "## Digest benchmark: {} board members over {} items ({} ideas, {} reports, {} comments, {} responses)",
        people.len(),
        counts.total(),
        counts.ideas,
        counts.reports,
        counts.comments,
        counts.responses
    );
    println!();
    println!("| run | total | per digest p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| baseline: without saved searches (dry run) | {:.1} s | {} | {} |",
        base_total.as_secs_f64(),
        ms(shared::percentile(&base_each, 50.0)),
        ms(shared::percentile(&base_each, 99.0))
    );
    println!(
        "| all sections (dry run) | {:.1} s | {} | {} |",
        full_total.as_secs_f64(),
        ms(shared::percentile(&full_each, 50.0)),
        ms(shared::percentile(&full_each, 99.0))
    );
    println!(
        "| all sections, enqueued | {:.1} s | {} | {} |",
        send_total.as_secs_f64(),
        ms(shared::percentile(&send_each, 50.0)),
        ms(shared::percentile(&send_each, 99.0))
    );
    println!();
    println!(
        "All sections take {:.2}x the baseline; enqueuing takes {:.2}x the dry run.",
        full_total.as_secs_f64() / base_total.as_secs_f64().max(1e-9),
        send_total.as_secs_f64() / full_total.as_secs_f64().max(1e-9)
    );
    println!(
        "{with_news} of {} digests had news ({lines} lines in all); {sent} enqueued, {outbox} rows in the outbox.",
        people.len()
    );
    if let Some(peak) = peak {
        println!("Peak memory (VmHWM) of the whole run: {peak:.0} MiB.");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let admin_url = options.admin_url.clone();
    shared::with_fresh_database(
        &admin_url,
        "hub_digest_bench",
        options.keep,
        |database_url, data_dir| async move { run(&options, &database_url, &data_dir).await },
    )
    .await
}
