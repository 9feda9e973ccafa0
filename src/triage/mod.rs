//! The board's workspace: the dashboard and the periodic report back to
//! government.

pub mod dashboard;
pub mod pages;
pub mod report;
