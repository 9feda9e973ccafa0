//! The board's workspace: the dashboard, the periodic report back to
//! government, and the audit trail of every item.

pub mod api;
pub mod audit;
pub mod board_api;
pub mod dashboard;
pub mod inbox;
pub mod inbox_pages;
pub mod inbox_params;
pub mod item_api;
pub mod item_pages;
pub mod links;
pub mod notes;
pub mod pages;
pub mod report;
pub mod tags;
