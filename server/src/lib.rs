//! Kefu's server: accounts and devices, the automerge-repo sync endpoint with its acceptance
//! pipeline and projection, metrics, and the supervisor dashboard (`web`) with its JSON API.

pub mod accept;
pub mod access;
pub mod api;
pub mod api_work;
pub mod attachments;
pub mod auth;
pub mod backup;
pub mod db;
pub mod demo;
pub mod edit;
pub mod error;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod sync;
pub mod web;

pub use error::ServerError;
pub use http::{app, AppState};
