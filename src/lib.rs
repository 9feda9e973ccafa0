//! HealthTech Hub: the HealthTech Advisory Board's ideas hub and consultation platform.

pub mod api;
pub mod app_state;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod consultations;
pub mod db;
pub mod demo;
pub mod digests;
pub mod email;
pub mod error;
pub mod health;
#[cfg(test)]
pub(crate) mod hostile;
pub mod ideas;
pub mod idempotency;
pub mod markdown;
pub mod organisations;
pub mod pages;
pub mod pagination;
pub mod patient_data;
pub mod reports;
pub mod search;
pub mod settings;
pub mod startup;
pub mod status_history;
pub mod submissions;
pub mod telemetry;
pub mod text;
pub mod triage;
pub mod uk_time;
pub mod web;
