//! SeaORM entities: one file per table. Times are UTC; ids are UUIDv7 except
//! where a table needs a gap-free ordering (the change log's sequence).

pub mod api_tokens;
pub mod audit_events;
pub mod change_log;
pub mod comments;
pub mod consultation_answers;
pub mod consultation_questions;
pub mod consultation_responses;
pub mod consultation_versions;
pub mod consultations;
pub mod digest_subscriptions;
pub mod email_outbox;
pub mod idea_supports;
pub mod idea_themes;
pub mod ideas;
pub mod idempotency_keys;
pub mod item_links;
pub mod item_tags;
pub mod item_themes;
pub mod login_tokens;
pub mod organisation_imports;
pub mod organisations;
pub mod rate_limits;
pub mod reports;
pub mod saved_searches;
pub mod section_comments;
pub mod server_keys;
pub mod sessions;
pub mod status_changes;
pub mod tags;
pub mod themes;
pub mod users;
