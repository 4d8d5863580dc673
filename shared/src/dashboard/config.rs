//! The Dashboard function's configuration, read once into one typed struct. Errors name
//! the variable and what is wrong, never a secret's value.

use super::users::Users;
use crate::clickhouse::Target;
use crate::cors::Origins;

/// Everything the Dashboard API needs.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// `JWT_SECRET` (required, at least 32 bytes): the HS256 key of session tokens.
    pub jwt_secret: Vec<u8>,
    /// `SESSION_EXPIRY_HOURS` (default 24, 1–720): lifetime of a login's token.
    pub session_expiry_hours: u32,
    /// `DASHBOARD_USERS`: who may log in (empty: login closed, minted tokens only).
    pub users: Users,
    /// `ALLOWED_ORIGINS` (default none: same origin only): other origins whose scripts may
    /// call the API with a bearer token. Cookies are never sent cross-site (SameSite=Strict).
    pub origins: Option<Origins>,
    /// `CLICKHOUSE_URL`, `CLICKHOUSE_DATABASE`, `CLICKHOUSE_USER` (default
    /// `analytics_reader`, the SELECT-only user), `CLICKHOUSE_PASSWORD`.
    pub clickhouse: Target,
    /// `REDIS_URL` (required): Upstash REST URL, for the login rate limit and logouts.
    pub redis_url: String,
    /// `REDIS_TOKEN` (required).
    pub redis_token: secrecy::SecretString,
    /// `DASHBOARD_KEY_PREFIX` (default `dashboard`): prefix of the Redis keys used here.
    pub key_prefix: String,
    /// `LOGIN_RATE_LIMIT` (default 10): login attempts per client address in one window
    /// (a user name gets ten times that from all addresses together).
    pub login_rate_limit: u32,
    /// `LOGIN_RATE_WINDOW_MS` (default 300000).
    pub login_rate_window_ms: u64,
    /// `MAX_RANGE_DAYS` (default 92): the longest time range a query may cover.
    pub max_range_days: u32,
    /// `CACHE_SECONDS` (default 30, 0 = off): how long an answer is reused (Workers).
    pub cache_seconds: u32,
    /// `METRICS_TOKEN`: bearer token of `/health` and `/metrics` (closed without it).
    pub metrics_token: Option<String>,
}

/// Every variable the dashboard reads (checked against spin.toml and the Terraform module).
pub const VARIABLES: &[&str] = &[
    "JWT_SECRET",
    "SESSION_EXPIRY_HOURS",
    "DASHBOARD_USERS",
    "ALLOWED_ORIGINS",
    "CLICKHOUSE_URL",
    "CLICKHOUSE_DATABASE",
    "CLICKHOUSE_USER",
    "CLICKHOUSE_PASSWORD",
    "REDIS_URL",
    "REDIS_TOKEN",
    "DASHBOARD_KEY_PREFIX",
    "LOGIN_RATE_LIMIT",
    "LOGIN_RATE_WINDOW_MS",
    "MAX_RANGE_DAYS",
    "CACHE_SECONDS",
    "METRICS_TOKEN",
];

fn text(get: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn bounded(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, String> {
    let v = number(get, name, default)?;
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(format!(
            "{name} must be between {} and {}, got {v}",
            range.start(),
            range.end()
        ))
    }
}

fn small(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

impl DashboardConfig {
    /// Read the configuration through `get` (Workers vars and secrets, Spin variables, the
    /// environment).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let jwt_secret = required(&get, "JWT_SECRET")?;
        if jwt_secret.len() < 32 {
            return Err(format!(
                "JWT_SECRET must be at least 32 bytes (got {}); `openssl rand -hex 32` makes one",
                jwt_secret.len()
            ));
        }
        let users = Users::parse(&text(&get, "DASHBOARD_USERS").unwrap_or_default())?;
        let origins = match text(&get, "ALLOWED_ORIGINS") {
            None => None,
            Some(list) => Some(Origins::parse(&list).map_err(|e| format!("ALLOWED_ORIGINS: {e}"))?),
        };
        let mut clickhouse = Target::from_lookup(&get)?;
        if text(&get, "CLICKHOUSE_USER").is_none() {
            clickhouse.user = "analytics_reader".into();
        }
        let redis_url = required(&get, "REDIS_URL")?
            .trim_end_matches('/')
            .to_string();
        if !(redis_url.starts_with("http://") || redis_url.starts_with("https://")) {
            return Err(format!(
                "REDIS_URL must be an http(s) URL, got {redis_url:?}"
            ));
        }
        Ok(Self {
            jwt_secret: jwt_secret.into_bytes(),
            session_expiry_hours: small(bounded(&get, "SESSION_EXPIRY_HOURS", 24, 1..=720)?),
            users,
            origins,
            clickhouse,
            redis_url,
            redis_token: required(&get, "REDIS_TOKEN")?.into(),
            key_prefix: text(&get, "DASHBOARD_KEY_PREFIX").unwrap_or_else(|| "dashboard".into()),
            login_rate_limit: small(bounded(&get, "LOGIN_RATE_LIMIT", 10, 1..=10_000)?),
            login_rate_window_ms: bounded(
                &get,
                "LOGIN_RATE_WINDOW_MS",
                300_000,
                1_000..=86_400_000,
            )?,
            max_range_days: small(bounded(&get, "MAX_RANGE_DAYS", 92, 1..=3_660)?),
            cache_seconds: small(bounded(&get, "CACHE_SECONDS", 30, 0..=3_600)?),
            metrics_token: text(&get, "METRICS_TOKEN"),
        })
    }

    /// A token's lifetime in seconds.
    pub fn session_seconds(&self) -> i64 {
        i64::from(self.session_expiry_hours) * 3600
    }
}

// The dashboard's variables are not rows of `crate::vars::table` yet (that table covers
// the collector, health and processor); these two readers keep its errors in the same
// words until they are.
fn required(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<String, String> {
    get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

fn number<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: T,
) -> Result<T, String> {
    match get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{name} must be a whole number, got {v:?}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    const BASE: &[(&str, &str)] = &[
        ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ("CLICKHOUSE_URL", "http://127.0.0.1:8123"),
        ("REDIS_URL", "http://127.0.0.1:8079/"),
        ("REDIS_TOKEN", "t"),
    ];

    fn from(extra: &[(&str, &str)]) -> Result<DashboardConfig, String> {
        let map: HashMap<&str, &str> = BASE.iter().chain(extra).copied().collect();
        DashboardConfig::from_lookup(|k| map.get(k).map(|v| v.to_string()))
    }

    /// A valid configuration with the defaults, for other modules' tests.
    pub(crate) fn sample() -> DashboardConfig {
        from(&[]).unwrap()
    }

    #[test]
    fn every_variable_read_is_listed() {
        let asked = std::cell::RefCell::new(Vec::new());
        let map: HashMap<&str, &str> = BASE.iter().copied().collect();
        let _ = DashboardConfig::from_lookup(|k| {
            asked.borrow_mut().push(k.to_string());
            map.get(k).map(|v| v.to_string())
        });
        for name in asked.borrow().iter() {
            assert!(
                VARIABLES.contains(&name.as_str()),
                "{name} is read but not in VARIABLES"
            );
        }
    }

    #[test]
    fn defaults_read_as_the_reader_user() {
        let c = from(&[]).unwrap();
        assert_eq!(c.clickhouse.user, "analytics_reader");
        assert_eq!(c.session_seconds(), 24 * 3600);
        assert_eq!(c.redis_url, "http://127.0.0.1:8079");
        assert!(c.origins.is_none() && c.users.is_empty() && c.metrics_token.is_none());
    }

    #[test]
    fn errors_name_the_variable_and_hide_the_secret() {
        let short = from(&[("JWT_SECRET", "tooshort-secret")]).unwrap_err();
        assert!(
            short.contains("JWT_SECRET") && !short.contains("tooshort-secret"),
            "{short}"
        );
        for (name, value) in [
            ("SESSION_EXPIRY_HOURS", "0"),
            ("SESSION_EXPIRY_HOURS", "a day"),
            ("LOGIN_RATE_LIMIT", "-1"),
            ("MAX_RANGE_DAYS", "100000"),
            ("DASHBOARD_USERS", "alice:plain:00112233aabbccdd"),
        ] {
            let err = from(&[(name, value)]).unwrap_err();
            assert!(err.contains(name), "{name}: {err}");
        }
        let map: HashMap<&str, &str> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "REDIS_URL")
            .collect();
        let err = DashboardConfig::from_lookup(|k| map.get(k).map(|v| v.to_string())).unwrap_err();
        assert!(err.contains("REDIS_URL"), "{err}");
    }
}
