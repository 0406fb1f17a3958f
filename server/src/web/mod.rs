//! The supervisor dashboard: server-rendered pages (maud), in Chinese and English.
//!
//! Every page is a plain HTML form or link: no JavaScript build, nothing to install. A page
//! handler takes a [`Ctx`] (the signed-in supervisor or admin, their language, the CSRF token
//! and the flash message of the last action) and returns HTML; a form handler takes a
//! [`Posted`] (the same, plus the checked form fields) and answers with a redirect back to the
//! page, carrying `?ok=` or `?err=` so the result shows on the page. Bad input never gives a
//! 500: record rules fail as `ServerError::BadRequest`, which becomes the message.
//!
//! Sessions: signing in issues an ordinary device token (device "网页后台 dashboard", 12 hours)
//! set as an `HttpOnly; SameSite=Strict` cookie; signing out revokes that device. Every POST
//! carries a CSRF token derived from the session token (`_csrf` field), and a POST whose
//! `Origin` names another host is refused.

pub mod admin;
pub mod appearance;
pub mod assign;
pub mod attendance;
pub mod boards;
pub mod campaigns;
pub mod customers;
pub mod evidence;
pub mod form;
pub mod home;
pub mod kpi;
pub mod layout;
pub mod review;
pub mod session;
pub mod table;
pub mod visit;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use kefu_model::enums::Role;
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::error::ServerError;
use crate::http::AppState;

pub use form::Posted;

/// The session cookie.
pub const SESSION_COOKIE: &str = "kefu_session";
/// The language cookie (`zh` or `en`).
pub const LANG_COOKIE: &str = "kefu_lang";

/// The dashboard's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::overview))
        .merge(session::routes())
        .merge(customers::routes())
        .merge(boards::routes())
        .merge(visit::routes())
        .merge(appearance::routes())
        .merge(attendance::routes())
        .merge(review::routes())
        .merge(kpi::routes())
        .merge(admin::routes())
        .merge(assign::routes())
        .merge(campaigns::routes())
}

/// Interface language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文 (the default).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Picks the Chinese or the English text.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// `zh` or `en`.
    pub fn code(self) -> &'static str {
        self.t("zh", "en")
    }

    /// From the cookie, else the browser's `Accept-Language`, else Chinese.
    pub fn from_headers(headers: &HeaderMap) -> Lang {
        match cookie(headers, LANG_COOKIE).as_deref() {
            Some("en") => return Lang::En,
            Some("zh") => return Lang::Zh,
            _ => {}
        }
        let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if accept.trim_start().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }
}

/// The label of a stored enum value: the Chinese label, or the value in words in English.
pub fn label(lang: Lang, zh: &str, code: &str) -> String {
    match lang {
        Lang::Zh => zh.to_string(),
        Lang::En => code.replace('_', " "),
    }
}

/// A cookie's value.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The CSRF token of a session: derived from the session token, so it needs no storage and
/// cannot be guessed without the cookie.
pub fn csrf_for(session_token: &str) -> String {
    let d = Sha256::digest(format!("kefu-csrf\0{session_token}").as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The flash message carried back after an action.
#[derive(Debug, Clone, Default)]
pub struct Flash {
    /// What worked.
    pub ok: Option<String>,
    /// What went wrong, in words the person can act on.
    pub err: Option<String>,
}

/// The signed-in dashboard user of a request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who.
    pub p: Principal,
    /// Their display name.
    pub name: String,
    /// Interface language.
    pub lang: Lang,
    /// The CSRF token to put into forms.
    pub csrf: String,
    /// The path and query of this request (for "back" links and language switching).
    pub here: String,
    /// The message of the last action.
    pub flash: Flash,
}

impl Ctx {
    /// Picks the Chinese or English text.
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
    }

    /// The supervisor's team, or a 403 for an admin (admins hold no records).
    pub fn team(&self) -> Result<String, PageError> {
        match (&self.p.role, &self.p.team) {
            (Role::Supervisor, Some(t)) => Ok(t.clone()),
            _ => Err(self.error(ServerError::Forbidden(
                self.t("只有客服主管可以查看本组记录", "Only a supervisor can see a team's records").into(),
            ))),
        }
    }

    /// An error page in this person's language.
    pub fn error(&self, e: ServerError) -> PageError {
        PageError { lang: self.lang, ctx: Some(Box::new(self.clone())), error: e }
    }
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    let q = query?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Resolves the session of a request: `Ok(None)` when there is none or it expired.
pub async fn session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Principal, String)>, ServerError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else { return Ok(None) };
    match crate::sync::resolve(state, Some(token.clone())).await {
        Ok(p) => Ok(Some((p, token))),
        Err(ServerError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = Lang::from_headers(&parts.headers);
        let here = parts.uri.path_and_query().map_or_else(|| "/".to_string(), |pq| pq.as_str().to_string());
        let found = session(state, &parts.headers)
            .await
            .map_err(|e| PageError { lang, ctx: None, error: e }.into_response())?;
        let Some((p, token)) = found else {
            let next = serde_urlencoded::to_string([("next", here.as_str())]).unwrap_or_default();
            return Err(Redirect::to(&format!("/login?{next}")).into_response());
        };
        if !matches!(p.role, Role::Supervisor | Role::Admin) {
            return Err(PageError {
                lang,
                ctx: None,
                error: ServerError::Forbidden(
                    lang.t(
                        "后台只供客服主管和管理员使用；请在手机应用中工作",
                        "The dashboard is for supervisors and admins; please work in the phone app",
                    )
                    .into(),
                ),
            }
            .into_response());
        }
        let db = state.db.clone();
        let user = p.user_id.clone();
        let name = tokio::task::spawn_blocking(move || {
            db.lock()
                .query_row("SELECT display_name FROM users WHERE id = ?1", [user], |r| r.get::<_, String>(0))
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| p.user_id.clone());
        let query = parts.uri.query();
        let flash = Flash { ok: query_param(query, "ok"), err: query_param(query, "err") };
        Ok(Ctx { name, lang, csrf: csrf_for(&token), here, flash, p })
    }
}

/// An error shown as a page (status from the error; internals never shown).
#[derive(Debug)]
pub struct PageError {
    /// Language of the page.
    pub lang: Lang,
    /// The signed-in person, when known (for the navigation).
    pub ctx: Option<Box<Ctx>>,
    /// What went wrong.
    pub error: ServerError,
}

impl From<(Lang, ServerError)> for PageError {
    fn from((lang, error): (Lang, ServerError)) -> Self {
        PageError { lang, ctx: None, error }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let (status, msg) = match &self.error {
            ServerError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ServerError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            ServerError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            ServerError::Unauthorized => {
                (StatusCode::UNAUTHORIZED, lang.t("请先登录", "Please sign in").to_string())
            }
            other => {
                tracing::error!(error = %other, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    lang.t("服务器内部错误，已记录日志", "Internal error; it has been logged").to_string(),
                )
            }
        };
        let body = maud::html! {
            div.flash.err role="alert" { (msg) }
            p { a href="/" { (lang.t("返回首页", "Back to the overview")) } }
        };
        let title = lang.t("出错了", "Something went wrong");
        let page = match self.ctx {
            Some(ctx) => layout::page(&ctx, title, body),
            None => layout::bare(lang, title, body),
        };
        (status, page).into_response()
    }
}

/// The result of a page handler.
pub type PageResult = Result<Response, PageError>;

/// Where a form goes back to: its `_back` field when that is a local path, else `fallback`.
pub fn safe_back(back: Option<&str>, fallback: &str) -> String {
    match back {
        Some(b) if b.starts_with('/') && !b.starts_with("//") && !b.contains('\\') => b.to_string(),
        _ => fallback.to_string(),
    }
}

/// Redirects to `back` with the action's outcome as the flash message. Problems the person can
/// fix (bad input, not found, not allowed) come back as `?err=`; internal errors are a 500 page.
pub fn after_action(lang: Lang, back: &str, result: Result<String, ServerError>) -> Response {
    // Drop any earlier flash from the path.
    let base = strip_flash(back);
    let sep = if base.contains('?') { '&' } else { '?' };
    match result {
        Ok(msg) => {
            let q = serde_urlencoded::to_string([("ok", msg)]).unwrap_or_default();
            Redirect::to(&format!("{base}{sep}{q}")).into_response()
        }
        Err(ServerError::BadRequest(m) | ServerError::NotFound(m) | ServerError::Forbidden(m)) => {
            let q = serde_urlencoded::to_string([("err", m)]).unwrap_or_default();
            Redirect::to(&format!("{base}{sep}{q}")).into_response()
        }
        Err(e) => PageError { lang, ctx: None, error: e }.into_response(),
    }
}

fn strip_flash(path: &str) -> String {
    let Some((p, q)) = path.split_once('?') else { return path.to_string() };
    let kept: Vec<&str> =
        q.split('&').filter(|kv| !kv.starts_with("ok=") && !kv.starts_with("err=")).collect();
    if kept.is_empty() {
        p.to_string()
    } else {
        format!("{p}?{}", kept.join("&"))
    }
}

/// Runs blocking database work off the async threads (a page's queries).
pub async fn blocking<T: Send + 'static>(
    lang: Lang,
    f: impl FnOnce() -> Result<T, ServerError> + Send + 'static,
) -> Result<T, PageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PageError::from((lang, ServerError::Internal(e.to_string()))))?
        .map_err(|e| PageError::from((lang, e)))
}

/// Formats Unix ms as local `YYYY-MM-DD HH:MM` (the department's time zone, as the records).
pub fn fmt_time(ms: i64) -> String {
    use kefu_model::dates::{minute_of_day, Date, CHINA_UTC_OFFSET_MIN as TZ};
    let m = minute_of_day(ms, TZ);
    format!("{} {:02}:{:02}", Date::of_time(ms, TZ), m / 60, m % 60)
}

/// Today's local date.
pub fn today() -> kefu_model::dates::Date {
    kefu_model::dates::Date::of_time(crate::auth::now_ms(), kefu_model::dates::CHINA_UTC_OFFSET_MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_paths_stay_local_and_flash_is_replaced() {
        assert_eq!(safe_back(Some("/customers?q=王"), "/"), "/customers?q=王");
        assert_eq!(safe_back(Some("//evil.example/"), "/"), "/");
        assert_eq!(safe_back(Some("https://evil.example/"), "/x"), "/x");
        assert_eq!(safe_back(None, "/x"), "/x");
        assert_eq!(strip_flash("/a?ok=1&q=2&err=3"), "/a?q=2");
        assert_eq!(strip_flash("/a?ok=1"), "/a");
    }

    #[test]
    fn csrf_depends_on_the_session() {
        assert_ne!(csrf_for("a"), csrf_for("b"));
        assert_eq!(csrf_for("a").len(), 32);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; kefu_lang=en; kefu_session=tok".parse().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(Lang::from_headers(&h), Lang::En);
    }
}
