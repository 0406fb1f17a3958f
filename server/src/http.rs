//! HTTP routes. `app(state)` builds the router so tests can drive it without a socket.

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::{self, LoginResponse};
use crate::db::Db;
use crate::error::ServerError;

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
}

/// The router.
pub fn app(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/api/v1/login", post(login)).with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
    device_name: String,
}

async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<LoginResponse>), ServerError> {
    let Json(req) = body.map_err(|e| {
        ServerError::BadRequest(format!(
            "expected JSON {{username, password, device_name}}: {}",
            e.body_text()
        ))
    })?;
    let db = state.db.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<LoginResponse, ServerError> {
        // The slow hash check runs without holding the database.
        let found = auth::find_login(&db.lock(), req.username.trim())?;
        let Some((user_id, role, hash)) = found else {
            auth::burn_time(&req.password);
            return Err(ServerError::Unauthorized);
        };
        if !auth::password_matches(&hash, &req.password) {
            return Err(ServerError::Unauthorized);
        }
        auth::issue_token(&db.lock(), &user_id, &role, &req.device_name)
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))??;
    Ok((StatusCode::OK, Json(res)))
}
