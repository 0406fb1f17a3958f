//! The errors an app sees: a small set it can act on.

use kefu_store::StoreError;
use kefu_sync::SyncError;

/// What went wrong, in a form the app can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KefuError {
    /// The server could not be reached or the connection broke: work on offline, retry later.
    #[error("network: {message}")]
    Network {
        /// What failed.
        message: String,
    },
    /// Not signed in, wrong password, or the sign-in expired or was revoked: sign in again.
    #[error("unauthorized: {message}")]
    Unauthorized {
        /// What the server or the store said.
        message: String,
    },
    /// The input breaks a rule; nothing was written. `field` names the input to correct.
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The field (or `record.field`) that is wrong.
        field: String,
        /// Every broken rule, in words.
        message: String,
    },
    /// The phone's storage failed (disk full, damaged file, a newer app's database).
    #[error("storage: {message}")]
    Storage {
        /// What failed.
        message: String,
    },
    /// Anything else (e.g. the record does not exist, the server answered with an error).
    #[error("{message}")]
    Other {
        /// What failed.
        message: String,
    },
}

impl KefuError {
    /// An invalid input about one field.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        KefuError::InvalidInput { field: field.to_string(), message: message.into() }
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        KefuError::Other { message: message.into() }
    }
}

impl From<StoreError> for KefuError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::Invalid(problems) => {
                // The field within its record (the message names the record too).
                let field = problems.first().map(|p| p.field.clone()).unwrap_or_default();
                KefuError::InvalidInput { field, message }
            }
            StoreError::NotAllowed(_) => KefuError::InvalidInput { field: "status".into(), message },
            StoreError::NoIdentity => KefuError::Unauthorized { message },
            StoreError::NotADatabase { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::CorruptDocument { .. }
            | StoreError::Sqlite(_) => KefuError::Storage { message },
            StoreError::NotFound(_) | StoreError::Document(_) => KefuError::Other { message },
        }
    }
}

impl From<SyncError> for KefuError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Network(message) => KefuError::Network { message },
            SyncError::Unauthorized => KefuError::Unauthorized { message: e.to_string() },
            SyncError::Server(message) => KefuError::Other { message },
            SyncError::Store(s) => s.into(),
        }
    }
}
