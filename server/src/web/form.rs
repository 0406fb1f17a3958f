//! Posted forms: the session and CSRF check, and typed access to the fields with messages a
//! person can act on.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::{safe_back, Ctx, PageError};
use crate::error::ServerError;
use crate::http::AppState;

/// Largest form accepted (a template or a long note fits easily).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A form posted by a signed-in dashboard user whose CSRF token matched.
#[derive(Debug)]
pub struct Posted {
    /// Who posted it.
    pub ctx: Ctx,
    /// The fields.
    pub form: FormData,
    /// Where to go back to afterwards.
    pub back: String,
}

/// The fields of a form, in order; a name may repeat (checkbox lists).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// Parses `application/x-www-form-urlencoded` bytes.
    pub fn parse(bytes: &[u8]) -> Result<FormData, ServerError> {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
            .map(FormData)
            .map_err(|e| ServerError::BadRequest(format!("the form could not be read: {e}")))
    }

    /// The first value of `name`, trimmed; `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty()).collect()
    }

    /// A required field; the error names it by its label.
    pub fn required(&self, name: &str, label: &str) -> Result<&str, ServerError> {
        self.get(name).ok_or_else(|| ServerError::BadRequest(format!("{label}: required / 必填")))
    }

    /// A required field parsed as `T` (numbers, enums); the error names the field and value.
    pub fn parsed<T: std::str::FromStr>(&self, name: &str, label: &str) -> Result<T, ServerError> {
        let v = self.required(name, label)?;
        v.parse().map_err(|_| ServerError::BadRequest(format!("{label}: {v:?} is not valid / 无效")))
    }

    /// An optional field parsed as `T`.
    pub fn optional<T: std::str::FromStr>(&self, name: &str, label: &str) -> Result<Option<T>, ServerError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ServerError::BadRequest(format!("{label}: {v:?} is not valid / 无效"))),
        }
    }

    /// A checkbox.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Whether a state-changing request comes from this site: an `Origin` header, when present,
/// must name the host the request was sent to.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return true };
    if origin == "null" {
        return false;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, state).await?;
        let lang = ctx.lang;
        let fail =
            |e: ServerError| PageError { lang, ctx: Some(Box::new(ctx.clone())), error: e }.into_response();
        if !same_origin(&parts.headers) {
            return Err(fail(ServerError::Forbidden(
                lang.t("请求来自其他网站，已拒绝", "A request from another site was refused").into(),
            )));
        }
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        if bytes.len() > MAX_FORM_BYTES {
            return Err(fail(ServerError::BadRequest(lang.t("表单太大", "The form is too large").into())));
        }
        let form = FormData::parse(&bytes).map_err(fail)?;
        if form.get("_csrf") != Some(ctx.csrf.as_str()) {
            return Err(fail(ServerError::Forbidden(
                lang.t("页面已过期，请刷新后重试", "The page has expired; reload it and try again").into(),
            )));
        }
        let back = safe_back(form.get("_back"), "/");
        Ok(Posted { ctx, form, back })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_trimmed_and_repeat() {
        let f = FormData::parse("a=+1+&b=x&b=&b=y&n=12&bad=zz".as_bytes()).unwrap_or_default();
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.all("b"), vec!["x", "y"]);
        assert_eq!(f.parsed::<i64>("n", "n").ok(), Some(12));
        assert!(f.parsed::<i64>("bad", "金额").is_err());
        assert!(f.required("missing", "姓名").is_err());
        assert_eq!(f.optional::<i64>("missing", "x").ok(), Some(None));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap_or_else(|e| panic!("{e}")));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap_or_else(|e| panic!("{e}")));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap_or_else(|e| panic!("{e}")));
        assert!(!same_origin(&h));
    }
}
