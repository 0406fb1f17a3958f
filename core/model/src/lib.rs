//! Kefu's records: the documents of a customer-service department (客服部) as automerge
//! CRDTs, with validation, merge-safe lifecycles, conflicts and history.
//!
//! This crate does no I/O: time and randomness come in as arguments, so phone and server run
//! the same code and tests are deterministic. Storage lives in `kefu-store`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod dates;
pub mod document;
pub mod enums;
pub mod ids;
pub mod lifecycle;
pub mod records;
pub mod validate;
pub mod verbs;

pub use automerge;
pub use document::{Author, Conflict, DocError, HistoryEntry, KefuDoc};
pub use enums::DocKind;
pub use ids::DocumentId;
pub use records::Record;
pub use validate::{Problems, ValidationError};
