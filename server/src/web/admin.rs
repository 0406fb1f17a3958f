//! Administration (admins only; a supervisor gets 403): user accounts, devices and backups.
//!
//! Disabling a user or revoking a device takes effect at once: tokens are checked on every
//! request and every sync ping, and the person's open sync connections are closed, exactly as
//! the API's `POST /api/v1/users/{id}/disable` and `POST /api/v1/devices/{id}/revoke` do. A
//! backup is SQLite's `VACUUM INTO` on a connection of its own (a consistent snapshot while
//! the server keeps writing), written to a temporary file in the data directory and streamed
//! back as a download; the file is unlinked as soon as it is open, so nothing is left behind
//! even when the download is cut short.

use std::io::Read;
use std::path::{Path as FsPath, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use kefu_model::enums::Role;
use maud::{html, Markup};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::form::FormData;
use super::layout::{self, form_fields};
use super::table::{export_links, Cell, Table};
use super::{after_action, blocking, fmt_time, label, Ctx, Lang, PageError, Posted};
use crate::api::blocking as run;
use crate::auth::{self, now_ms, NewUser, Principal};
use crate::error::ServerError;
use crate::http::AppState;

/// Administration pages.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users_page))
        .route("/admin/users/add", post(add_user_form))
        .route("/admin/users/{id}/disable", post(disable_user_form))
        .route("/admin/users/{id}/enable", post(enable_user_form))
        .route("/admin/users/{id}/update", post(update_user_form))
        .route("/admin/devices", get(devices_page))
        .route("/admin/devices/{id}/revoke", post(revoke_device_form))
        .route("/admin/backup", get(backup_page).post(backup_download_form))
}

fn only_admin(lang: Lang) -> ServerError {
    ServerError::Forbidden(lang.t("只有管理员可以使用此页面", "Only an admin may use this page").into())
}

/// 403 unless the signed-in person is an admin.
fn require_admin(ctx: &Ctx) -> Result<(), PageError> {
    if ctx.p.role == Role::Admin {
        Ok(())
    } else {
        Err(ctx.error(only_admin(ctx.lang)))
    }
}

fn check_admin(p: &Principal) -> Result<(), ServerError> {
    if p.role == Role::Admin {
        Ok(())
    } else {
        Err(ServerError::Forbidden("只有管理员可以这样做 / only an admin may do this".into()))
    }
}

fn role_label(lang: Lang, role: &str) -> String {
    role.parse::<Role>().map_or_else(|_| role.to_string(), |r| label(lang, r.label_zh(), r.as_str()))
}

// ---- users ----------------------------------------------------------------------------------

/// A user account as the admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserRow {
    /// User id.
    pub id: String,
    /// Sign-in name.
    pub username: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// `field`, `agent`, `supervisor` or `admin`.
    pub role: String,
    /// Team (absent for admins).
    pub team: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Disabled since, Unix ms; absent while the account is in use.
    pub disabled_at: Option<i64>,
    /// Devices not revoked.
    pub active_devices: i64,
}

/// Every user account: enabled first, then by team, role and name (`GET /admin/users`).
pub fn list_users(conn: &Connection) -> Result<Vec<UserRow>, ServerError> {
    let mut s = conn.prepare_cached(
        "SELECT u.id, u.username, u.display_name, u.role, u.team, u.created_at, u.disabled_at, \
         (SELECT count(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL) \
         FROM users u ORDER BY u.disabled_at IS NOT NULL, coalesce(u.team, ''), u.role, u.display_name, u.username",
    )?;
    let rows = s.query_map([], |r| {
        Ok(UserRow {
            id: r.get(0)?,
            username: r.get(1)?,
            display_name: r.get(2)?,
            role: r.get(3)?,
            team: r.get(4)?,
            created_at: r.get(5)?,
            disabled_at: r.get(6)?,
            active_devices: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A new account (`POST /admin/users/add`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NewUserInput {
    /// Sign-in name: 1–64 characters without spaces.
    pub username: String,
    /// Name shown in the UI (the username when absent).
    pub display_name: Option<String>,
    /// `field`, `agent`, `supervisor` or `admin`.
    pub role: String,
    /// Team: required for everyone but admins (an admin has none).
    pub team: Option<String>,
    /// Initial password: at least 8 characters.
    pub password: String,
}

/// Changes to an account (`POST /admin/users/{id}/update`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct UserUpdateInput {
    /// New role.
    pub role: String,
    /// New team: required for everyone but admins (cleared for an admin).
    pub team: Option<String>,
    /// New display name (unchanged when absent).
    pub display_name: Option<String>,
}

fn parse_role(role: &str) -> Result<Role, ServerError> {
    role.trim().parse::<Role>().map_err(|e| ServerError::BadRequest(format!("角色无效 / invalid role: {e}")))
}

/// The team a `role` gets: none for an admin; a non-empty name of at most 64 characters
/// otherwise.
fn team_for(role: Role, team: Option<&str>) -> Result<Option<String>, ServerError> {
    if role == Role::Admin {
        return Ok(None);
    }
    let team = team.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
        ServerError::BadRequest(format!("{}必须属于一个组 / {role} accounts need a team", role.label_zh()))
    })?;
    if team.chars().count() > 64 {
        return Err(ServerError::BadRequest(
            "组名最多 64 个字符 / a team name has at most 64 characters".into(),
        ));
    }
    Ok(Some(team.to_string()))
}

fn display_name_ok(name: Option<&str>) -> Result<Option<String>, ServerError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(n) if n.chars().count() > 100 => {
            Err(ServerError::BadRequest("姓名最多 100 个字符 / a name has at most 100 characters".into()))
        }
        Some(n) => Ok(Some(n.to_string())),
    }
}

/// Creates an account; returns the new user's id.
pub fn create_user(conn: &Connection, input: &NewUserInput) -> Result<String, ServerError> {
    let role = parse_role(&input.role)?;
    let team = team_for(role, input.team.as_deref())?;
    let user = NewUser {
        username: input.username.trim().to_string(),
        role,
        team,
        display_name: display_name_ok(input.display_name.as_deref())?,
    };
    auth::add_user(conn, &user, &input.password)
}

/// Adds a user (admins only); the message names them.
pub fn add_user(st: &AppState, p: &Principal, input: &NewUserInput) -> Result<String, ServerError> {
    check_admin(p)?;
    let id = create_user(&st.db.lock(), input)?;
    let name = input.username.trim();
    Ok(format!("已添加用户 {name}（{id}） / user {name} added ({id})"))
}

struct Account {
    username: String,
    role: String,
    team: Option<String>,
    disabled: bool,
}

fn account(conn: &Connection, id: &str) -> Result<Account, ServerError> {
    conn.query_row(
        "SELECT username, role, team, disabled_at IS NOT NULL FROM users WHERE id = ?1",
        [id],
        |r| Ok(Account { username: r.get(0)?, role: r.get(1)?, team: r.get(2)?, disabled: r.get(3)? }),
    )
    .optional()?
    .ok_or_else(|| ServerError::NotFound(format!("没有此用户 / no user {id}")))
}

fn other_active_admins(conn: &Connection, id: &str) -> Result<i64, ServerError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id != ?1",
        [id],
        |r| r.get(0),
    )?)
}

/// Disables an account on `conn` (idempotent); refuses one's own and the last admin's.
pub fn disable_user_in(conn: &Connection, by: &str, id: &str, now: i64) -> Result<String, ServerError> {
    let a = account(conn, id)?;
    if id == by {
        return Err(ServerError::BadRequest(
            "不能停用自己的账号 / you cannot disable your own account".into(),
        ));
    }
    if a.role == "admin" && !a.disabled && other_active_admins(conn, id)? == 0 {
        return Err(ServerError::BadRequest(
            "不能停用最后一个管理员 / the last admin cannot be disabled".into(),
        ));
    }
    conn.execute("UPDATE users SET disabled_at = coalesce(disabled_at, ?2) WHERE id = ?1", params![id, now])?;
    Ok(a.username)
}

/// Disables a user (admins only) and closes their sync connections, as
/// `POST /api/v1/users/{id}/disable`.
pub fn disable_user(st: &AppState, p: &Principal, id: &str) -> Result<String, ServerError> {
    check_admin(p)?;
    let username = disable_user_in(&st.db.lock(), &p.user_id, id, now_ms())?;
    let closed = st.sync.hub.close_user(id, "this user was disabled");
    tracing::info!(user = %id, by = %p.user_id, closed, "user disabled");
    Ok(format!(
        "已停用 {username}，关闭 {closed} 个同步连接 / {username} disabled, {closed} sync connections closed"
    ))
}

/// Enables a disabled account again (admins only).
pub fn enable_user(st: &AppState, p: &Principal, id: &str) -> Result<String, ServerError> {
    check_admin(p)?;
    let conn = st.db.lock();
    let a = account(&conn, id)?;
    conn.execute("UPDATE users SET disabled_at = NULL WHERE id = ?1", [id])?;
    let username = a.username;
    Ok(format!("已启用 {username} / {username} enabled"))
}

/// Changes an account's role, team and name on `conn`; returns the username and whether role
/// or team changed.
pub fn update_user_in(
    conn: &Connection,
    by: &str,
    id: &str,
    input: &UserUpdateInput,
) -> Result<(String, bool), ServerError> {
    let a = account(conn, id)?;
    let role = parse_role(&input.role)?;
    let team = team_for(role, input.team.as_deref())?;
    let name = display_name_ok(input.display_name.as_deref())?;
    if a.role == "admin" && role != Role::Admin {
        if id == by {
            return Err(ServerError::BadRequest(
                "不能取消自己的管理员角色 / you cannot take away your own admin role".into(),
            ));
        }
        if !a.disabled && other_active_admins(conn, id)? == 0 {
            return Err(ServerError::BadRequest(
                "至少要保留一个管理员 / at least one admin must remain".into(),
            ));
        }
    }
    conn.execute(
        "UPDATE users SET role = ?2, team = ?3, display_name = coalesce(?4, display_name) WHERE id = ?1",
        params![id, role.as_str(), team, name],
    )?;
    Ok((a.username, a.role != role.as_str() || a.team != team))
}

/// Changes a user's role, team or name (admins only). When role or team changed, their sync
/// connections are closed so that they reconnect with the new access.
pub fn update_user(
    st: &AppState,
    p: &Principal,
    id: &str,
    input: &UserUpdateInput,
) -> Result<String, ServerError> {
    check_admin(p)?;
    let (username, changed) = update_user_in(&st.db.lock(), &p.user_id, id, input)?;
    let closed = if changed { st.sync.hub.close_user(id, "this user's role or team changed") } else { 0 };
    let role = input.role.trim();
    let team = input.team.as_deref().map(str::trim).filter(|_| role != "admin").unwrap_or("");
    Ok(format!(
        "已更新 {username}：{} {team}，关闭 {closed} 个同步连接 / {username} updated: {role} {team}, {closed} sync connections closed",
        role_label(Lang::Zh, role),
    ))
}

fn users_table(ctx: &Ctx, rows: &[UserRow]) -> Table {
    let mut t = Table::new(
        "users",
        ctx.t("用户", "Users"),
        &[
            ctx.t("姓名", "Name"),
            ctx.t("用户名", "Username"),
            ctx.t("角色", "Role"),
            ctx.t("组", "Team"),
            ctx.t("创建", "Created"),
            ctx.t("停用", "Disabled"),
            ctx.t("在用设备", "Active devices"),
            ctx.t("用户 ID", "User id"),
        ],
    );
    for u in rows {
        t.push_warn(
            vec![
                u.display_name.clone().into(),
                u.username.clone().into(),
                role_label(ctx.lang, &u.role).into(),
                u.team.clone().into(),
                fmt_time(u.created_at).into(),
                u.disabled_at.map(fmt_time).into(),
                Cell::Int(u.active_devices),
                u.id.clone().into(),
            ],
            u.disabled_at.is_some(),
        );
    }
    t
}

/// A table's rows with an extra column of actions (forms), for pages; exports use the table.
fn with_actions(t: &Table, empty: &str, heading: &str, actions: &[Markup]) -> Markup {
    html! {
        @if t.rows.is_empty() {
            p.muted { (empty) }
        } @else {
            table {
                thead { tr { @for c in &t.columns { th { (c) } } th { (heading) } } }
                tbody {
                    @for (i, row) in t.rows.iter().enumerate() {
                        tr.warn[t.warn.get(i).copied().unwrap_or(false)] {
                            @for cell in row {
                                @match cell {
                                    Cell::Link(text, href) => td { a href=(href) { (text) } },
                                    Cell::Int(_) | Cell::Num(_) => td.num { (cell.text()) },
                                    _ => td { (cell.text()) },
                                }
                            }
                            td { @if let Some(a) = actions.get(i) { (a) } }
                        }
                    }
                }
            }
        }
    }
}

fn role_options(ctx: &Ctx, selected: &str) -> Markup {
    html! {
        @for r in Role::ALL {
            option value=(r.as_str()) selected[r.as_str() == selected] { (label(ctx.lang, r.label_zh(), r.as_str())) }
        }
    }
}

#[derive(Debug, Deserialize)]
struct Fmt {
    format: Option<String>,
}

async fn users_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(q): Query<Fmt>,
) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let db = state.db.clone();
    let (rows, teams) = blocking(ctx.lang, move || {
        let conn = db.lock();
        let teams: Vec<String> = conn
            .prepare("SELECT DISTINCT team FROM users WHERE team IS NOT NULL ORDER BY team")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok((list_users(&conn)?, teams))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let t = users_table(&ctx, &rows);
    if let Some(fmt) = q.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let me = ctx.p.user_id.clone();
    let actions: Vec<Markup> = rows
        .iter()
        .map(|u| {
            html! {
                form.inline method="post" action={ "/admin/users/" (u.id) "/update" } {
                    (form_fields(&ctx))
                    select name="role" aria-label=(ctx.t("角色", "Role")) { (role_options(&ctx, &u.role)) }
                    " "
                    input name="team" value=(u.team.clone().unwrap_or_default()) list="teams" size="8"
                        placeholder=(ctx.t("组", "team")) aria-label=(ctx.t("组", "Team"));
                    " "
                    button type="submit" { (ctx.t("修改", "Change")) }
                }
                " "
                @if u.id != me {
                    @if u.disabled_at.is_none() {
                        form.inline method="post" action={ "/admin/users/" (u.id) "/disable" } {
                            (form_fields(&ctx))
                            button type="submit" { (ctx.t("停用", "Disable")) }
                        }
                    } @else {
                        form.inline method="post" action={ "/admin/users/" (u.id) "/enable" } {
                            (form_fields(&ctx))
                            button type="submit" { (ctx.t("启用", "Enable")) }
                        }
                    }
                }
            }
        })
        .collect();
    let (csv, excel) = (ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel"));
    let body = html! {
        datalist id="teams" { @for team in &teams { option value=(team) {} } }
        h2 { (ctx.t("添加用户", "Add a user")) }
        form.bar method="post" action="/admin/users/add" {
            (form_fields(&ctx))
            label { (ctx.t("用户名", "Username")) input name="username" required autocomplete="off"; }
            label { (ctx.t("姓名", "Name")) input name="display_name"; }
            label { (ctx.t("角色", "Role")) select name="role" { (role_options(&ctx, "agent")) } }
            label { (ctx.t("组（管理员不填）", "Team (none for an admin)")) input name="team" list="teams"; }
            label { (ctx.t("初始密码（至少 8 位）", "Initial password (8+ characters)"))
                input type="password" name="password" required minlength="8" autocomplete="new-password"; }
            button.primary type="submit" { (ctx.t("添加", "Add")) }
        }
        h2 { (ctx.t("全部用户", "All users")) }
        p.muted { (ctx.t("停用的账号立即不能登录，其手机的同步连接立即断开。修改角色或组后，其同步连接会断开并按新的权限重连。",
            "A disabled account can no longer sign in and its phones are disconnected at once. After a change of role or team, its sync connections are closed and reconnect with the new access.")) }
        (export_links(&ctx.here, csv, excel))
        (with_actions(&t, ctx.t("没有用户", "No users"), ctx.t("操作", "Actions"), &actions))
    };
    Ok(layout::page(&ctx, ctx.t("用户", "Users"), body))
}

fn new_user_from_form(form: &FormData) -> Result<NewUserInput, ServerError> {
    Ok(NewUserInput {
        username: form.required("username", "用户名 username")?.to_string(),
        display_name: form.get("display_name").map(str::to_string),
        role: form.required("role", "角色 role")?.to_string(),
        team: form.get("team").map(str::to_string),
        // Passwords are not trimmed.
        password: form.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default(),
    })
}

async fn add_user_form(State(state): State<AppState>, posted: Posted) -> Response {
    if let Err(e) = require_admin(&posted.ctx) {
        return e.into_response();
    }
    let p = posted.ctx.p.clone();
    let result = match new_user_from_form(&posted.form) {
        Err(e) => Err(e),
        Ok(input) => run(move || add_user(&state, &p, &input)).await,
    };
    after_action(posted.ctx.lang, &posted.back, result)
}

async fn disable_user_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if let Err(e) = require_admin(&posted.ctx) {
        return e.into_response();
    }
    let p = posted.ctx.p.clone();
    let result = run(move || disable_user(&state, &p, &id)).await;
    after_action(posted.ctx.lang, &posted.back, result)
}

async fn enable_user_form(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    if let Err(e) = require_admin(&posted.ctx) {
        return e.into_response();
    }
    let p = posted.ctx.p.clone();
    let result = run(move || enable_user(&state, &p, &id)).await;
    after_action(posted.ctx.lang, &posted.back, result)
}

async fn update_user_form(State(state): State<AppState>, Path(id): Path<String>, posted: Posted) -> Response {
    if let Err(e) = require_admin(&posted.ctx) {
        return e.into_response();
    }
    let p = posted.ctx.p.clone();
    let input = posted.form.required("role", "角色 role").map(|role| UserUpdateInput {
        role: role.to_string(),
        team: posted.form.get("team").map(str::to_string),
        display_name: posted.form.get("display_name").map(str::to_string),
    });
    let result = match input {
        Err(e) => Err(e),
        Ok(input) => run(move || update_user(&state, &p, &id, &input)).await,
    };
    after_action(posted.ctx.lang, &posted.back, result)
}

// ---- devices --------------------------------------------------------------------------------

/// A device (a phone, or a dashboard sign-in) as the admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceRow {
    /// Device id.
    pub id: String,
    /// Device name given at sign-in.
    pub name: String,
    /// Owner's user id.
    pub user_id: String,
    /// Owner's sign-in name.
    pub username: String,
    /// Owner's name.
    pub display_name: String,
    /// Registered, Unix ms.
    pub created_at: i64,
    /// Last seen, Unix ms.
    pub last_seen_at: i64,
    /// Revoked since, Unix ms; absent while it may sync.
    pub revoked_at: Option<i64>,
}

/// Which devices to list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
pub struct DeviceFilter {
    /// `active`, `revoked` or (absent) all.
    pub state: Option<String>,
    /// Only this user's devices (user id).
    pub user: Option<String>,
    /// `csv` or `xlsx` to download the list (pages only).
    pub format: Option<String>,
}

/// Devices matching `f`, newest first, at most 2000 (`GET /admin/devices`).
pub fn list_devices(conn: &Connection, f: &DeviceFilter) -> Result<Vec<DeviceRow>, ServerError> {
    let mut sql = String::from(
        "SELECT d.id, d.name, d.user_id, u.username, u.display_name, d.created_at, d.last_seen_at, d.revoked_at \
         FROM devices d JOIN users u ON u.id = d.user_id WHERE 1 = 1",
    );
    let mut args: Vec<String> = Vec::new();
    match f.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("all") => {}
        Some("active") => sql.push_str(" AND d.revoked_at IS NULL"),
        Some("revoked") => sql.push_str(" AND d.revoked_at IS NOT NULL"),
        Some(other) => {
            return Err(ServerError::BadRequest(format!(
                "状态 {other:?} 无效 / state {other:?} is not valid: active, revoked or all"
            )))
        }
    }
    if let Some(u) = f.user.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        sql.push_str(" AND d.user_id = ?");
        args.push(u.to_string());
    }
    sql.push_str(" ORDER BY d.created_at DESC, d.id LIMIT 2000");
    let mut s = conn.prepare(&sql)?;
    let rows = s.query_map(params_from_iter(args), |r| {
        Ok(DeviceRow {
            id: r.get(0)?,
            name: r.get(1)?,
            user_id: r.get(2)?,
            username: r.get(3)?,
            display_name: r.get(4)?,
            created_at: r.get(5)?,
            last_seen_at: r.get(6)?,
            revoked_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Revokes a device on `conn` (idempotent); returns its name.
pub fn revoke_device_in(conn: &Connection, id: &str, now: i64) -> Result<String, ServerError> {
    let name: String = conn
        .query_row("SELECT name FROM devices WHERE id = ?1", [id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| ServerError::NotFound(format!("没有此设备 / no device {id}")))?;
    conn.execute("UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1", params![id, now])?;
    Ok(name)
}

/// Revokes a device (admins only) and closes its sync connections, as
/// `POST /api/v1/devices/{id}/revoke`. One's own current session is refused (sign out instead).
pub fn revoke_device(st: &AppState, p: &Principal, id: &str) -> Result<String, ServerError> {
    check_admin(p)?;
    if id == p.device_id {
        return Err(ServerError::BadRequest(
            "这是您当前的登录会话，请点击“退出” / this is your current session: sign out instead".into(),
        ));
    }
    let name = revoke_device_in(&st.db.lock(), id, now_ms())?;
    let closed = st.sync.hub.close_device(id, "this device was revoked");
    tracing::info!(device = %id, by = %p.user_id, closed, "device revoked");
    Ok(format!(
        "已吊销设备 {name}（{id}），关闭 {closed} 个同步连接 / device {name} ({id}) revoked, {closed} sync connections closed"
    ))
}

async fn devices_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(f): Query<DeviceFilter>,
) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let db = state.db.clone();
    let filter = f.clone();
    let (rows, users) = blocking(ctx.lang, move || {
        let conn = db.lock();
        Ok((list_devices(&conn, &filter)?, list_users(&conn)?))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let mut t = Table::new(
        "devices",
        ctx.t("设备", "Devices"),
        &[
            ctx.t("设备", "Device"),
            ctx.t("使用者", "Owner"),
            ctx.t("用户名", "Username"),
            ctx.t("登记", "Registered"),
            ctx.t("最近使用", "Last seen"),
            ctx.t("吊销", "Revoked"),
            ctx.t("设备 ID", "Device id"),
        ],
    );
    for d in &rows {
        t.push_warn(
            vec![
                d.name.clone().into(),
                d.display_name.clone().into(),
                d.username.clone().into(),
                fmt_time(d.created_at).into(),
                fmt_time(d.last_seen_at).into(),
                d.revoked_at.map(fmt_time).into(),
                d.id.clone().into(),
            ],
            d.revoked_at.is_some(),
        );
    }
    if let Some(fmt) = f.format.as_deref() {
        return t.download(fmt).map_err(|e| ctx.error(e));
    }
    let actions: Vec<Markup> = rows
        .iter()
        .map(|d| {
            html! {
                @if d.id == ctx.p.device_id {
                    span.muted { (ctx.t("当前会话", "this session")) }
                } @else if d.revoked_at.is_none() {
                    form.inline method="post" action={ "/admin/devices/" (d.id) "/revoke" } {
                        (form_fields(&ctx))
                        button type="submit" { (ctx.t("吊销", "Revoke")) }
                    }
                }
            }
        })
        .collect();
    let sel = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let (csv, excel) = (ctx.t("导出 CSV", "Export CSV"), ctx.t("导出 Excel", "Export Excel"));
    let body = html! {
        form.bar method="get" action="/admin/devices" {
            label { (ctx.t("状态", "State"))
                select name="state" {
                    option value="" { (ctx.t("全部", "all")) }
                    option value="active" selected[sel(&f.state, "active")] { (ctx.t("在用", "active")) }
                    option value="revoked" selected[sel(&f.state, "revoked")] { (ctx.t("已吊销", "revoked")) }
                } }
            label { (ctx.t("使用者", "Owner"))
                select name="user" {
                    option value="" { (ctx.t("全部", "all")) }
                    @for u in &users { option value=(u.id) selected[sel(&f.user, &u.id)] { (u.display_name) " (" (u.username) ")" } }
                } }
            button.primary type="submit" { (ctx.t("查询", "Show")) }
        }
        p.muted { (rows.len()) (ctx.t(" 台设备。每次登录（手机或后台）登记一台设备；吊销后其令牌立即失效，同步连接立即断开。",
            " devices. Every sign-in (phone or dashboard) registers a device; revoking it invalidates its token and closes its sync connections at once.")) }
        (export_links(&ctx.here, csv, excel))
        (with_actions(&t, ctx.t("没有设备", "No devices"), ctx.t("操作", "Actions"), &actions))
    };
    Ok(layout::page(&ctx, ctx.t("设备", "Devices"), body))
}

async fn revoke_device_form(
    State(state): State<AppState>,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    if let Err(e) = require_admin(&posted.ctx) {
        return e.into_response();
    }
    let p = posted.ctx.p.clone();
    let result = run(move || revoke_device(&state, &p, &id)).await;
    after_action(posted.ctx.lang, &posted.back, result)
}

// ---- backup ---------------------------------------------------------------------------------

/// The download's file name: `kefu-backup-YYYYMMDD-HHMM.db` in local time.
pub fn backup_file_name(now: i64) -> String {
    use kefu_model::dates::{minute_of_day, Date, CHINA_UTC_OFFSET_MIN as TZ};
    let d = Date::of_time(now, TZ);
    let m = minute_of_day(now, TZ);
    format!("kefu-backup-{:04}{:02}{:02}-{:02}{:02}.db", d.year, d.month, d.day, m / 60, m % 60)
}

/// A backup written and opened for reading; its file is already removed from the directory.
#[derive(Debug)]
pub struct BackupFile {
    /// The open file (readable until dropped).
    pub file: std::fs::File,
    /// Its size in bytes.
    pub bytes: u64,
    /// The name to download it as.
    pub file_name: String,
}

fn remove_with_sidecars(path: &FsPath) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Writes a consistent backup of the server's database to a temporary file in the data
/// directory ([`crate::backup::backup`]: `VACUUM INTO` on its own connection, so the server
/// keeps working meanwhile, then a schema check of the copy), opens it and removes it from
/// the directory. Blocking: call from a blocking thread, without holding the database lock.
pub fn make_backup(st: &AppState) -> Result<BackupFile, ServerError> {
    let db_path = st.db.path();
    let data = db_path.parent().unwrap_or_else(|| FsPath::new("."));
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| ServerError::Internal(format!("no randomness: {e}")))?;
    let rand: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let now = now_ms();
    let tmp = data.join(format!(".kefu-backup-{now}-{rand}.tmp"));
    let made = crate::backup::backup(data, &tmp);
    let result = made.and_then(|made| {
        let file = std::fs::File::open(&tmp)
            .map_err(|e| ServerError::Internal(format!("cannot open the backup {}: {e}", tmp.display())))?;
        Ok(BackupFile { file, bytes: made.bytes, file_name: backup_file_name(now) })
    });
    // The open file stays readable after it is unlinked; on failure nothing is left behind.
    remove_with_sidecars(&tmp);
    if let Ok(b) = &result {
        tracing::info!(bytes = b.bytes, "backup made for download");
    }
    result
}

/// Chunks read from a file on a blocking thread, as a response body stream.
struct FileChunks(tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for FileChunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// A backup as a download response (`application/octet-stream`), streamed from the file.
pub fn backup_response(b: BackupFile) -> Response {
    let BackupFile { mut file, bytes, file_name } = b;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // The receiver is gone when the download was cut short: stop reading.
                    if tx.blocking_send(Ok(Bytes::copy_from_slice(&buf[..n]))).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let mut r = Body::from_stream(FileChunks(rx)).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&bytes.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Makes a backup and answers with it as a download (admins only).
pub async fn backup_download(st: &AppState, p: &Principal) -> Result<Response, ServerError> {
    check_admin(p)?;
    let state = st.clone();
    let b = tokio::task::spawn_blocking(move || make_backup(&state))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    Ok(backup_response(b))
}

async fn backup_page(State(state): State<AppState>, ctx: Ctx) -> Result<Response, PageError> {
    require_admin(&ctx)?;
    let db = state.db.clone();
    let (users, docs, bytes) = blocking(ctx.lang, move || {
        let bytes = db.storage_bytes();
        let conn = db.lock();
        let n = |sql: &str| -> Result<i64, ServerError> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
        Ok((n("SELECT count(*) FROM users")?, n("SELECT count(*) FROM documents")?, bytes))
    })
    .await
    .map_err(|e| ctx.error(e.error))?;
    let mb = bytes as f64 / 1_048_576.0;
    let body = html! {
        p { (ctx.t("下载整个服务器数据库的一致副本（全部账号、设备、记录及其历史）。备份时服务器照常运行，手机照常同步。",
            "Download a consistent copy of the whole server database (all accounts, devices, records and their history). The server keeps running and phones keep syncing meanwhile.")) }
        div.cards {
            div.card { div.n { (users) } (ctx.t("个账号", "accounts")) }
            div.card { div.n { (docs) } (ctx.t("份记录文档", "record documents")) }
            div.card { div.n { (format!("{mb:.1}")) } (ctx.t("MB 数据库（含日志）", "MB database (with log)")) }
        }
        form.stack method="post" action="/admin/backup" {
            (form_fields(&ctx))
            button.primary type="submit" { (ctx.t("下载备份", "Download a backup")) }
        }
        p.muted { (ctx.t("文件名形如 kefu-backup-YYYYMMDD-HHMM.db。备份含客户资料，请妥善保管。恢复时先停止服务器，再运行：",
            "The file is named kefu-backup-YYYYMMDD-HHMM.db. It holds customer data: keep it safe. To restore, stop the server, then run:")) }
        pre { "kefu-server restore --data <DIR> --from kefu-backup-YYYYMMDD-HHMM.db" }
    };
    Ok(layout::page(&ctx, ctx.t("备份", "Backup"), body))
}

async fn backup_download_form(State(state): State<AppState>, posted: Posted) -> Response {
    if let Err(e) = require_admin(&posted.ctx) {
        return e.into_response();
    }
    match backup_download(&state, &posted.ctx.p).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "backup failed");
            // Shown to the admin on the page (a full disk, say), not as a bare 500.
            let msg = format!("{}: {e}", posted.ctx.t("备份失败", "The backup failed"));
            after_action(posted.ctx.lang, &posted.back, Err(ServerError::BadRequest(msg)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, crate::db::Db) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = crate::db::Db::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, db)
    }

    fn input(username: &str, role: &str, team: Option<&str>) -> NewUserInput {
        NewUserInput {
            username: username.into(),
            display_name: Some(format!("{username} 名")),
            role: role.into(),
            team: team.map(Into::into),
            password: "password-1".into(),
        }
    }

    fn state(db: crate::db::Db) -> AppState {
        AppState::new(db, crate::sync::Limits::default())
    }

    fn admin(id: &str) -> Principal {
        Principal { user_id: id.into(), device_id: "web".into(), role: Role::Admin, team: None }
    }

    #[test]
    fn admins_add_users_and_mistakes_come_back_as_messages() {
        let (_d, db) = db();
        let st = state(db);
        let root = create_user(&st.db.lock(), &input("root", "admin", Some("ignored")))
            .unwrap_or_else(|e| panic!("{e}"));
        let msg = add_user(&st, &admin(&root), &input("li", "agent", Some(" 一组 ")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(msg.contains("li"), "{msg}");
        let users = list_users(&st.db.lock()).unwrap_or_else(|e| panic!("{e}"));
        let li = users.iter().find(|u| u.username == "li").unwrap_or_else(|| panic!("li listed"));
        assert_eq!(
            (li.role.as_str(), li.team.as_deref(), li.display_name.as_str()),
            ("agent", Some("一组"), "li 名")
        );
        let root_row = users.iter().find(|u| u.id == root).unwrap_or_else(|| panic!("root listed"));
        assert_eq!(root_row.team, None, "an admin has no team");

        let bad = |i: NewUserInput| add_user(&st, &admin(&root), &i);
        assert!(
            matches!(bad(input("li", "agent", Some("一组"))), Err(ServerError::BadRequest(m)) if m.contains("exists"))
        );
        assert!(
            matches!(bad(input("wang", "agent", None)), Err(ServerError::BadRequest(m)) if m.contains("team"))
        );
        assert!(
            matches!(bad(input("wang", "boss", Some("一组"))), Err(ServerError::BadRequest(m)) if m.contains("role"))
        );
        assert!(matches!(bad(input("has space", "agent", Some("一组"))), Err(ServerError::BadRequest(_))));
        let mut short = input("wang", "agent", Some("一组"));
        short.password = "short".into();
        assert!(matches!(bad(short), Err(ServerError::BadRequest(m)) if m.contains("password")));
        // A supervisor may not.
        let sup = Principal {
            user_id: "s".into(),
            device_id: "w".into(),
            role: Role::Supervisor,
            team: Some("一组".into()),
        };
        assert!(matches!(
            add_user(&st, &sup, &input("x", "agent", Some("一组"))),
            Err(ServerError::Forbidden(_))
        ));
        assert_eq!(list_users(&st.db.lock()).unwrap_or_else(|e| panic!("{e}")).len(), 2);
    }

    #[test]
    fn disabling_stops_sign_in_and_protects_the_last_admin() {
        let (_d, db) = db();
        let st = state(db);
        let root =
            create_user(&st.db.lock(), &input("root", "admin", None)).unwrap_or_else(|e| panic!("{e}"));
        let li =
            create_user(&st.db.lock(), &input("li", "agent", Some("一组"))).unwrap_or_else(|e| panic!("{e}"));
        let token = {
            let conn = st.db.lock();
            auth::issue_token(&conn, &li, "agent", "phone").unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}")).is_some());
        // Using the token keeps the device's "last seen" current (to the minute).
        let seen = |st: &AppState| -> i64 {
            st.db
                .lock()
                .query_row("SELECT last_seen_at FROM devices WHERE user_id = ?1", [&li], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        st.db
            .lock()
            .execute("UPDATE devices SET last_seen_at = 1000 WHERE user_id = ?1", [&li])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}")).is_some());
        let first = seen(&st);
        assert!(first > auth::now_ms() - 10_000, "{first}");
        assert!(auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}")).is_some());
        assert_eq!(seen(&st), first, "not rewritten within the minute");

        disable_user(&st, &admin(&root), &li).unwrap_or_else(|e| panic!("{e}"));
        assert!(auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}")).is_none());
        assert!(auth::find_login(&st.db.lock(), "li").unwrap_or_else(|e| panic!("{e}")).is_none());
        let row = list_users(&st.db.lock()).unwrap_or_else(|e| panic!("{e}"));
        assert!(row.iter().any(|u| u.id == li && u.disabled_at.is_some()));
        // Twice is fine; an unknown id is not found; oneself is refused.
        assert!(disable_user(&st, &admin(&root), &li).is_ok());
        assert!(matches!(disable_user(&st, &admin(&root), "u-nobody"), Err(ServerError::NotFound(_))));
        assert!(matches!(disable_user(&st, &admin(&root), &root), Err(ServerError::BadRequest(_))));
        // Enabled again, the token works again.
        enable_user(&st, &admin(&root), &li).unwrap_or_else(|e| panic!("{e}"));
        assert!(auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}")).is_some());

        // Role and team changes: validated; the last admin keeps the role.
        let up = |role: &str, team: Option<&str>| UserUpdateInput {
            role: role.into(),
            team: team.map(Into::into),
            display_name: None,
        };
        update_user(&st, &admin(&root), &li, &up("supervisor", Some("二组")))
            .unwrap_or_else(|e| panic!("{e}"));
        let p = auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.map(|p| (p.role, p.team)), Some((Role::Supervisor, Some("二组".into()))));
        assert!(matches!(
            update_user(&st, &admin(&root), &li, &up("agent", Some(" "))),
            Err(ServerError::BadRequest(_))
        ));
        assert!(matches!(
            update_user(&st, &admin(&root), &li, &up("chief", Some("x"))),
            Err(ServerError::BadRequest(_))
        ));
        assert!(matches!(
            update_user(&st, &admin(&root), &root, &up("agent", Some("x"))),
            Err(ServerError::BadRequest(_))
        ));
        let other =
            create_user(&st.db.lock(), &input("root2", "admin", None)).unwrap_or_else(|e| panic!("{e}"));
        disable_user(&st, &admin(&other), &root).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            update_user(&st, &admin(&root), &other, &up("agent", Some("x"))),
            Err(ServerError::BadRequest(m)) if m.contains("admin")
        ));
    }

    #[test]
    fn devices_are_listed_and_revoked() {
        let (_d, db) = db();
        let st = state(db);
        let root =
            create_user(&st.db.lock(), &input("root", "admin", None)).unwrap_or_else(|e| panic!("{e}"));
        let li =
            create_user(&st.db.lock(), &input("li", "agent", Some("一组"))).unwrap_or_else(|e| panic!("{e}"));
        let token =
            auth::issue_token(&st.db.lock(), &li, "agent", "李娜的手机").unwrap_or_else(|e| panic!("{e}"));
        let all = list_devices(&st.db.lock(), &DeviceFilter::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].name.as_str(), all[0].username.as_str()), ("李娜的手机", "li"));
        revoke_device(&st, &admin(&root), &token.device_id).unwrap_or_else(|e| panic!("{e}"));
        assert!(auth::principal(&st.db.lock(), &token.token).unwrap_or_else(|e| panic!("{e}")).is_none());
        let f = |s: &str| DeviceFilter { state: Some(s.into()), user: None, format: None };
        assert!(list_devices(&st.db.lock(), &f("active")).unwrap_or_else(|e| panic!("{e}")).is_empty());
        assert_eq!(list_devices(&st.db.lock(), &f("revoked")).unwrap_or_else(|e| panic!("{e}")).len(), 1);
        assert!(matches!(list_devices(&st.db.lock(), &f("weird")), Err(ServerError::BadRequest(_))));
        assert!(matches!(revoke_device(&st, &admin(&root), "d-none"), Err(ServerError::NotFound(_))));
        let mut me = admin(&root);
        me.device_id = token.device_id.clone();
        assert!(matches!(revoke_device(&st, &me, &token.device_id), Err(ServerError::BadRequest(_))));
    }

    #[tokio::test]
    async fn a_backup_downloads_and_leaves_no_file_behind() {
        let (dir, db) = db();
        let st = state(db);
        let root =
            create_user(&st.db.lock(), &input("root", "admin", None)).unwrap_or_else(|e| panic!("{e}"));
        let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")).collect();
        let r = backup_download(&st, &admin(&root)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), axum::http::StatusCode::OK);
        let disp = r
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(disp.starts_with("attachment; filename=\"kefu-backup-") && disp.ends_with(".db\""), "{disp}");
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(bytes.starts_with(b"SQLite format 3\0"));
        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}")).collect();
        assert_eq!(before.len(), after.len(), "the temporary file is gone");
        // The copy is a Kefu database with the user.
        let out = dir.path().join("copy.db");
        std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let conn = Connection::open(&out).unwrap_or_else(|e| panic!("{e}"));
        let facts = crate::backup::check_schema(&conn, &out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(facts.users, 1);
        // A supervisor may not.
        let sup = Principal {
            user_id: "s".into(),
            device_id: "w".into(),
            role: Role::Supervisor,
            team: Some("A".into()),
        };
        assert!(matches!(backup_download(&st, &sup).await, Err(ServerError::Forbidden(_))));
        assert_eq!(backup_file_name(1_794_276_000_000), "kefu-backup-20261110-1000.db");
    }
}
