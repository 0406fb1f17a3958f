//! Kefu's offline store and client.
//!
//! The [`Client`] is the one object a phone app holds: it owns a SQLite database (WAL, one
//! writer connection) that stores every record as an automerge document (a compacted snapshot
//! plus incremental chunks), the sync metadata beside it, and index tables that list screens
//! read without opening documents. Every verb works offline and commits in one transaction.

pub mod client;
pub mod db;
pub mod error;
pub mod project;

pub use client::{
    AttachmentSource, BlobInfo, Client, Identity, NewCustomer, SyncStatus, Upload, UploadState, PIECE_BYTES,
};
pub use error::{Result, StoreError};
