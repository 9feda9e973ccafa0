//! What every HTTP request goes through, and what every page shares.

pub mod body;
pub mod chart;
pub mod cookies;
pub mod csrf;
pub mod forms;
pub mod headers;
pub mod page;
pub mod pipeline;
