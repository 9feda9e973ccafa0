//! SeaORM entities: one file per table. Times are UTC; ids are UUIDv7 except
//! where a table needs a gap-free ordering (the change log's sequence).

pub mod api_tokens;
pub mod audit_events;
pub mod change_log;
pub mod email_outbox;
pub mod idempotency_keys;
pub mod login_tokens;
pub mod organisations;
pub mod rate_limits;
pub mod server_keys;
pub mod sessions;
pub mod users;
