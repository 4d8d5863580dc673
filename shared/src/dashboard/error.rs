//! The Dashboard API's one error enum: each refusal knows its status, its code and, for a
//! bad parameter, the field; [`DashError::to_reply`] is the only place they become JSON.

use super::jwt::TokenError;
use super::params::ParamError;
use crate::Reply;
use serde_json::json;

/// Every way a dashboard request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DashError {
    /// 401: no bearer token and no session cookie.
    NoToken,
    /// 401: the token failed verification.
    Token(TokenError),
    /// 401: the token was logged out.
    Revoked,
    /// 403: the token does not cover this write-key id.
    Forbidden(String),
    /// 400: a query parameter is wrong.
    Param(ParamError),
    /// 400: the login body is wrong (field, message).
    Body(&'static str, String),
    /// 401: wrong user name or password.
    LoginFailed,
    /// 403: no `DASHBOARD_USERS` configured.
    LoginClosed,
    /// 429: too many login attempts; seconds to wait.
    RateLimited(u64),
    /// 403: a cross-origin request from an origin not in `ALLOWED_ORIGINS`.
    Origin,
    /// 404.
    NotFound,
    /// 405, with the allowed methods.
    Method(&'static str),
    /// 502: ClickHouse or Redis failed.
    Upstream(String),
    /// 503: a backend could not be reached.
    Unavailable(String),
    /// 500: the function's configuration is invalid.
    Config(String),
}

impl DashError {
    /// HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoToken | Self::Token(_) | Self::Revoked | Self::LoginFailed => 401,
            Self::Forbidden(_) | Self::LoginClosed | Self::Origin => 403,
            Self::Param(_) | Self::Body(..) => 400,
            Self::RateLimited(_) => 429,
            Self::NotFound => 404,
            Self::Method(_) => 405,
            Self::Upstream(_) => 502,
            Self::Unavailable(_) => 503,
            Self::Config(_) => 500,
        }
    }

    /// Machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoToken => "token_missing",
            Self::Token(e) => e.code(),
            Self::Revoked => "token_revoked",
            Self::Forbidden(_) => "project_not_allowed",
            Self::Param(_) | Self::Body(..) => "invalid_parameter",
            Self::LoginFailed => "login_failed",
            Self::LoginClosed => "login_closed",
            Self::RateLimited(_) => "rate_limited",
            Self::Origin => "origin_not_allowed",
            Self::NotFound => "not_found",
            Self::Method(_) => "method_not_allowed",
            Self::Upstream(_) => "upstream_error",
            Self::Unavailable(_) => "upstream_unavailable",
            Self::Config(_) => "configuration_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::NoToken => {
                "send Authorization: Bearer <token>, or log in (POST /api/login)".into()
            }
            Self::Token(e) => e.message(),
            Self::Revoked => "the token was logged out: log in again".into(),
            Self::Forbidden(k) => format!("the token does not cover write key id {k}"),
            Self::Param(e) => format!("`{}` {}", e.field, e.message),
            Self::Body(f, m) => format!("`{f}` {m}"),
            Self::LoginFailed => "unknown user or wrong password".into(),
            Self::LoginClosed => "no DASHBOARD_USERS are configured: use a minted token".into(),
            Self::RateLimited(s) => format!("too many login attempts: try again in {s} s"),
            Self::Origin => "this origin is not in ALLOWED_ORIGINS".into(),
            Self::NotFound => "no such route".into(),
            Self::Method(allow) => format!("use {allow}"),
            Self::Upstream(m) | Self::Unavailable(m) | Self::Config(m) => m.clone(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Self::Param(e) => Some(&e.field),
            Self::Body(f, _) => Some(f),
            Self::Forbidden(_) => Some("key"),
            _ => None,
        }
    }

    /// The JSON reply: `{"error": code, "message": …, "field": …}`.
    pub fn to_reply(&self) -> Reply {
        let mut body = json!({ "error": self.code(), "message": self.message() });
        if let (Some(f), Some(obj)) = (self.field(), body.as_object_mut()) {
            obj.insert("field".into(), f.into());
        }
        let mut r = Reply::json(self.status(), body.to_string());
        r.set_header("cache-control", "no-store".into());
        match self {
            Self::NoToken => r.set_header("www-authenticate", "Bearer".into()),
            Self::Token(_) | Self::Revoked => r.set_header(
                "www-authenticate",
                format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    self.code()
                ),
            ),
            Self::RateLimited(s) => r.set_header("retry-after", s.to_string()),
            Self::Method(allow) => r.set_header("allow", (*allow).into()),
            _ => {}
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_its_status_code_and_field() {
        let p = DashError::Param(ParamError {
            field: "from".into(),
            message: "is bad".into(),
        })
        .to_reply();
        assert_eq!(p.status, 400);
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert_eq!(
            (v["error"].as_str(), v["field"].as_str()),
            (Some("invalid_parameter"), Some("from"))
        );
        let t = DashError::Token(TokenError::Expired).to_reply();
        assert_eq!(t.status, 401);
        assert!(t.body.contains("token_expired"));
        assert!(
            t.header("www-authenticate")
                .unwrap()
                .contains("invalid_token")
        );
        assert_eq!(DashError::Forbidden("k".into()).to_reply().status, 403);
        assert_eq!(
            DashError::RateLimited(5).to_reply().header("retry-after"),
            Some("5")
        );
    }
}
