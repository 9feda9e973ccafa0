//! The `hub` command line.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::auth::domain::{EmailAddress, Role};
use crate::auth::service;
use crate::digests::schedule::{self, Mode, Outcome};
use crate::email::transport::Mailer;
use crate::organisations::import;
use crate::settings::Settings;
use crate::startup::{Application, shutdown_signal};
use crate::{db, demo};

#[derive(Debug, Parser)]
#[command(
    name = "hub",
    version,
    about = "HealthTech Hub: the HealthTech Advisory Board's ideas hub and consultation platform"
)]
pub struct Cli {
    /// Settings file (default: ./hub.toml when it exists). HUB_* variables override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run pending migrations, then serve pages and the API and run the background workers
    Serve {
        /// Add demonstration accounts so a newcomer can explore
        #[arg(long)]
        demo: bool,
    },
    /// Run pending database migrations and exit
    Migrate,
    /// Manage accounts
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage API tokens
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Manage the organisation register
    Organisations {
        #[command(subcommand)]
        command: OrganisationsCommand,
    },
    /// Work with consultations
    Consultations {
        #[command(subcommand)]
        command: ConsultationsCommand,
    },
    /// Print the board's report to the Secretary of State for one month (UK time)
    Report {
        /// The month, for example 2026-10 (default: last month)
        #[arg(long)]
        period: Option<String>,
        /// markdown or html
        #[arg(long, default_value = "markdown", value_parser = ["markdown", "html"])]
        format: String,
    },
    /// Board members' email digests
    Digests {
        #[command(subcommand)]
        command: DigestsCommand,
    },
    /// Rebuild the search index from the database, with progress. A running service keeps
    /// answering from the old index and switches to the new one when it is ready
    Reindex,
    /// Print the OpenAPI document of the JSON API
    Openapi,
}

#[derive(Debug, Subcommand)]
pub enum OrganisationsCommand {
    /// Import organisations from an NHS ODS CSV file (such as etr.csv, NHS trusts), with progress
    Import {
        /// The CSV file: an ODS download (no header row) or a CSV whose header names ods_code and name
        file: PathBuf,
        /// What the file lists: trust, icb, gp, acute, mental_health, community, ambulance, supplier or other
        #[arg(long, default_value = import::DEFAULT_KIND, value_parser = kind_arg)]
        kind: &'static str,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConsultationsCommand {
    /// Import responses collected elsewhere from a CSV file, with progress. Good rows are
    /// imported; bad rows change nothing and are listed with their reasons. The columns are
    /// described in docs/consultations.md
    ImportResponses {
        /// The consultation's short name (as in /consultations/SHORT-NAME)
        #[arg(long)]
        consultation: String,
        file: PathBuf,
    },
}

fn kind_arg(raw: &str) -> Result<&'static str, String> {
    import::parse_kind(raw).ok_or_else(|| {
        let kinds: Vec<&str> = import::KINDS.iter().map(|(value, _)| *value).collect();
        format!("must be one of: {}", kinds.join(", "))
    })
}

#[derive(Debug, Subcommand)]
pub enum DigestsCommand {
    /// Send each board member's digest now, as this period's (a digest already sent this
    /// period is not sent again; nothing is sent when nothing is new; unsubscribed board
    /// members get none)
    Send {
        /// Only this board member
        #[arg(long)]
        user: Option<String>,
        /// Print what would be sent and send nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an account, or update its role and name (how the first admin is made)
    Add {
        #[arg(long)]
        email: String,
        /// contributor, board or admin
        #[arg(long, value_parser = ["contributor", "board", "admin"])]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for an existing account and print it once
    Create {
        #[arg(long)]
        email: String,
        /// What the token is for
        #[arg(long)]
        name: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Openapi = cli.command {
        println!("{}", crate::api::service().spec());
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve { demo: with_demo } => {
            let mailer = Mailer::from_settings(&settings)?;
            tracing::info!(settings = ?settings, email = %mailer.describe(), "starting");
            let app = Application::build(settings, mailer).await?;
            if with_demo {
                demo::seed(app.state()).await?;
            }
            app.run_until(shutdown_signal()).await
        }
        Command::Migrate => {
            let conn = db::connect(&settings)
                .await
                .context("cannot connect to the database")?;
            Migrator::up(&conn, None)
                .await
                .context("migrations failed")?;
            println!("Migrations are up to date.");
            Ok(())
        }
        Command::Users {
            command: UsersCommand::Add { email, role, name },
        } => {
            let email = EmailAddress::parse(&email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
            let role = Role::parse(&role).context("--role must be contributor, board or admin")?;
            let conn = migrated(&settings).await?;
            let user = service::upsert_user(&conn, &email, role, name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{} is now {} ({}).", user.email, role.label(), user.id);
            Ok(())
        }
        Command::Tokens {
            command: TokensCommand::Create { email, name },
        } => {
            let email = EmailAddress::parse(&email).map_err(|m| anyhow::anyhow!("--email: {m}"))?;
            let conn = migrated(&settings).await?;
            let user = service::find_user_by_email(&conn, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .with_context(|| {
                    format!("no account for {email}: create it first with `hub users add`")
                })?;
            let created = service::create_api_token(&conn, &user, &name)
                .await
                .map_err(|e| match e {
                    crate::error::AppError::Validation(errors) => {
                        anyhow::anyhow!(
                            "--name: {}",
                            errors
                                .first()
                                .map(|e| e.message.as_str())
                                .unwrap_or("invalid")
                        )
                    }
                    other => anyhow::anyhow!("{other}"),
                })?;
            eprintln!(
                "API token {:?} for {}. It is shown once: store it now.",
                created.record.name, user.email
            );
            println!("{}", created.token);
            Ok(())
        }
        Command::Organisations {
            command: OrganisationsCommand::Import { file, kind },
        } => {
            let conn = migrated(&settings).await?;
            import_organisations(&conn, &file, kind).await
        }
        Command::Consultations {
            command: ConsultationsCommand::ImportResponses { consultation, file },
        } => {
            let conn = migrated(&settings).await?;
            import_responses(&conn, &consultation, &file).await
        }
        Command::Report { period, format } => {
            use crate::triage::report::{self, Period};
            let conn = migrated(&settings).await?;
            let period = match period {
                Some(raw) => Period::parse(&raw).map_err(|_| {
                    anyhow::anyhow!("--period must be a month such as 2026-10, not {raw}")
                })?,
                None => Period::previous(chrono::Utc::now()),
            };
            let built = report::build(&conn, period).await?;
            let text = if format == "html" {
                crate::triage::pages::html_document(&built)?
            } else {
                report::markdown(&built)
            };
            print!("{text}");
            Ok(())
        }
        Command::Digests {
            command: DigestsCommand::Send { user, dry_run },
        } => send_digests(settings, user.as_deref(), dry_run).await,
        Command::Reindex => {
            let conn = migrated(&settings).await?;
            let dir = settings.data_dir.join("search");
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {human_pos}/{human_len} items, {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let total = crate::search::store::rebuild_generation(&dir, &conn, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            println!("Indexed {total} items into {}.", dir.display());
            Ok(())
        }
        Command::Openapi => Ok(()),
    }
}

/// Runs an import in this process, with a progress bar on stderr (when it
/// is a terminal), then prints the counts and the rejected rows.
async fn import_organisations(
    conn: &sea_orm::DatabaseConnection,
    file: &Path,
    kind: &'static str,
) -> anyhow::Result<()> {
    let shown = file.display();
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if usize::try_from(size).map_or(true, |size| size > import::MAX_FILE_BYTES) {
        anyhow::bail!("{shown}: {}", import::FileProblem::TooLarge);
    }
    let bytes = tokio::fs::read(file)
        .await
        .with_context(|| format!("cannot read {shown}"))?;
    let (source, parsed) = import::prepare(&bytes, kind)
        .await
        .map_err(|problem| anyhow::anyhow!("{shown}: {problem}"))?;
    let file_name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let new = import::NewImport {
        created_by: None,
        file_name: &file_name,
        kind,
        source,
    };
    let started = import::create(conn, new, &parsed, import::Start::Now, None).await?;
    let bar = indicatif::ProgressBar::new(u64::try_from(started.total_rows).unwrap_or(0));
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} rows, {eta} left")
    {
        bar.set_style(style);
    }
    let finished = import::run_started(conn, started, |progress| {
        bar.set_position(u64::try_from(progress.processed_rows).unwrap_or(0));
    })
    .await?;
    bar.finish_and_clear();
    let finished = finished
        .context("another hub process took this import over; see it on the Organisations page")?;
    println!(
        "{}: {} rows, {} created, {} updated, {} rejected.",
        finished.file_name,
        finished.total_rows,
        finished.created_count,
        finished.updated_count,
        finished.rejected_count
    );
    let report = import::Report::of(&finished);
    if !report.rows.is_empty() {
        println!("Rejected rows:");
        for row in &report.rows {
            println!(
                "  line {}: {:?} {:?}: {}",
                row.line, row.ods_code, row.name, row.reason
            );
        }
        let not_listed = usize::try_from(finished.rejected_count)
            .unwrap_or(0)
            .saturating_sub(report.rows.len());
        if not_listed > 0 {
            println!("  and {not_listed} more.");
        }
    }
    match finished.error {
        Some(error) => anyhow::bail!("{error}"),
        None => Ok(()),
    }
}

/// Imports consultation responses with a progress bar on stderr, then
/// prints the counts and every rejected row with its reasons.
async fn import_responses(
    conn: &sea_orm::DatabaseConnection,
    slug: &str,
    file: &Path,
) -> anyhow::Result<()> {
    use crate::consultations::{authoring, import as responses};
    let shown = file.display();
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if usize::try_from(size).map_or(true, |size| size > responses::MAX_FILE_BYTES) {
        anyhow::bail!("{shown} is larger than {} bytes", responses::MAX_FILE_BYTES);
    }
    let text = tokio::fs::read_to_string(file)
        .await
        .with_context(|| format!("cannot read {shown} as UTF-8 text"))?;
    let found = authoring::find_by_slug(conn, slug)
        .await
        .map_err(|_| anyhow::anyhow!("there is no consultation with the short name {slug}"))?;
    let view = authoring::view(conn, found, None).await?;
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {human_pos}/{human_len} responses, {eta} left",
    ) {
        bar.set_style(style);
    }
    let report = responses::import(conn, None, &view, &text, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await
    .map_err(|err| match err {
        crate::error::AppError::Validation(problems) => anyhow::anyhow!(
            "{shown}: {}",
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    })?;
    bar.finish_and_clear();
    println!(
        "{shown}: {} rows, {} imported, {} rejected.",
        report.rows,
        report.imported,
        report.rejected.len()
    );
    if !report.rejected.is_empty() {
        println!("Rejected rows (nothing from them was imported):");
        for row in &report.rejected {
            println!("  line {}: {}", row.line, row.reasons.join("; "));
        }
    }
    Ok(())
}

async fn migrated(settings: &Settings) -> anyhow::Result<sea_orm::DatabaseConnection> {
    let conn = db::connect(settings)
        .await
        .context("cannot connect to the database")?;
    Migrator::up(&conn, None)
        .await
        .context("migrations failed")?;
    Ok(conn)
}

/// `hub digests send`: enqueues (or previews) digests in this process, then
/// sends what is due in the outbox (its digests among it), as the service's
/// worker would.
async fn send_digests(settings: Settings, only: Option<&str>, dry_run: bool) -> anyhow::Result<()> {
    let mailer = Mailer::from_settings(&settings)?;
    let state = crate::startup::command_state(settings).await?;
    let mut people = crate::triage::inbox::assignable(&state.db).await?;
    if let Some(raw) = only {
        let email = EmailAddress::parse(raw).map_err(|m| anyhow::anyhow!("--user: {m}"))?;
        people.retain(|u| u.email == email.as_str());
        anyhow::ensure!(
            !people.is_empty(),
            "--user: {email} is not a board member or admin"
        );
    }
    let mode = if dry_run { Mode::DryRun } else { Mode::Now };
    let now = chrono::Utc::now();
    let mut sent = 0;
    for person in &people {
        let outcome = schedule::send_one(&state, person, now, mode)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", person.email))?;
        match outcome {
            Outcome::Preview {
                period,
                digest,
                rendered,
            } => {
                if digest.has_news() {
                    println!(
                        "To: {}\nPeriod: {period}\nSubject: {}\n\n{}",
                        person.email, rendered.subject, rendered.text
                    );
                } else {
                    println!(
                        "{}: nothing new, nothing would be sent ({period}).\n",
                        person.email
                    );
                }
            }
            Outcome::Sent { period, rendered } => {
                sent += 1;
                println!(
                    "{}: sent \"{}\" ({period}).",
                    person.email, rendered.subject
                );
            }
            Outcome::NothingNew { period } => {
                println!("{}: nothing new, nothing sent ({period}).", person.email)
            }
            Outcome::AlreadySent { period } => {
                println!(
                    "{}: this period's digest was already sent ({period}).",
                    person.email
                )
            }
            Outcome::NotDue => println!("{}: digests are off.", person.email),
        }
    }
    if sent > 0 {
        // Sends what is due now; anything that fails is retried by the service's worker.
        while crate::email::worker::send_due(&state, &mailer).await? > 0 {}
        let pending = entity::email_outbox::Entity::find()
            .filter(entity::email_outbox::Column::Status.eq("pending"))
            .filter(entity::email_outbox::Column::IdempotencyKey.starts_with("digest:"))
            .count(&state.db)
            .await?;
        if pending > 0 {
            eprintln!(
                "{pending} digests could not be sent yet: the service's email worker retries them."
            );
        }
    }
    Ok(())
}
