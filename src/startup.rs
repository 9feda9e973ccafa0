//! Builds the application: database, migrations, routes, listener and workers.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use entity::server_keys;
use migration::{Migrator, MigratorTrait};
use poem::endpoint::StaticFilesEndpoint;
use poem::listener::TcpAcceptor;
use poem::{Endpoint, EndpointExt, Route, Server, get, post};
use sea_orm::sea_query::OnConflict;
use sea_orm::{DatabaseConnection, EntityTrait, Set};
use tokio::sync::watch;

use crate::api::allow::AllowedMethods;
use crate::api::body_types::RequestBodies;
use crate::app_state::AppState;
use crate::auth::crypto::ServerKey;
use crate::auth::pages as auth_pages;
use crate::email::transport::Mailer;
use crate::ideas::pages as idea_pages;
use crate::reports::pages as report_pages;
use crate::settings::Settings;
use crate::submissions::pages as submission_pages;
use crate::web::headers;
use crate::web::pipeline::Pipeline;
use crate::{api, db, health, organisations, pages};

pub struct Application {
    state: AppState,
    acceptor: TcpAcceptor,
    mailer: Mailer,
    port: u16,
}

impl Application {
    /// Connects, migrates, seeds the register and binds the listener (port 0
    /// picks a free port, which tests use).
    pub async fn build(settings: Settings, mailer: Mailer) -> anyhow::Result<Self> {
        let (db, key) = prepare(&settings).await?;
        if !settings.assets_dir.join("nhsuk").exists() {
            tracing::warn!(dir = %settings.assets_dir.display(), "front-end assets are missing: run `npm run build` in frontend/");
        }
        let mut settings = settings;
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let port = listener.local_addr()?.port();
        // Listening on port 0 picks a free port: links in emails must name it.
        if settings.public_url.port() == Some(0) {
            let _ = settings.public_url.set_port(Some(port));
        }
        let acceptor = TcpAcceptor::from_tokio(listener)?;
        let search = crate::search::store::Search::open(&settings.data_dir.join("search"))?;
        let state = AppState::new(db, settings, key, std::sync::Arc::new(search));
        Ok(Self {
            state,
            acceptor,
            mailer,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// and stops the workers cleanly.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Resumes organisation imports that a stopped process left running.
        let imports = tokio::spawn(organisations::import::worker(
            self.state.db.clone(),
            stop_rx.clone(),
        ));
        let indexer = tokio::spawn(crate::search::indexer::run(
            self.state.clone(),
            stop_rx.clone(),
        ));
        let digests = self.state.settings.digests.then(|| {
            tokio::spawn(crate::digests::schedule::run(
                self.state.clone(),
                stop_rx.clone(),
            ))
        });
        let worker = tokio::spawn(crate::email::worker::run(
            self.state.clone(),
            self.mailer,
            stop_rx,
        ));
        let app = routes(self.state.clone());
        tracing::info!(port = self.port, "HealthTech Hub is listening");
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, shutdown, Some(Duration::from_secs(30)))
            .await;
        let _ = stop_tx.send(true);
        let _ = worker.await;
        if let Some(digests) = digests {
            let _ = digests.await;
        }
        let _ = imports.await;
        let _ = indexer.await;
        tracing::info!("HealthTech Hub stopped");
        served.context("the web server failed")
    }
}

/// Connects, migrates, seeds the register and the themes, and loads the
/// shared key: what the service and the commands that act like it need.
async fn prepare(settings: &Settings) -> anyhow::Result<(DatabaseConnection, ServerKey)> {
    let db = db::connect(settings).await.with_context(|| {
        format!(
            "cannot connect to the database {}",
            crate::settings::redact_url(&settings.database_url)
        )
    })?;
    Migrator::up(&db, None)
        .await
        .context("database migrations failed")?;
    organisations::seed(&db)
        .await
        .context("seeding the organisation register failed")?;
    crate::ideas::themes::seed(&db)
        .await
        .context("seeding the themes failed")?;
    let key = server_key(&db).await?;
    Ok((db, key))
}

/// The service's state for a command run next to `hub serve`: the same
/// database and key, and the search index opened for reading only (the
/// service writes it; without one running, it is opened as the service would).
pub async fn command_state(settings: Settings) -> anyhow::Result<AppState> {
    let (db, key) = prepare(&settings).await?;
    let dir = settings.data_dir.join("search");
    let state = match crate::search::store::Search::open(&dir) {
        Ok(search) => {
            // No service holds it: bring it up to date as the service would.
            let state = AppState::new(db, settings, key, std::sync::Arc::new(search));
            let index = state.search.current();
            if state.search.needs_fill() {
                crate::search::indexer::fill(&state.db, &index).await?;
                state.search.filled();
            }
            crate::search::indexer::catch_up(&state.db, &index).await?;
            state
        }
        Err(_) => {
            let search = crate::search::store::Search::open_read_only(&dir)?;
            AppState::new(db, settings, key, std::sync::Arc::new(search))
        }
    };
    Ok(state)
}

/// The HMAC key, created once and shared through the database by every replica.
async fn server_key(db: &DatabaseConnection) -> anyhow::Result<ServerKey> {
    const NAME: &str = "hmac";
    let now = Utc::now();
    server_keys::Entity::insert(server_keys::ActiveModel {
        name: Set(NAME.to_owned()),
        value: Set(ServerKey::generate_encoded()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(server_keys::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let stored = server_keys::Entity::find_by_id(NAME.to_owned())
        .one(db)
        .await?
        .context("server key missing")?;
    ServerKey::from_encoded(&stored.value).context("the stored server key is malformed")
}

pub fn routes(state: AppState) -> impl Endpoint {
    let api = api::service();
    let docs_csp = docs_csp(&api.swagger_ui_html());
    let spec: serde_json::Value = serde_json::from_str(&api.spec()).unwrap_or_default();
    let api_methods = AllowedMethods::from_spec(&spec, "/api");
    let api_bodies = Arc::new(RequestBodies::from_spec(&spec, "/api"));
    crate::consultations::pages::routes(Route::new())
        .at("/", get(pages::home))
        .at("/ideas", get(idea_pages::list))
        .at(
            "/ideas/new",
            get(idea_pages::new_form).post(idea_pages::new_submit),
        )
        .at("/ideas/:id", get(idea_pages::show))
        .at("/ideas/:id/support", post(idea_pages::support_submit))
        .at(
            "/ideas/:id/support/withdraw",
            post(idea_pages::withdraw_submit),
        )
        .at("/ideas/:id/comments", post(idea_pages::comment_submit))
        .at(
            "/ideas/:id/status",
            get(idea_pages::status_form).post(idea_pages::status_submit),
        )
        .at(
            "/comments/:id/edit",
            get(idea_pages::comment_edit_form).post(idea_pages::comment_edit_submit),
        )
        .at(
            "/comments/:id/hide",
            get(idea_pages::comment_hide_form).post(idea_pages::comment_hide_submit),
        )
        .at(
            "/board/themes",
            get(idea_pages::themes).post(idea_pages::theme_create),
        )
        .at("/board/themes/:id", post(idea_pages::theme_update))
        .at(
            "/board/dashboard",
            get(crate::triage::pages::dashboard_page),
        )
        .at("/board/inbox", get(crate::triage::inbox_pages::inbox_page))
        .at(
            "/board/inbox/assign",
            post(crate::triage::inbox_pages::inbox_assign),
        )
        .at(
            "/board/inbox/status",
            post(crate::triage::inbox_pages::inbox_status),
        )
        .at(
            "/board/inbox/tag",
            post(crate::triage::inbox_pages::inbox_tag),
        )
        .at(
            "/board/items/:kind/:id",
            get(crate::triage::item_pages::show),
        )
        .at(
            "/board/items/:kind/:id/tags",
            post(crate::triage::item_pages::add_tag),
        )
        .at(
            "/board/items/:kind/:id/tags/remove",
            post(crate::triage::item_pages::remove_tag),
        )
        .at(
            "/board/items/:kind/:id/links",
            post(crate::triage::item_pages::add_link),
        )
        .at(
            "/board/items/:kind/:id/links/remove",
            post(crate::triage::item_pages::remove_link),
        )
        .at(
            "/board/notes/:kind/:id",
            get(crate::triage::inbox_pages::notes_form)
                .post(crate::triage::inbox_pages::notes_submit),
        )
        .at(
            "/board/digest",
            get(crate::digests::pages::settings_form).post(crate::digests::pages::settings_submit),
        )
        .at("/board/digest/preview", get(crate::digests::pages::preview))
        .at(
            "/digests/unsubscribe",
            get(crate::digests::pages::unsubscribe_form).post(crate::digests::pages::unsubscribe),
        )
        .at("/board/report", get(crate::triage::pages::report_page))
        .at(
            "/board/report.md",
            get(crate::triage::pages::report_markdown),
        )
        .at("/board/report.html", get(crate::triage::pages::report_html))
        .at(
            "/board/audit/:subject_type/:subject_id",
            get(crate::triage::pages::audit_page),
        )
        .at(
            "/board/audit/:subject_type/:subject_id/csv",
            get(crate::triage::pages::audit_csv),
        )
        .at("/reports", get(report_pages::list))
        .at(
            "/reports/new",
            get(report_pages::new_form).post(report_pages::new_submit),
        )
        .at("/reports/:id", get(report_pages::show))
        .at(
            "/reports/:id/status",
            get(report_pages::status_form).post(report_pages::status_submit),
        )
        .at("/my-submissions", get(submission_pages::mine))
        .at("/search", get(crate::search::pages::search))
        .at("/search/save", get(crate::search::saved::pages::save_form))
        .at(
            "/search/saved",
            get(crate::search::saved::pages::list).post(crate::search::saved::pages::save),
        )
        .at(
            "/search/saved/:id",
            get(crate::search::saved::pages::new_matches),
        )
        .at(
            "/search/saved/:id/seen",
            post(crate::search::saved::pages::mark_seen),
        )
        .at(
            "/search/saved/:id/notify",
            post(crate::search::saved::pages::set_notify),
        )
        .at(
            "/search/saved/:id/delete",
            post(crate::search::saved::pages::delete),
        )
        .at(
            "/sign-in",
            get(auth_pages::sign_in_form).post(auth_pages::sign_in_submit),
        )
        .at("/sign-in/check-email", get(auth_pages::check_email))
        .at(
            "/sign-in/link",
            get(auth_pages::link_form).post(auth_pages::link_submit),
        )
        .at("/sign-out", post(auth_pages::sign_out))
        .at("/signed-out", get(auth_pages::signed_out))
        .at(
            "/profile",
            get(auth_pages::profile_form).post(auth_pages::profile_submit),
        )
        .at("/account/data", get(crate::auth::my_data_pages::data))
        .at(
            "/account/delete",
            get(crate::auth::my_data_pages::delete_form).post(crate::auth::my_data_pages::delete),
        )
        .at("/account/deleted", get(crate::auth::my_data_pages::deleted))
        .at(
            "/account/tokens",
            get(auth_pages::tokens_list).post(auth_pages::tokens_create),
        )
        .at(
            "/account/tokens/:id/revoke",
            post(auth_pages::tokens_revoke),
        )
        .at("/admin/users", get(auth_pages::admin_users))
        .at("/admin/users/:id/role", post(auth_pages::admin_change_role))
        .at("/admin/emails", get(pages::failed_emails))
        .at("/admin/organisations", get(organisations::pages::register))
        .at(
            "/admin/organisations/imports",
            post(organisations::pages::start_import),
        )
        .at(
            "/admin/organisations/imports/:id",
            get(organisations::pages::progress),
        )
        .at(
            "/admin/organisations/imports/:id/rejected.csv",
            get(organisations::pages::rejected_csv),
        )
        .at("/accessibility", get(pages::accessibility))
        .at("/privacy", get(pages::privacy))
        .at("/problems/:slug", get(pages::problem))
        .at("/health/live", get(health::live))
        .at("/health/ready", get(health::ready))
        .nest(
            "/assets",
            StaticFilesEndpoint::new(state.settings.assets_dir.clone()),
        )
        .at("/api/v1/openapi.json", api.spec_endpoint())
        .nest("/api/docs", api.swagger_ui())
        .nest("/api", api)
        .with(Pipeline {
            state: state.clone(),
            page_csp: headers::page_csp(),
            docs_csp,
            api_methods,
            api_bodies,
        })
        .data(state)
}

/// The API docs page inlines its script and styles: allow exactly those by
/// hash rather than allowing inline code.
fn docs_csp(html: &str) -> String {
    let blocks = |tag: &str| -> Vec<String> {
        let open = format!("<{tag}");
        let close = format!("</{tag}>");
        html.match_indices(&open)
            .filter_map(|(start, _)| {
                let body_start = start + html[start..].find('>')? + 1;
                let body_end = body_start + html[body_start..].find(&close)?;
                let body = &html[body_start..body_end];
                (!body.trim().is_empty()).then(|| headers::script_hash(body))
            })
            .collect()
    };
    format!(
        "default-src 'self'; script-src 'self' {}; style-src 'self' {}; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        blocks("script").join(" "),
        blocks("style").join(" ")
    )
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
