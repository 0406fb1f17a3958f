//! Errors of the store and client.

use std::path::PathBuf;

use kefu_model::{DocError, ValidationError};

/// Everything that can go wrong in the store. Each variant says what the caller can do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not a Kefu database (or not SQLite at all). It was not touched.
    #[error("{path} is not a Kefu database (left untouched): {detail}")]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// The database was written by a newer version of Kefu.
    #[error("the database has schema version {found}; this build knows up to {known}")]
    NewerSchema {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// No document with this id is stored.
    #[error("no such record: {0}")]
    NotFound(String),
    /// The stored bytes of one document cannot be loaded; other records are unaffected.
    #[error("record {doc_id} is damaged and cannot be opened: {detail}")]
    CorruptDocument {
        /// The document.
        doc_id: String,
        /// What failed.
        detail: String,
    },
    /// The edit breaks a rule; nothing was written.
    #[error("invalid: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    /// A lifecycle step that is not allowed now; nothing was written.
    #[error("{0}")]
    NotAllowed(String),
    /// The client has no signed-in identity yet.
    #[error("no user is set on this device")]
    NoIdentity,
    /// A file to attach could not be read; nothing was attached.
    #[error("cannot read {path}: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What the system said.
        detail: String,
    },
    /// SQLite failed.
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Another document-level failure.
    #[error("document: {0}")]
    Document(String),
}

impl From<DocError> for StoreError {
    fn from(e: DocError) -> Self {
        match e {
            DocError::Invalid(p) => StoreError::Invalid(p.0),
            DocError::IllegalStep(s) => StoreError::NotAllowed(s.to_string()),
            DocError::NotFound(what) => StoreError::NotFound(what),
            other => StoreError::Document(other.to_string()),
        }
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
