//! Accounts, passwordless sign-in, sessions, API tokens, roles and the policy
//! that decides every permission.

pub mod api;
pub mod caller;
pub mod crypto;
pub mod domain;
pub mod my_data;
pub mod my_data_pages;
pub mod pages;
pub mod people;
pub mod policy;
pub mod rate_limit;
pub mod service;
