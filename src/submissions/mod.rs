//! "My submissions": a person's ideas, reports and comments with their statuses.

pub mod api;
pub mod pages;
pub mod service;
