//! The board's workspace: the dashboard, the periodic report back to
//! government, and the audit trail of every item.

pub mod audit;
pub mod dashboard;
pub mod pages;
pub mod report;
