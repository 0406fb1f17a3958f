//! The supervisor's JSON API under `/api/v1/`: everything the dashboard pages show, with the
//! same access rules, and the OpenAPI document generated from these handlers
//! (`/api/v1/openapi.json`, built by `utoipa-axum` from the same route registrations that
//! serve the requests, so the document cannot drift from the routes).
//!
//! Callers authenticate with a bearer token (`POST /api/v1/login`) or, from the dashboard's own
//! pages, the session cookie; a cookie-authenticated request that changes something must also
//! send the `X-CSRF-Token` header (the token is in every dashboard form).

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::Json;
use kefu_model::automerge::ChangeHash;
use kefu_model::enums::Role;
use kefu_model::KefuDoc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;
use crate::web::customers::{self, CustomerFilter, CustomerRow, HistoryRow};
use crate::web::home::{self, TeamSummary};
use crate::web::{cookie, csrf_for, SESSION_COOKIE};

/// The OpenAPI document's frame: title, version, security schemes.
#[derive(OpenApi)]
#[openapi(
    info(title = "Kefu 客服 API", description = "Records, review, assignment, campaigns, attendance and KPIs of a customer-service department."),
    modifiers(&Security),
    security(("bearer" = []), ("session" = []))
)]
#[derive(Debug)]
pub struct ApiDoc;

#[derive(Debug)]
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let c = openapi.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        c.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

/// The signed-in caller of an API request: bearer token, or the dashboard's session cookie
/// (then a state-changing request needs `X-CSRF-Token`).
#[derive(Debug, Clone)]
pub struct ApiUser(pub Principal);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(token) = crate::sync::bearer(&parts.headers, None) {
            return Ok(ApiUser(crate::sync::resolve(state, Some(token)).await?));
        }
        let token = cookie(&parts.headers, SESSION_COOKIE)
            .filter(|t| !t.is_empty())
            .ok_or(ServerError::Unauthorized)?;
        if !matches!(parts.method, Method::GET | Method::HEAD) {
            let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if sent != csrf_for(&token) || !crate::web::form::same_origin(&parts.headers) {
                return Err(ServerError::Forbidden("missing or wrong X-CSRF-Token".into()));
            }
        }
        Ok(ApiUser(crate::sync::resolve(state, Some(token)).await?))
    }
}

impl ApiUser {
    /// The caller's team when they are a supervisor; others get 403 (agents and field staff
    /// work through sync; admins hold no records).
    pub fn team(&self) -> Result<String, ServerError> {
        match (&self.0.role, &self.0.team) {
            (Role::Supervisor, Some(t)) => Ok(t.clone()),
            _ => Err(ServerError::Forbidden(
                "only a supervisor may use this; it shows a team's records".into(),
            )),
        }
    }

    /// 403 unless the caller is an admin.
    pub fn admin(&self) -> Result<(), ServerError> {
        if self.0.role == Role::Admin {
            Ok(())
        } else {
            Err(ServerError::Forbidden("only an admin may do this".into()))
        }
    }
}

/// Runs blocking database work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, ServerError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ServerError::Internal(e.to_string()))?
}

/// An error answer (the body of every 4xx and 5xx).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What went wrong, in words the caller can act on.
    pub error: String,
}

/// The API routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(summary))
        .routes(routes!(list_customers))
        .routes(routes!(get_customer))
        .routes(routes!(record_history))
        .routes(routes!(record_at))
}

/// What needs the supervisor's attention.
#[utoipa::path(get, path = "/api/v1/summary", tag = "overview",
    responses((status = 200, body = TeamSummary), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn summary(State(st): State<AppState>, who: ApiUser) -> Result<Json<TeamSummary>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || home::team_summary(&db.lock(), &team, now_ms())).await?))
}

/// The team's customers: search any fragment, filter by stage, intent, assignee, overdue.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(CustomerFilter),
    responses((status = 200, body = Vec<CustomerRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_customers(
    State(st): State<AppState>,
    who: ApiUser,
    Query(f): Query<CustomerFilter>,
) -> Result<Json<Vec<CustomerRow>>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || customers::search(&db.lock(), &team, &f, now_ms())).await?))
}

fn readable(st: &AppState, who: &ApiUser, id: &str) -> Result<KefuDoc, ServerError> {
    who.team()?;
    customers::load_readable(&st.db.lock(), &who.0, id)
}

/// A customer file (the record as JSON, `docs/schema.md`), with its conflicts.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers", params(("id" = String, Path, description = "document id")),
    responses((status = 200, description = "the record and its conflicts", body = serde_json::Value), (status = 404, body = ApiError)))]
async fn get_customer(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ServerError> {
    blocking(move || {
        let mut doc = readable(&st, &who, &id)?;
        if doc.kind().ok() != Some(kefu_model::enums::DocKind::Customer) {
            return Err(ServerError::NotFound(format!("no customer {id}")));
        }
        let conflicts = doc.conflicts();
        Ok(Json(serde_json::json!({ "id": id, "record": doc.to_json(), "conflicts": conflicts })))
    })
    .await
}

/// Who changed what and when in any record: server-verified user, device and receipt time,
/// the device's own time, and clock skew flagged.
#[utoipa::path(get, path = "/api/v1/records/{id}/history", tag = "records", params(("id" = String, Path, description = "document id")),
    responses((status = 200, body = Vec<HistoryRow>), (status = 404, body = ApiError)))]
async fn record_history(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<HistoryRow>>, ServerError> {
    blocking(move || {
        let mut doc = readable(&st, &who, &id)?;
        Ok(Json(customers::history_rows(&st.db.lock(), &id, &mut doc)?))
    })
    .await
}

/// A record as it was at an earlier version (a change hash from its history).
#[utoipa::path(get, path = "/api/v1/records/{id}/at/{hash}", tag = "records",
    params(("id" = String, Path, description = "document id"), ("hash" = String, Path, description = "change hash")),
    responses((status = 200, body = serde_json::Value), (status = 404, body = ApiError)))]
async fn record_at(
    State(st): State<AppState>,
    who: ApiUser,
    Path((id, hash)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ServerError> {
    blocking(move || {
        let mut doc = readable(&st, &who, &id)?;
        let h: ChangeHash = hash.parse().map_err(|_| ServerError::NotFound(format!("no version {hash}")))?;
        if doc.automerge().get_change_by_hash(&h).is_none() {
            return Err(ServerError::NotFound(format!("no version {hash}")));
        }
        let old = doc.automerge().fork_at(&[h]).map_err(|e| ServerError::Internal(e.to_string()))?;
        Ok(Json(KefuDoc::from_automerge(old).to_json()))
    })
    .await
}
