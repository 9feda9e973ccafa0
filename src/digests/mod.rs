//! Email digests for board members: what needs each of them, on their
//! schedule, exactly once. Settings, content, rendering, the scheduler,
//! the one-click unsubscribe, the settings page and the API.

pub mod api;
pub mod content;
pub mod pages;
pub mod render;
pub mod schedule;
pub mod settings;

/// What an unsubscribe link's signature is for.
pub const UNSUBSCRIBE_PURPOSE: &str = "digest-unsubscribe";
