//! The supervisor's JSON API under `/api/v1/`: everything the dashboard pages show, with the
//! same access rules, and the OpenAPI document generated from these handlers
//! (`/api/v1/openapi.json`, built by `utoipa-axum` from the same route registrations that
//! serve the requests, so the document cannot drift from the routes).
//!
//! Callers authenticate with a bearer token (`POST /api/v1/login`) or, from the dashboard's own
//! pages, the session cookie; a cookie-authenticated request that changes something must also
//! send the `X-CSRF-Token` header (the token is in every dashboard form).

use std::collections::BTreeMap;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::Response;
use axum::Json;
use kefu_model::automerge::ChangeHash;
use kefu_model::dates::is_month;
use kefu_model::enums::Role;
use kefu_model::KefuDoc;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{now_ms, Principal};
use crate::error::ServerError;
use crate::http::AppState;
use crate::web::admin::{self, DeviceFilter, DeviceRow, NewUserInput, UserRow, UserUpdateInput};
use crate::web::attendance::{
    self, AbsenceInput, CertificateInput, LeaveDecisionInput, LeaveRequestInput, LeaveRow, MonthGrid,
    OvertimeInput, RosterInput, StaffInfo, SwapDecisionInput, SwapRow,
};
use crate::web::customers::{self, CustomerFilter, CustomerRow, HistoryRow};
use crate::web::home::{self, TeamSummary};
use crate::web::kpi::{self, KpiPenalties, KpiPerson, KpiRow, KpiSettings, KpiSettingsInput, KpiWeights};
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
        .merge(crate::api_work::router())
        .merge(crate::attachments::router())
        .routes(routes!(summary))
        .routes(routes!(list_customers))
        .routes(routes!(get_customer))
        .routes(routes!(record_history))
        .routes(routes!(record_at))
        .routes(routes!(attendance_grid))
        .routes(routes!(get_roster, save_roster))
        .routes(routes!(list_leave, request_leave))
        .routes(routes!(get_leave))
        .routes(routes!(decide_leave))
        .routes(routes!(record_certificate))
        .routes(routes!(list_swaps))
        .routes(routes!(get_swap))
        .routes(routes!(decide_swap))
        .routes(routes!(mark_absent))
        .routes(routes!(add_overtime))
        .routes(routes!(kpi_team))
        .routes(routes!(kpi_weights, set_kpi_weights))
        .routes(routes!(kpi_person))
        .routes(routes!(list_users, add_user))
        .routes(routes!(enable_user))
        .routes(routes!(update_user))
        .routes(routes!(list_devices))
        .routes(routes!(backup))
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
    f: Result<Query<CustomerFilter>, QueryRejection>,
) -> Result<Json<Vec<CustomerRow>>, ServerError> {
    let f = query_params(f)?;
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

// ---- shared pieces of the action routes -------------------------------------------------------

/// The answer of an action: what was done (in Chinese and English).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    /// What was done, in words to show the person.
    pub message: String,
}

/// The request body as `T`, or 400 naming what was expected.
pub fn json_body<T>(body: Result<Json<T>, JsonRejection>, expected: &str) -> Result<T, ServerError> {
    body.map(|Json(v)| v)
        .map_err(|e| ServerError::BadRequest(format!("expected JSON {expected}: {}", e.body_text())))
}

/// The query parameters as `T`, or 400 with the reason.
pub fn query_params<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ServerError> {
    q.map(|Query(v)| v)
        .map_err(|e| ServerError::BadRequest(format!("bad query parameters: {}", e.body_text())))
}

/// Runs an action off the async threads and answers with its message.
async fn act(
    f: impl FnOnce() -> Result<String, ServerError> + Send + 'static,
) -> Result<Json<MessageResponse>, ServerError> {
    Ok(Json(MessageResponse { message: blocking(f).await? }))
}

/// A month parameter: `YYYY-MM`, this month when absent or empty.
fn month_param(m: Option<&str>) -> Result<String, ServerError> {
    match m.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(crate::web::today().month_key()),
        Some(m) if is_month(m) => Ok(m.to_string()),
        Some(m) => {
            Err(ServerError::BadRequest(format!("月份格式应为 YYYY-MM / a month is YYYY-MM (got {m:?})")))
        }
    }
}

// ---- attendance -------------------------------------------------------------------------------

/// Which month.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthParams {
    /// `YYYY-MM`; this month when absent.
    pub month: Option<String>,
}

/// Whether decided requests are listed too.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AllParams {
    /// `1` or `true`: also the requests already decided (of the last 12 months); by default
    /// only those waiting for a decision.
    pub all: Option<String>,
}

impl AllParams {
    fn all(&self) -> Result<bool, ServerError> {
        match self.all.as_deref().map(str::trim).unwrap_or("") {
            "" | "0" | "false" | "no" => Ok(false),
            "1" | "true" | "yes" => Ok(true),
            other => Err(ServerError::BadRequest(format!("all is 1 or 0, true or false (got {other:?})"))),
        }
    }
}

/// One person's row of the roster.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RosterRow {
    /// The person.
    pub staff: StaffInfo,
    /// Their shift by date (`YYYY-MM-DD` → `early`, `late` or `rest`); a date the roster says
    /// nothing about is left out.
    pub shifts: BTreeMap<String, String>,
}

/// A team's roster (排班表) for a month.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RosterView {
    /// `YYYY-MM`.
    pub month: String,
    /// The roster document; absent while the month has no roster.
    pub roster_doc: Option<String>,
    /// Every date of the month.
    pub dates: Vec<String>,
    /// Everyone of the team who works shifts, then anyone else the roster names.
    pub staff: Vec<RosterRow>,
}

/// A leave request recorded.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct LeaveCreated {
    /// What was done.
    pub message: String,
    /// The attendance document holding the request.
    pub doc_id: String,
    /// The request's id (for `/api/v1/attendance/leave/{doc_id}/{leave_id}` and the decisions).
    pub leave_id: String,
}

/// The team's attendance for a month: per person and day the rostered shift, clock-ins,
/// lateness, early leave, absence, leave and overtime, with the month's totals.
#[utoipa::path(get, path = "/api/v1/attendance", tag = "attendance", params(MonthParams),
    responses((status = 200, body = MonthGrid), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn attendance_grid(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<MonthParams>, QueryRejection>,
) -> Result<Json<MonthGrid>, ServerError> {
    let team = who.team()?;
    let month = month_param(query_params(q)?.month.as_deref())?;
    let db = st.db.clone();
    let today = crate::web::today().to_string();
    Ok(Json(blocking(move || attendance::month_grid(&db.lock(), &team, &month, &today)).await?))
}

/// The team's roster for a month: each person's shift by date.
#[utoipa::path(get, path = "/api/v1/attendance/roster", tag = "attendance", params(MonthParams),
    responses((status = 200, body = RosterView), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn get_roster(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<MonthParams>, QueryRejection>,
) -> Result<Json<RosterView>, ServerError> {
    let team = who.team()?;
    let month = month_param(query_params(q)?.month.as_deref())?;
    let db = st.db.clone();
    blocking(move || {
        let conn = db.lock();
        let roster = attendance::find_roster(&conn, &team, &month)?;
        let r = roster.as_ref().map(|(_, r)| r);
        let people = attendance::roster_staff(&conn, &team, r)?;
        let dates = attendance::month_days(&month);
        let staff = people
            .into_iter()
            .map(|p| {
                let shifts = dates
                    .iter()
                    .filter_map(|d| {
                        r.and_then(|r| r.shift(d, &p.id)).map(|s| (d.clone(), s.as_str().to_string()))
                    })
                    .collect();
                RosterRow { staff: p, shifts }
            })
            .collect();
        Ok(Json(RosterView { month, roster_doc: roster.map(|(id, _)| id), dates, staff }))
    })
    .await
}

/// Changes entries of the team's roster for a month (the roster is created when missing);
/// entries not named are left as they are. Phones receive it at their next sync.
#[utoipa::path(post, path = "/api/v1/attendance/roster", tag = "attendance", request_body = RosterInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn save_roster(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<RosterInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{month, changes: [{date, staff, shift}]}")?;
    act(move || attendance::do_save_roster(&st, &who.0, &input)).await
}

/// The team's leave requests (请假): those waiting for a decision, or with `all=1` also
/// the decided ones; each with its approval chain.
#[utoipa::path(get, path = "/api/v1/attendance/leave", tag = "attendance", params(AllParams),
    responses((status = 200, body = Vec<LeaveRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_leave(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<AllParams>, QueryRejection>,
) -> Result<Json<Vec<LeaveRow>>, ServerError> {
    let team = who.team()?;
    let all = query_params(q)?.all()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || attendance::leave_requests(&db.lock(), &team, all)).await?))
}

/// Records a leave request a staff member of the team asked for in person. It then waits for
/// the manager (3 days or more: manager → HR → general manager).
#[utoipa::path(post, path = "/api/v1/attendance/leave", tag = "attendance", request_body = LeaveRequestInput,
    responses((status = 200, body = LeaveCreated), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn request_leave(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<LeaveRequestInput>, JsonRejection>,
) -> Result<Json<LeaveCreated>, ServerError> {
    who.team()?;
    let input = json_body(body, "{staff, kind, start, end, reason, asked_in_person}")?;
    let (doc_id, leave_id, message) =
        blocking(move || attendance::request_leave(&st, &who.0, &input)).await?;
    Ok(Json(LeaveCreated { message, doc_id, leave_id }))
}

/// One leave request of the team.
#[utoipa::path(get, path = "/api/v1/attendance/leave/{doc_id}/{leave_id}", tag = "attendance",
    params(("doc_id" = String, Path, description = "attendance document id"), ("leave_id" = String, Path, description = "leave request id")),
    responses((status = 200, body = LeaveRow), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn get_leave(
    State(st): State<AppState>,
    who: ApiUser,
    Path((doc_id, leave_id)): Path<(String, String)>,
) -> Result<Json<LeaveRow>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || attendance::leave_detail(&db.lock(), &team, &doc_id, &leave_id)).await?))
}

/// Records one approver's answer to a leave request, in the chain's order (manager, then for
/// 3 days or more HR, then the general manager); a step out of turn is refused (400), and so
/// is the final approval of sick leave of 2 days or more without the medical certificate.
#[utoipa::path(post, path = "/api/v1/attendance/leave/decide", tag = "attendance", request_body = LeaveDecisionInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn decide_leave(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<LeaveDecisionInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{doc_id, leave_id, step, decision, note}")?;
    act(move || attendance::do_decide_leave(&st, &who.0, &input)).await
}

/// Records the reference of the medical certificate handed in for a sick leave.
#[utoipa::path(post, path = "/api/v1/attendance/leave/certificate", tag = "attendance", request_body = CertificateInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn record_certificate(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<CertificateInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{doc_id, leave_id, reference}")?;
    act(move || attendance::do_record_certificate(&st, &who.0, &input)).await
}

/// The team's shift swaps (换班): those not yet decided, or with `all=1` also the decided ones.
#[utoipa::path(get, path = "/api/v1/attendance/swaps", tag = "attendance", params(AllParams),
    responses((status = 200, body = Vec<SwapRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_swaps(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<AllParams>, QueryRejection>,
) -> Result<Json<Vec<SwapRow>>, ServerError> {
    let team = who.team()?;
    let all = query_params(q)?.all()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || attendance::shift_swaps(&db.lock(), &team, all)).await?))
}

/// One shift swap of the team.
#[utoipa::path(get, path = "/api/v1/attendance/swaps/{doc_id}/{swap_id}", tag = "attendance",
    params(("doc_id" = String, Path, description = "the requester's attendance document id"), ("swap_id" = String, Path, description = "shift swap id")),
    responses((status = 200, body = SwapRow), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn get_swap(
    State(st): State<AppState>,
    who: ApiUser,
    Path((doc_id, swap_id)): Path<(String, String)>,
) -> Result<Json<SwapRow>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || attendance::swap_detail(&db.lock(), &team, &doc_id, &swap_id)).await?))
}

/// The manager's answer to a shift swap the colleague agreed to; on approval with
/// `update_roster` the two people's roster entries are exchanged.
#[utoipa::path(post, path = "/api/v1/attendance/swaps/decide", tag = "attendance", request_body = SwapDecisionInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn decide_swap(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<SwapDecisionInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{doc_id, swap_id, decision, note, update_roster}")?;
    act(move || attendance::do_decide_swap(&st, &who.0, &input)).await
}

/// Marks a staff member absent (旷工) on a day: not a future day, a rostered rest day, a day
/// they clocked in, a day of approved leave or a day already marked.
#[utoipa::path(post, path = "/api/v1/attendance/absent", tag = "attendance", request_body = AbsenceInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn mark_absent(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<AbsenceInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{staff, date, note}")?;
    act(move || attendance::do_mark_absent(&st, &who.0, &input)).await
}

/// Records overtime (加班) for a staff member on a day (today or earlier, 1–1440 minutes).
#[utoipa::path(post, path = "/api/v1/attendance/overtime", tag = "attendance", request_body = OvertimeInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn add_overtime(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<OvertimeInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{staff, date, minutes, note}")?;
    act(move || attendance::do_add_overtime(&st, &who.0, &input)).await
}

// ---- KPIs -------------------------------------------------------------------------------------

/// Which period.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// `YYYY-MM` (a month) or `YYYY` (a year); this month when absent.
    pub period: Option<String>,
}

/// A team's whole KPI configuration (both parts are required: this replaces it; a measure or
/// penalty left out of its object takes the default).
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct KpiWeightsRequest {
    /// Weights of the measures (finite, not negative, not all zero).
    pub weights: KpiWeights,
    /// Penalty points (finite, not negative).
    pub penalties: KpiPenalties,
}

/// The team's KPI ranking for a month or a year: best score first, people without data last;
/// each row with the measures, score, grade and allowance.
#[utoipa::path(get, path = "/api/v1/kpi", tag = "kpi", params(PeriodParams),
    responses((status = 200, body = Vec<KpiRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn kpi_team(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<PeriodParams>, QueryRejection>,
) -> Result<Json<Vec<KpiRow>>, ServerError> {
    let team = who.team()?;
    let period = kpi::parse_period(query_params(q)?.period.as_deref())?;
    let db = st.db.clone();
    Ok(Json(blocking(move || kpi::kpi_team(&db.lock(), &team, period)).await?))
}

/// One person's KPI report for a month or a year, with the counts behind every measure and
/// the weights used (a year: also each month).
#[utoipa::path(get, path = "/api/v1/kpi/{user_id}", tag = "kpi",
    params(("user_id" = String, Path, description = "user id of a member of the team"), PeriodParams),
    responses((status = 200, body = KpiPerson), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn kpi_person(
    State(st): State<AppState>,
    who: ApiUser,
    Path(user_id): Path<String>,
    q: Result<Query<PeriodParams>, QueryRejection>,
) -> Result<Json<KpiPerson>, ServerError> {
    let team = who.team()?;
    let period = kpi::parse_period(query_params(q)?.period.as_deref())?;
    let db = st.db.clone();
    Ok(Json(blocking(move || kpi::kpi_person(&db.lock(), &team, &user_id, period)).await?))
}

/// The team's KPI weights and penalties (the defaults while never changed).
#[utoipa::path(get, path = "/api/v1/kpi/weights", tag = "kpi",
    responses((status = 200, body = KpiSettings), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn kpi_weights(State(st): State<AppState>, who: ApiUser) -> Result<Json<KpiSettings>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || kpi::kpi_settings(&db.lock(), &team)).await?))
}

/// Sets the team's KPI weights and penalties (every later report uses them and says so).
#[utoipa::path(put, path = "/api/v1/kpi/weights", tag = "kpi", request_body = KpiWeightsRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn set_kpi_weights(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<KpiWeightsRequest>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let r = json_body(body, "{weights: {...}, penalties: {...}}")?;
    let input = KpiSettingsInput { weights: r.weights, penalties: r.penalties };
    act(move || kpi::set_weights(&st, &who.0, &input)).await
}

// ---- administration ---------------------------------------------------------------------------

/// A user account created.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UserCreated {
    /// What was done.
    pub message: String,
    /// The new user's id.
    pub id: String,
}

/// A file download: the file's bytes.
#[derive(Debug, Clone, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileDownload(pub Vec<u8>);

/// Every user account (admins only): enabled first, then by team, role and name.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    responses((status = 200, body = Vec<UserRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_users(State(st): State<AppState>, who: ApiUser) -> Result<Json<Vec<UserRow>>, ServerError> {
    who.admin()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || admin::list_users(&db.lock())).await?))
}

/// Adds a user account (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = NewUserInput,
    responses((status = 200, body = UserCreated), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn add_user(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<NewUserInput>, JsonRejection>,
) -> Result<Json<UserCreated>, ServerError> {
    who.admin()?;
    let input = json_body(body, "{username, display_name, role, team, password}")?;
    let name = input.username.trim().to_string();
    let db = st.db.clone();
    let id = blocking(move || admin::create_user(&db.lock(), &input)).await?;
    tracing::info!(user = %id, by = %who.0.user_id, "user added");
    Ok(Json(UserCreated {
        message: format!("已添加用户 {name}（{id}） / user {name} added ({id})"), id
    }))
}

/// Enables a disabled user account again (admins only).
#[utoipa::path(post, path = "/api/v1/users/{id}/enable", tag = "admin", params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = MessageResponse), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn enable_user(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.admin()?;
    act(move || admin::enable_user(&st, &who.0, &id)).await
}

/// Changes a user's role, team or name (admins only); when role or team change, their sync
/// connections are closed so that they reconnect with the new access. One's own admin role
/// and the last admin's cannot be taken away.
#[utoipa::path(post, path = "/api/v1/users/{id}/update", tag = "admin", params(("id" = String, Path, description = "user id")),
    request_body = UserUpdateInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn update_user(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
    body: Result<Json<UserUpdateInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.admin()?;
    let input = json_body(body, "{role, team, display_name}")?;
    act(move || admin::update_user(&st, &who.0, &id, &input)).await
}

/// Every device (admins only), newest first, at most 2000; `GET /api/v1/devices` is the
/// caller's own.
#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin",
    params(
        ("state" = Option<String>, Query, description = "`active`, `revoked` or `all` (the default)"),
        ("user" = Option<String>, Query, description = "only this user's devices (user id)"),
    ),
    responses((status = 200, body = Vec<DeviceRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_devices(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<DeviceFilter>, QueryRejection>,
) -> Result<Json<Vec<DeviceRow>>, ServerError> {
    who.admin()?;
    let f = query_params(q)?;
    let db = st.db.clone();
    Ok(Json(blocking(move || admin::list_devices(&db.lock(), &f)).await?))
}

/// A consistent copy of the whole server database (admins only), streamed as a download
/// (`kefu-backup-YYYYMMDD-HHMM.db`, a SQLite file; restore with `kefu-server restore`).
#[utoipa::path(post, path = "/api/v1/backup", tag = "admin",
    responses((status = 200, description = "the SQLite database file", content_type = "application/octet-stream", body = FileDownload),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn backup(State(st): State<AppState>, who: ApiUser) -> Result<Response, ServerError> {
    who.admin()?;
    admin::backup_download(&st, &who.0).await
}
