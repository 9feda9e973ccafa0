//! The state every handler and worker shares.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::auth::crypto::ServerKey;
use crate::search::store::Search;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    /// The pool: SQLite or PostgreSQL.
    pub db: DatabaseConnection,
    pub settings: Settings,
    /// HMAC key for CSRF tokens and signed links, shared by replicas via the database.
    pub key: ServerKey,
    /// Wakes the email worker as soon as something is enqueued here, so a
    /// sign-in link does not wait for the next poll.
    pub outbox_ready: Notify,
    /// The search index under the data dir, kept current from the change log.
    pub search: Arc<Search>,
}

impl AppState {
    pub fn new(
        db: DatabaseConnection,
        settings: Settings,
        key: ServerKey,
        search: Arc<Search>,
    ) -> Self {
        Self(Arc::new(Inner {
            db,
            settings,
            key,
            outbox_ready: Notify::new(),
            search,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
