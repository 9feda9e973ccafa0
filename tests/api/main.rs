//! Integration tests: one binary, one file per capability. Each test gets
//! its own application on a free port with its own database: a fresh SQLite
//! file, or a fresh PostgreSQL database when HUB_TEST_DATABASE_URL is set.

mod accounts;
mod admin;
mod api_errors;
mod audit_trail;
mod cli;
mod consultations;
mod digests;
mod email;
mod health;
mod helpers;
mod ideas;
mod my_data;
mod organisations;
mod permissions;
mod rate_limits;
mod reports;
mod saved_searches;
mod search;
mod sign_in;
mod smtp_sink;
mod tags_links;
mod tokens;
mod triage;
mod xss_corpus;
