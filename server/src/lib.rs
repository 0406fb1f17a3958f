//! Kefu's server. This build has accounts, devices, tokens and the HTTP skeleton (health and
//! sign-in); the sync endpoint, acceptance pipeline and supervisor API follow (issues 3 and 4).

pub mod accept;
pub mod access;
pub mod auth;
pub mod db;
pub mod error;
pub mod http;

pub use error::ServerError;
pub use http::{app, AppState};
