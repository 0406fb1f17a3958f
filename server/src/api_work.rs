//! The supervisor's work through the JSON API: the visit and complaint boards, appearance
//! checks (仪容仪表), assignment (分配), callback campaigns (回访计划) and the review of
//! conflicts and refused changes. Each handler calls the same pub function as the dashboard
//! page, with the same access: the caller must be a supervisor, and sees and changes only their
//! own team's records (another team's record is 404). Merged into [`crate::api::router`], so
//! these routes are in the same OpenAPI document.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{blocking, json_body, query_params, ApiError, ApiUser, MessageResponse};
use crate::auth::now_ms;
use crate::error::ServerError;
use crate::http::AppState;
use crate::web::appearance::{self, DaySheet, PassRates, SheetInput, TemplateInfo, TemplateInput};
use crate::web::assign::{self, AssignInput, SpreadInput, StaffLoad};
use crate::web::boards::{self, ComplaintFilter, ComplaintRow, ReviewVisit, VisitFilter, VisitRow};
use crate::web::campaigns::{
    self, CampaignPreview, CampaignReport, CampaignRow, CloseCampaignInput, CreatedCampaign, NewCampaignInput,
};
use crate::web::review::{
    self, ConflictRow, CorrectInput, CorrectedValue, DismissInput, RejectedRow, ResolveInput,
};

/// The routes of this module with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_visits))
        .routes(routes!(review_visit))
        .routes(routes!(list_complaints))
        .routes(routes!(appearance_sheet, record_appearance))
        .routes(routes!(appearance_rates))
        .routes(routes!(appearance_template, save_appearance_template))
        .routes(routes!(assign_load))
        .routes(routes!(assign_customers))
        .routes(routes!(spread_customers))
        .routes(routes!(list_campaigns, create_campaign))
        .routes(routes!(preview_campaign))
        .routes(routes!(campaign_report))
        .routes(routes!(close_campaign))
        .routes(routes!(list_conflicts))
        .routes(routes!(resolve_conflict))
        .routes(routes!(list_rejected))
        .routes(routes!(dismiss_rejected))
        .routes(routes!(accept_rejected))
}

// ---- shared pieces ----------------------------------------------------------------------------

/// The query parameters as `T`, or 400 with the reason.
fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ServerError> {
    q.map(|Query(v)| v)
        .map_err(|e| ServerError::BadRequest(format!("bad query parameters: {}", e.body_text())))
}

/// An optional request body: absent (no body, no `Content-Type`) is `T::default()`; present
/// but not the expected JSON is 400.
fn optional_body<T: Default>(
    body: Result<Option<Json<T>>, JsonRejection>,
    expected: &str,
) -> Result<T, ServerError> {
    match body {
        Ok(Some(Json(v))) => Ok(v),
        Ok(None) => Ok(T::default()),
        Err(e) => Err(ServerError::BadRequest(format!("expected JSON {expected}: {}", e.body_text()))),
    }
}

/// Runs an action off the async threads and answers with its message.
async fn act(
    f: impl FnOnce() -> Result<String, ServerError> + Send + 'static,
) -> Result<Json<MessageResponse>, ServerError> {
    Ok(Json(MessageResponse { message: blocking(f).await? }))
}

/// A quarantine entry id from the path (anything else is no such entry).
fn entry_id(id: &str) -> Result<i64, ServerError> {
    id.trim().parse().map_err(|_| {
        ServerError::NotFound(format!(
            "没有待处理的被拒绝修改 {id:?} / no open rejected change {id:?} (ids are numbers)"
        ))
    })
}

// ---- visits and complaints --------------------------------------------------------------------

/// The team's visit board (上门服务): overdue first, then by status; open visits by arrival
/// window, finished ones newest first. At most 5000 rows.
#[utoipa::path(get, path = "/api/v1/visits", tag = "visits", params(VisitFilter),
    responses((status = 200, body = Vec<VisitRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_visits(
    State(st): State<AppState>,
    who: ApiUser,
    f: Result<Query<VisitFilter>, QueryRejection>,
) -> Result<Json<Vec<VisitRow>>, ServerError> {
    let f = query_params(f)?;
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || boards::visit_board(&db.lock(), &team, &f, now_ms())).await?))
}

/// Marks a completed visit reviewed (已审核), with an optional note (at most 500 characters).
#[utoipa::path(post, path = "/api/v1/visits/review", tag = "visits", request_body = ReviewVisit,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn review_visit(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<ReviewVisit>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{doc_id, visit_id, note}")?;
    act(move || boards::review_visit(&st, &who.0, &input)).await
}

/// The team's complaint board (投诉): overdue first, then unresolved (oldest first), then
/// resolved and confirmed ones (newest first). At most 5000 rows.
#[utoipa::path(get, path = "/api/v1/complaints", tag = "complaints", params(ComplaintFilter),
    responses((status = 200, body = Vec<ComplaintRow>), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_complaints(
    State(st): State<AppState>,
    who: ApiUser,
    f: Result<Query<ComplaintFilter>, QueryRejection>,
) -> Result<Json<Vec<ComplaintRow>>, ServerError> {
    let f = query_params(f)?;
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || boards::complaint_board(&db.lock(), &team, &f, now_ms())).await?))
}

// ---- appearance -------------------------------------------------------------------------------

/// Which day.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DateParams {
    /// `YYYY-MM-DD`; today when absent.
    pub date: Option<String>,
}

/// Which month of pass rates.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RateParams {
    /// `YYYY-MM`; this month when absent.
    pub month: Option<String>,
}

/// The team's appearance sheet (仪容仪表检查表) for a day: every field staff member and agent
/// with the checklist items and, once checked, each result. Reading does not create the sheet.
#[utoipa::path(get, path = "/api/v1/appearance", tag = "appearance", params(DateParams),
    responses((status = 200, body = DaySheet), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn appearance_sheet(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<DateParams>, QueryRejection>,
) -> Result<Json<DaySheet>, ServerError> {
    let team = who.team()?;
    let date = query(q)?
        .date
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| crate::web::today().to_string());
    let db = st.db.clone();
    Ok(Json(blocking(move || appearance::day_sheet(&db.lock(), &team, &date)).await?))
}

/// Records appearance checks on the team's sheet for a day (today when no date; not a future
/// day), creating the sheet if missing; items not listed passed, a failed item needs a note.
#[utoipa::path(post, path = "/api/v1/appearance", tag = "appearance", request_body = SheetInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn record_appearance(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<SheetInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{date, checks: [{staff, items: [{code, pass, note}]}]}")?;
    act(move || appearance::record_sheet(&st, &who.0, &input)).await
}

/// The team's appearance pass rates for a month, per person and per item.
#[utoipa::path(get, path = "/api/v1/appearance/rates", tag = "appearance", params(RateParams),
    responses((status = 200, body = PassRates), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn appearance_rates(
    State(st): State<AppState>,
    who: ApiUser,
    q: Result<Query<RateParams>, QueryRejection>,
) -> Result<Json<PassRates>, ServerError> {
    let team = who.team()?;
    let month = query(q)?
        .month
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| crate::web::today().month_key());
    let db = st.db.clone();
    Ok(Json(blocking(move || appearance::pass_rates(&db.lock(), &team, &month)).await?))
}

/// The team's appearance checklist template with every published version (the built-in
/// checklist while the team has none).
#[utoipa::path(get, path = "/api/v1/appearance/template", tag = "appearance",
    responses((status = 200, body = TemplateInfo), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn appearance_template(
    State(st): State<AppState>,
    who: ApiUser,
) -> Result<Json<TemplateInfo>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || appearance::template_info(&db.lock(), &team)).await?))
}

/// Publishes a checklist as the team's next template version (sheets already started keep
/// their version); refused when `base_version` is given and no longer current.
#[utoipa::path(post, path = "/api/v1/appearance/template", tag = "appearance", request_body = TemplateInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn save_appearance_template(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<TemplateInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{items: [{code, category, label_zh, label_en, order}], base_version}")?;
    act(move || appearance::save_template(&st, &who.0, &input)).await
}

// ---- assignment -------------------------------------------------------------------------------

/// The team's active agents and field staff with their current load (customers, open
/// callbacks, open visits), agents first.
#[utoipa::path(get, path = "/api/v1/assign/load", tag = "assignment",
    responses((status = 200, body = Vec<StaffLoad>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn assign_load(State(st): State<AppState>, who: ApiUser) -> Result<Json<Vec<StaffLoad>>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || assign::staff_load(&db.lock(), &team)).await?))
}

/// Makes an agent and/or a field staff member of the team responsible for the customers
/// (at most 2000); the change reaches the phones by sync.
#[utoipa::path(post, path = "/api/v1/assign", tag = "assignment", request_body = AssignInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn assign_customers(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<AssignInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{customers: [doc_id], agent, field_staff}")?;
    act(move || assign::assign_customers(&st, &who.0, &input)).await
}

/// Spreads the customers evenly by current load over the chosen agents or field staff.
#[utoipa::path(post, path = "/api/v1/assign/spread", tag = "assignment", request_body = SpreadInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn spread_customers(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<SpreadInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{customers: [doc_id], role, people: [user_id]}")?;
    act(move || assign::spread_customers(&st, &who.0, &input)).await
}

// ---- campaigns --------------------------------------------------------------------------------

/// How a campaign is closed.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct CloseCampaignRequest {
    /// Also cancel its callbacks that are still open.
    #[serde(default)]
    pub cancel_open: bool,
    /// A note kept with the end.
    #[serde(default)]
    pub note: Option<String>,
}

/// The team's callback campaigns (回访计划), newest first, with their progress.
#[utoipa::path(get, path = "/api/v1/campaigns", tag = "campaigns",
    responses((status = 200, body = Vec<CampaignRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_campaigns(
    State(st): State<AppState>,
    who: ApiUser,
) -> Result<Json<Vec<CampaignRow>>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || campaigns::campaigns(&db.lock(), &team)).await?))
}

/// Plans a campaign without changing anything: the matching customers, the agent each goes to
/// and the due date (the name may be empty here).
#[utoipa::path(post, path = "/api/v1/campaigns/preview", tag = "campaigns", request_body = NewCampaignInput,
    responses((status = 200, body = CampaignPreview), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn preview_campaign(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<NewCampaignInput>, JsonRejection>,
) -> Result<Json<CampaignPreview>, ServerError> {
    let team = who.team()?;
    let input = json_body(body, "{name, rule, days, stage, starts_on, ends_on, method, agents, ...}")?;
    let db = st.db.clone();
    let today = crate::web::today();
    Ok(Json(blocking(move || campaigns::preview_campaign(&db.lock(), &team, &input, today)).await?))
}

/// Creates a campaign: the campaign record, and a callback scheduled in each matching
/// customer's file (making the callback's agent responsible where needed).
#[utoipa::path(post, path = "/api/v1/campaigns", tag = "campaigns", request_body = NewCampaignInput,
    responses((status = 200, body = CreatedCampaign), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn create_campaign(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<NewCampaignInput>, JsonRejection>,
) -> Result<Json<CreatedCampaign>, ServerError> {
    who.team()?;
    let input = json_body(body, "{name, rule, days, stage, starts_on, ends_on, method, agents, ...}")?;
    Ok(Json(blocking(move || campaigns::create_campaign(&st, &who.0, &input)).await?))
}

/// A campaign's report (回访总结报告): the record, totals per agent, and every callback.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = String, Path, description = "campaign document id")),
    responses((status = 200, body = CampaignReport), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn campaign_report(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<CampaignReport>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || campaigns::campaign_report(&db.lock(), &team, id.trim())).await?))
}

/// Ends a campaign (once); with `cancel_open` its open callbacks are cancelled too. The body
/// may be left out.
#[utoipa::path(post, path = "/api/v1/campaigns/{id}/close", tag = "campaigns", params(("id" = String, Path, description = "campaign document id")),
    request_body = CloseCampaignRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn close_campaign(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
    body: Result<Option<Json<CloseCampaignRequest>>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let r = optional_body(body, "{cancel_open, note}")?;
    let input = CloseCampaignInput { campaign: id, cancel_open: r.cancel_open, note: r.note };
    act(move || campaigns::close_campaign(&st, &who.0, &input)).await
}

// ---- review -----------------------------------------------------------------------------------

/// How a refused change is dismissed.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct DismissRequest {
    /// The supervisor's note (why).
    #[serde(default)]
    pub note: Option<String>,
}

/// The corrected values with which a refused change is accepted.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct AcceptRequest {
    /// The values to store; each path must be one the refused change set (its `fields`).
    pub values: Vec<CorrectedValue>,
    /// The supervisor's note.
    #[serde(default)]
    pub note: Option<String>,
}

/// Every field in conflict (冲突) in the team's records: two people changed it concurrently;
/// each value with who wrote it (server-verified) and when.
#[utoipa::path(get, path = "/api/v1/review/conflicts", tag = "review",
    responses((status = 200, body = Vec<ConflictRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_conflicts(
    State(st): State<AppState>,
    who: ApiUser,
) -> Result<Json<Vec<ConflictRow>>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || review::list_conflicts(&db.lock(), &team)).await?))
}

/// Settles a conflict by keeping one of its values (a change by the supervisor, sent to the
/// phones); 404 when it was already settled or the record changed since.
#[utoipa::path(post, path = "/api/v1/review/conflicts/resolve", tag = "review", request_body = ResolveInput,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn resolve_conflict(
    State(st): State<AppState>,
    who: ApiUser,
    body: Result<Json<ResolveInput>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let input = json_body(body, "{doc_id, path: [..], value_id}")?;
    act(move || review::resolve(&st, &who.0, &input)).await
}

/// The team's refused changes (被拒绝的修改) waiting for a decision, newest first: who sent
/// them, when, why they were refused and the fields they set.
#[utoipa::path(get, path = "/api/v1/review/rejected", tag = "review",
    responses((status = 200, body = Vec<RejectedRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_rejected(
    State(st): State<AppState>,
    who: ApiUser,
) -> Result<Json<Vec<RejectedRow>>, ServerError> {
    let team = who.team()?;
    let db = st.db.clone();
    Ok(Json(blocking(move || review::list_rejected(&db.lock(), &team)).await?))
}

/// Settles a refused change without applying it. The body may be left out.
#[utoipa::path(post, path = "/api/v1/review/rejected/{id}/dismiss", tag = "review",
    params(("id" = i64, Path, description = "id of the refused change (from the list)")),
    request_body = DismissRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn dismiss_rejected(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
    body: Result<Option<Json<DismissRequest>>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let id = entry_id(&id)?;
    let r = optional_body(body, "{note}")?;
    let input = DismissInput { id, note: r.note };
    act(move || review::dismiss(&st, &who.0, &input)).await
}

/// Settles a refused change by storing corrected values for fields it set (the record must
/// still validate; the change is the supervisor's and reaches the phones by sync).
#[utoipa::path(post, path = "/api/v1/review/rejected/{id}/accept", tag = "review",
    params(("id" = i64, Path, description = "id of the refused change (from the list)")),
    request_body = AcceptRequest,
    responses((status = 200, body = MessageResponse), (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn accept_rejected(
    State(st): State<AppState>,
    who: ApiUser,
    Path(id): Path<String>,
    body: Result<Json<AcceptRequest>, JsonRejection>,
) -> Result<Json<MessageResponse>, ServerError> {
    who.team()?;
    let id = entry_id(&id)?;
    let r = json_body(body, "{values: [{path, value}], note}")?;
    let input = CorrectInput { id, values: r.values, note: r.note };
    act(move || review::accept_corrected(&st, &who.0, &input)).await
}
