//! Sign-in, sign-out and the language switch.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use kefu_model::enums::Role;
use maud::html;
use rusqlite::params;
use serde::Deserialize;

use super::form::{same_origin, FormData};
use super::{layout, safe_back, Lang, Posted, LANG_COOKIE, SESSION_COOKIE};
use crate::auth;
use crate::error::ServerError;
use crate::http::AppState;

/// How long a dashboard session lasts.
pub const SESSION_LIFETIME_MS: i64 = 12 * 3_600_000;
/// The device name of dashboard sessions (shown in the device list).
pub const SESSION_DEVICE: &str = "网页后台 dashboard";

/// Sign-in, sign-out, language.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/lang/{code}", get(switch_lang))
}

#[derive(Debug, Deserialize)]
struct Next {
    next: Option<String>,
    err: Option<String>,
}

fn login_form(lang: Lang, next: &str, err: Option<&str>, username: &str) -> Response {
    let body = html! {
        @if let Some(e) = err { div.flash.err role="alert" { (e) } }
        form.stack method="post" action="/login" {
            input type="hidden" name="next" value=(next);
            label { (lang.t("用户名", "Username")) input name="username" autocomplete="username" value=(username) autofocus; }
            label { (lang.t("密码", "Password")) input name="password" type="password" autocomplete="current-password"; }
            button.primary type="submit" { (lang.t("登录", "Sign in")) }
        }
        p.muted { (lang.t("只供客服主管和管理员使用。", "For supervisors and admins.")) " "
            a href={ "/lang/" (lang.t("en", "zh")) "?back=/login" } { (lang.t("English", "中文")) } }
    };
    layout::bare(lang, lang.t("登录客服后台", "Sign in to the Kefu dashboard"), body)
}

async fn login_page(headers: HeaderMap, Query(q): Query<Next>) -> Response {
    let lang = Lang::from_headers(&headers);
    let next = safe_back(q.next.as_deref(), "/");
    login_form(lang, &next, q.err.as_deref(), "")
}

async fn login(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let lang = Lang::from_headers(&headers);
    let form = match FormData::parse(&body) {
        Ok(f) => f,
        Err(e) => return login_form(lang, "/", Some(&e.to_string()), ""),
    };
    let next = safe_back(form.get("next"), "/");
    let username = form.get("username").unwrap_or("").to_string();
    if !same_origin(&headers) {
        return login_form(
            lang,
            &next,
            Some(lang.t("请求来自其他网站，已拒绝", "A request from another site was refused")),
            &username,
        );
    }
    let password = form.0.iter().find(|(k, _)| k == "password").map(|(_, v)| v.clone()).unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return login_form(
            lang,
            &next,
            Some(lang.t("请输入用户名和密码", "Enter your username and password")),
            &username,
        );
    }
    let db = state.db.clone();
    let user = username.clone();
    let res = tokio::task::spawn_blocking(move || -> Result<Option<String>, ServerError> {
        let found = auth::find_login(&db.lock(), &user)?;
        let Some((user_id, role, hash)) = found else {
            auth::burn_time(&password);
            return Err(ServerError::Unauthorized);
        };
        if !auth::password_matches(&hash, &password) {
            return Err(ServerError::Unauthorized);
        }
        let r: Role = role.parse().map_err(|_| ServerError::Unauthorized)?;
        if !matches!(r, Role::Supervisor | Role::Admin) {
            return Ok(None);
        }
        let conn = db.lock();
        let issued = auth::issue_token(&conn, &user_id, &role, SESSION_DEVICE)?;
        conn.execute(
            "UPDATE tokens SET expires_at = ?2 WHERE device_id = ?1",
            params![issued.device_id, auth::now_ms() + SESSION_LIFETIME_MS],
        )?;
        Ok(Some(issued.token))
    })
    .await
    .unwrap_or_else(|e| Err(ServerError::Internal(e.to_string())));
    match res {
        Ok(Some(token)) => {
            let cookie = format!(
                "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
                SESSION_LIFETIME_MS / 1000,
                secure_suffix(&headers)
            );
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => login_form(
            lang,
            &next,
            Some(lang.t(
                "后台只供客服主管和管理员使用；请在手机应用中工作",
                "The dashboard is for supervisors and admins; please work in the phone app",
            )),
            &username,
        ),
        Err(ServerError::Unauthorized) => {
            login_form(lang, &next, Some(lang.t("用户名或密码不对", "Wrong username or password")), &username)
        }
        Err(e) => super::PageError { lang, ctx: None, error: e }.into_response(),
    }
}

/// `; Secure` when the request came over HTTPS through a proxy.
fn secure_suffix(headers: &HeaderMap) -> &'static str {
    match headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) {
        Some("https") => "; Secure",
        _ => "",
    }
}

async fn logout(State(state): State<AppState>, posted: Posted) -> Response {
    let device = posted.ctx.p.device_id.clone();
    let db = state.db.clone();
    let d = device.clone();
    let _ = tokio::task::spawn_blocking(move || {
        db.lock().execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
            params![d, auth::now_ms()],
        )
    })
    .await;
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) =
        HeaderValue::from_str(&format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
struct Back {
    back: Option<String>,
}

async fn switch_lang(Path(code): Path<String>, Query(q): Query<Back>) -> Response {
    let code = if code == "en" { "en" } else { "zh" };
    let mut r = Redirect::to(&safe_back(q.back.as_deref(), "/")).into_response();
    if let Ok(v) =
        HeaderValue::from_str(&format!("{LANG_COOKIE}={code}; SameSite=Lax; Path=/; Max-Age=31536000"))
    {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
