//! Reports of places where best practice is not being followed: systems
//! that don't talk to each other, crash, are insecure or unusable. Only
//! board members and the reporter see a report.

pub mod api;
pub mod domain;
pub mod pages;
pub mod service;
