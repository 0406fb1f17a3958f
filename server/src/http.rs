//! HTTP routes. `app(state)` builds the router so tests can drive it without a socket.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use kefu_model::enums::Role;
use rusqlite::params;
use serde::{Deserialize, Serialize};
use utoipa_axum::routes;

use crate::access::{access, Access, DocMeta};
use crate::api::blocking;
use crate::auth::{self, LoginResponse, Principal};
use crate::db::Db;
use crate::error::ServerError;
use crate::metrics::Gauges;
use crate::sync::{self, Limits, SyncShared};

/// Shared state of the HTTP handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Live sync connections, the document cache and counters.
    pub sync: Arc<SyncShared>,
    /// Attachment size limit and retention.
    pub attachments: crate::attachments::AttachmentLimits,
}

impl AppState {
    /// State for a server on `db` with these limits.
    pub fn new(db: Db, limits: Limits) -> AppState {
        let sync = Arc::new(SyncShared::new(db.storage_id(), limits));
        AppState { db, sync, attachments: Default::default() }
    }

    /// The same state with these attachment limits.
    pub fn with_attachment_limits(mut self, limits: crate::attachments::AttachmentLimits) -> AppState {
        self.attachments = limits;
        self
    }
}

/// The router: sync, the JSON API (with its generated OpenAPI document), the dashboard.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = crate::api::router()
        .routes(routes!(login))
        .routes(routes!(manifest))
        .routes(routes!(devices))
        .routes(routes!(revoke_device))
        .routes(routes!(disable_user))
        .split_for_parts();
    let openapi = Arc::new(openapi);
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/sync", get(sync::handler))
        .route("/api/v1/openapi.json", get(move || async move { Json(openapi.as_ref().clone()) }))
        .merge(api)
        .merge(crate::web::routes())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Sign-in request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LoginRequest {
    username: String,
    password: String,
    device_name: String,
}

/// Signs in and registers a device; returns a bearer token (shown once).
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest, security(()),
    responses((status = 200, body = LoginResponse), (status = 400, body = crate::api::ApiError), (status = 401, body = crate::api::ApiError)))]
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
    let res = blocking(move || {
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
    .await?;
    Ok((StatusCode::OK, Json(res)))
}

/// One entry of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ManifestEntry {
    /// Document id (base58check, no `automerge:` prefix).
    pub document_id: String,
    /// Kind.
    pub kind: String,
    /// `read` or `write`.
    pub access: String,
    /// Current heads, hex change hashes.
    pub heads: Vec<String>,
}

/// The documents `p` may hold, with their heads.
pub fn manifest_for(conn: &rusqlite::Connection, p: &Principal) -> Result<Vec<ManifestEntry>, ServerError> {
    if p.role == Role::Admin {
        return Ok(Vec::new());
    }
    let team = p.team.clone().unwrap_or_default();
    // Narrowed in SQL by team (and, for phones, by the rows that can concern them); the
    // access function decides.
    let sql = if p.role == Role::Supervisor {
        "SELECT doc_id, kind, team, agent, field_staff, staff, heads FROM documents WHERE team = ?1 AND ?2 = ?2 ORDER BY doc_id"
    } else {
        "SELECT doc_id, kind, team, agent, field_staff, staff, heads FROM documents WHERE team = ?1 \
         AND (agent = ?2 OR field_staff = ?2 OR staff = ?2 OR kind IN ('roster', 'appearance_template')) ORDER BY doc_id"
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params![team, p.user_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (document_id, kind, team, agent, field_staff, staff, heads) = row?;
        let Ok(k) = kind.parse() else { continue };
        let meta = DocMeta { kind: k, team, agent, field_staff, staff };
        let a = match access(p, &meta) {
            Access::None => continue,
            Access::Read => "read",
            Access::Write => "write",
        };
        out.push(ManifestEntry {
            document_id,
            kind,
            access: a.into(),
            heads: heads.split(',').filter(|h| !h.is_empty()).map(str::to_string).collect(),
        });
    }
    Ok(out)
}

/// The documents the caller may hold, with their heads (phones diff this before syncing).
#[utoipa::path(get, path = "/api/v1/manifest", tag = "sync",
    responses((status = 200, body = Vec<ManifestEntry>), (status = 401, body = crate::api::ApiError)))]
async fn manifest(
    State(state): State<AppState>,
    who: crate::api::ApiUser,
) -> Result<Json<Vec<ManifestEntry>>, ServerError> {
    let p = who.0;
    let db = state.db.clone();
    state.sync.metrics.manifests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(Json(blocking(move || manifest_for(&db.lock(), &p)).await?))
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ServerError> {
    let db = state.db.clone();
    let (documents, quarantined) = blocking(move || {
        let conn = db.lock();
        let docs: i64 = conn.query_row("SELECT count(*) FROM documents", [], |r| r.get(0))?;
        let q: i64 =
            conn.query_row("SELECT count(*) FROM quarantine WHERE status = 'open'", [], |r| r.get(0))?;
        Ok((docs, q))
    })
    .await?;
    let g = Gauges {
        connections: state.sync.hub.connections(),
        documents,
        quarantined,
        storage_bytes: state.db.storage_bytes(),
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.sync.metrics.render(g)))
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// Name given at sign-in.
    pub name: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms, when revoked.
    pub revoked_at: Option<i64>,
}

/// The caller's devices (an admin: every device).
#[utoipa::path(get, path = "/api/v1/devices", tag = "accounts",
    responses((status = 200, body = Vec<Device>), (status = 401, body = crate::api::ApiError)))]
async fn devices(
    State(state): State<AppState>,
    who: crate::api::ApiUser,
) -> Result<Json<Vec<Device>>, ServerError> {
    let p = who.0;
    let db = state.db.clone();
    let list = blocking(move || {
        let conn = db.lock();
        let mut stmt = conn.prepare(
            "SELECT id, user_id, name, created_at, revoked_at FROM devices WHERE ?1 OR user_id = ?2 ORDER BY created_at",
        )?;
        let rows = stmt.query_map(params![p.role == Role::Admin, p.user_id], |r| {
            Ok(Device {
                id: r.get(0)?,
                user_id: r.get(1)?,
                name: r.get(2)?,
                created_at: r.get(3)?,
                revoked_at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    })
    .await?;
    Ok(Json(list))
}

/// Revokes a device (own, or any for an admin): its tokens stop working and its sync
/// connections close.
#[utoipa::path(post, path = "/api/v1/devices/{id}/revoke", tag = "accounts", params(("id" = String, Path, description = "device id")),
    responses((status = 200, body = serde_json::Value), (status = 401, body = crate::api::ApiError), (status = 404, body = crate::api::ApiError)))]
async fn revoke_device(
    State(state): State<AppState>,
    who: crate::api::ApiUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServerError> {
    let p = who.0;
    let db = state.db.clone();
    let device = id.clone();
    blocking(move || {
        let conn = db.lock();
        let owner: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT user_id FROM devices WHERE id = ?1",
            [&device],
            |r| r.get(0),
        ))?;
        match owner {
            Some(o) if o == p.user_id || p.role == Role::Admin => {
                conn.execute(
                    "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
                    params![device, auth::now_ms()],
                )?;
                Ok(())
            }
            _ => Err(ServerError::NotFound(format!("no device {device}"))),
        }
    })
    .await?;
    let closed = state.sync.hub.close_device(&id, "this device was revoked");
    tracing::info!(device = %id, closed, "device revoked");
    Ok(Json(serde_json::json!({ "revoked": id, "connections_closed": closed })))
}

/// Disables a user (admin only) and closes their sync connections; one's own account and the
/// last admin cannot be disabled.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", tag = "admin", params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = crate::api::MessageResponse), (status = 400, body = crate::api::ApiError), (status = 401, body = crate::api::ApiError), (status = 403, body = crate::api::ApiError), (status = 404, body = crate::api::ApiError)))]
async fn disable_user(
    State(state): State<AppState>,
    who: crate::api::ApiUser,
    Path(id): Path<String>,
) -> Result<Json<crate::api::MessageResponse>, ServerError> {
    who.admin()?;
    let message = blocking(move || crate::web::admin::disable_user(&state, &who.0, &id)).await?;
    Ok(Json(crate::api::MessageResponse { message }))
}
