//! Sessions: where a request's token comes from (bearer header, else the session cookie),
//! the cookie itself, and the Redis calls behind the login rate limit and logout (a
//! logged-out token's id is kept until the token would have expired).

use super::config::DashboardConfig;
use super::error::DashError;
use crate::redis::{RestCall, command, parse_result};

/// Name of the session cookie.
pub const COOKIE: &str = "dash_session";

/// The token a request presents: `Authorization: Bearer …` first, else the cookie.
pub fn presented_token(headers: &http::HeaderMap) -> Option<String> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    bearer.or_else(|| {
        headers
            .get_all("cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value.to_string())
    })
}

/// `Set-Cookie` for a new session: HttpOnly (no script reads it), Secure, SameSite=Strict
/// (never sent cross-site, so no CSRF), the token's lifetime.
pub fn set_cookie(token: &str, max_age_s: i64) -> String {
    format!("{COOKIE}={token}; Path=/; Max-Age={max_age_s}; HttpOnly; Secure; SameSite=Strict")
}

/// `Set-Cookie` that ends the session in the browser.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
}

fn revoked_key(cfg: &DashboardConfig, jti: &str) -> String {
    format!("{}:revoked:{jti}", cfg.key_prefix)
}

/// Whether a token id was logged out: `EXISTS`.
pub fn revoked_call(cfg: &DashboardConfig, jti: &str) -> RestCall {
    command(&["EXISTS", &revoked_key(cfg, jti)])
}

/// Log a token out until it expires anyway: `SET … PX`.
pub fn revoke_call(cfg: &DashboardConfig, jti: &str, ttl_ms: i64) -> RestCall {
    let ttl = ttl_ms.max(1000).to_string();
    command(&["SET", &revoked_key(cfg, jti), "1", "PX", &ttl])
}

/// Counts a login attempt per client address and per user name, in one fixed window;
/// the reply is both counts and the window's remaining ms.
const LOGIN_SCRIPT: &str = "local a = redis.call('INCR', KEYS[1]) \
if a == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
local b = redis.call('INCR', KEYS[2]) \
if b == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end \
return {a, b, math.max(redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]))}";

/// A user name may be tried this many times the per-address limit in one window, from
/// all addresses together: it slows guessing spread over many addresses without letting
/// one client lock a user out.
pub const PER_USER_FACTOR: u64 = 10;

/// The rate-limit call of one login attempt from `client` for `user`.
pub fn login_attempt_call(cfg: &DashboardConfig, client: &str, user: &str) -> RestCall {
    use sha2::{Digest, Sha256};
    let user_id = hex::encode(Sha256::digest(user.as_bytes()).get(..8).unwrap_or_default());
    let by_ip = format!("{}:login:ip:{client}", cfg.key_prefix);
    let by_user = format!("{}:login:user:{user_id}", cfg.key_prefix);
    command(&[
        "EVAL",
        LOGIN_SCRIPT,
        "2",
        &by_ip,
        &by_user,
        &cfg.login_rate_window_ms.to_string(),
    ])
}

/// Turn an Upstash reply into its `result`, mapping failures to 502 / 503.
pub fn redis_result(
    outcome: Result<(u16, Vec<u8>), String>,
) -> Result<serde_json::Value, DashError> {
    let (status, body) = outcome.map_err(|e| DashError::Unavailable(format!("Redis: {e}")))?;
    parse_result(status, &body).map_err(|e| match e {
        crate::redis::RestError::Unavailable(m) => DashError::Unavailable(format!("Redis: {m}")),
        crate::redis::RestError::Rejected { message, .. } => {
            DashError::Upstream(format!("Redis: {message}"))
        }
    })
}

/// Whether a login attempt is over the limit: `Err(RateLimited(seconds))` if so.
pub fn check_login_limit(
    cfg: &DashboardConfig,
    result: &serde_json::Value,
) -> Result<(), DashError> {
    let n = |i: usize| {
        result
            .get(i)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(u64::MAX)
    };
    let pttl = result
        .get(2)
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    let limit = u64::from(cfg.login_rate_limit);
    if n(0) > limit || n(1) > limit.saturating_mul(PER_USER_FACTOR) {
        let secs = u64::try_from(pttl.max(1000)).unwrap_or(1000).div_ceil(1000);
        return Err(DashError::RateLimited(secs));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let mut h = http::HeaderMap::new();
        h.insert(
            "cookie",
            "a=b; dash_session=from-cookie; c=d".parse().unwrap(),
        );
        assert_eq!(presented_token(&h).as_deref(), Some("from-cookie"));
        h.insert("authorization", "Bearer from-header".parse().unwrap());
        assert_eq!(presented_token(&h).as_deref(), Some("from-header"));
        assert_eq!(presented_token(&http::HeaderMap::new()), None);
    }

    #[test]
    fn logins_are_limited_per_address_and_more_loosely_per_user() {
        let cfg = crate::dashboard::config::tests::sample();
        assert!(check_login_limit(&cfg, &serde_json::json!([10, 10, 5000])).is_ok());
        assert_eq!(
            check_login_limit(&cfg, &serde_json::json!([11, 11, 4001])),
            Err(DashError::RateLimited(5))
        );
        assert!(check_login_limit(&cfg, &serde_json::json!([1, 100, 1])).is_ok());
        assert!(check_login_limit(&cfg, &serde_json::json!([1, 101, 1])).is_err());
        assert!(check_login_limit(&cfg, &serde_json::json!(null)).is_err());
    }

    #[test]
    fn the_cookie_is_httponly_secure_and_strict() {
        let c = set_cookie("t", 60);
        for part in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
