//! Server errors: a rich internal error, and what an HTTP client is told.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Everything that can go wrong inside the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Bad configuration or data directory.
    #[error("{0}")]
    Config(String),
    /// SQLite failed.
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Wrong username or password, or an unusable token.
    #[error("unauthorized")]
    Unauthorized,
    /// The request is malformed; the text says what to fix.
    #[error("{0}")]
    BadRequest(String),
    /// No such thing (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The request body is larger than allowed; the text says the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The request does not fit the current state (e.g. an upload offset that is not where
    /// the upload stands); the text says what is expected.
    #[error("{0}")]
    Conflict(String),
    /// A byte range outside the resource.
    #[error("{0}")]
    RangeNotSatisfiable(String),
    /// The media type cannot be served this way (415).
    #[error("{0}")]
    Unsupported(String),
    /// A background task failed.
    #[error("internal: {0}")]
    Internal(String),
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ServerError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "invalid username, password or token".to_string())
            }
            ServerError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ServerError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ServerError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ServerError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            ServerError::Conflict(m) => (StatusCode::CONFLICT, m.clone()),
            ServerError::RangeNotSatisfiable(m) => (StatusCode::RANGE_NOT_SATISFIABLE, m.clone()),
            ServerError::Unsupported(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone()),
            // Internals (paths, SQL) are logged, never sent.
            other => {
                tracing::error!(error = %other, "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".to_string())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
