//! Consultations on proposed standards: the board writes and publishes
//! them, suppliers, experts and staff respond section by section, the board
//! decides on every comment and publishes "you said, we did".

pub mod analysis;
pub mod api;
pub mod authoring;
pub mod campaigns;
pub mod demo;
pub mod domain;
pub mod emails;
pub mod export;
pub mod import;
pub mod outcome;
pub mod pages;
pub mod responding;
