//! The `hub` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::auth::domain::{EmailAddress, Role};
use crate::auth::service;
use crate::email::transport::Mailer;
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
    /// Print the OpenAPI document of the JSON API
    Openapi,
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
        Command::Openapi => Ok(()),
    }
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
