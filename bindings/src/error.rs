//! The errors an app sees: a small set it can act on.

use kefu_store::StoreError;
use kefu_sync::SyncError;

/// What went wrong, in a form the app can act on. (The text field is `detail`, not `message`:
/// uniffi's Kotlin exceptions would clash with `Throwable.message`.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KefuError {
    /// The server could not be reached or the connection broke: work on offline, retry later.
    #[error("network: {detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// Not signed in, wrong password, or the sign-in expired or was revoked: sign in again.
    #[error("unauthorized: {detail}")]
    Unauthorized {
        /// What the server or the store said.
        detail: String,
    },
    /// The input breaks a rule; nothing was written. `field` names the input to correct.
    #[error("invalid {field}: {detail}")]
    InvalidInput {
        /// The field (or `record.field`) that is wrong.
        field: String,
        /// Every broken rule, in words.
        detail: String,
    },
    /// The phone's storage failed (disk full, damaged file, a newer app's database).
    #[error("storage: {detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// Anything else (e.g. the record does not exist, the server answered with an error).
    #[error("{detail}")]
    Other {
        /// What failed.
        detail: String,
    },
}

impl KefuError {
    /// An invalid input about one field.
    pub(crate) fn invalid(field: &str, message: impl Into<String>) -> Self {
        KefuError::InvalidInput { field: field.to_string(), detail: message.into() }
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        KefuError::Other { detail: message.into() }
    }
}

impl From<StoreError> for KefuError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::Invalid(problems) => {
                // The field within its record (the message names the record too).
                let field = problems.first().map(|p| p.field.clone()).unwrap_or_default();
                KefuError::InvalidInput { field, detail: message }
            }
            StoreError::NotAllowed(_) => KefuError::InvalidInput { field: "status".into(), detail: message },
            StoreError::NoIdentity => KefuError::Unauthorized { detail: message },
            StoreError::File { .. } => KefuError::InvalidInput { field: "file".into(), detail: message },
            StoreError::NotADatabase { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::CorruptDocument { .. }
            | StoreError::Sqlite(_) => KefuError::Storage { detail: message },
            StoreError::NotFound(_) | StoreError::Document(_) => KefuError::Other { detail: message },
        }
    }
}

impl From<SyncError> for KefuError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Network(message) => KefuError::Network { detail: message },
            SyncError::Unauthorized => KefuError::Unauthorized { detail: e.to_string() },
            SyncError::Server(message) => KefuError::Other { detail: message },
            SyncError::Store(s) => s.into(),
        }
    }
}
