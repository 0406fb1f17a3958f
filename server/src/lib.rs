//! Kefu's server: accounts and devices, the automerge-repo sync endpoint with its acceptance
//! pipeline and projection, metrics. The supervisor dashboard follows (issue 4).

pub mod accept;
pub mod access;
pub mod auth;
pub mod backup;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod hub;
pub mod metrics;
pub mod sync;

pub use error::ServerError;
pub use http::{app, AppState};
