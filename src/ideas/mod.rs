//! The ideas hub: NHS staff submit ideas, others support and discuss them,
//! the board moves them through a public status workflow.

pub mod api;
pub mod domain;
pub mod merge;
pub mod pages;
pub mod service;
pub mod themes;
