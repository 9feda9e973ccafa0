//! Logging set-up and the request id that ties log lines and audit events together.

use tracing_subscriber::EnvFilter;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Structured logs to stderr. `RUST_LOG` is respected; sqlx's per-query INFO
/// lines are quietened by default. JSON lines when stderr is not a terminal
/// (under a process supervisor), readable text when it is.
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // Already initialised (several applications in one test process) is fine.
    drop(result);
}

pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}
