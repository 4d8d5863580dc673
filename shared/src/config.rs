//! Configuration of the collector and health functions, read once from the platform's
//! variables into one typed struct. Every variable is a row of [`crate::vars::table`];
//! errors name the variable and why, never a secret's value.

use crate::auth::WriteKeys;
use crate::cors::Origins;
use crate::vars::table as var;
use crate::vars::{ConfigError, Vars};
use secrecy::SecretString;

/// Everything the collector and health functions need to know. Each field is one row
/// of [`crate::vars::table`], whose doc comment says what it means.
#[derive(Debug, Clone)]
pub struct Config {
    /// [`var::ALLOWED_WRITE_KEYS`].
    pub write_keys: WriteKeys,
    /// [`var::ALLOWED_ORIGINS`].
    pub origins: Origins,
    /// [`var::SINK`]: the stream (drained by the processor) or ClickHouse directly (each
    /// request is one async insert, acknowledged after ClickHouse confirmed).
    pub sink: Sink,
    /// [`var::REDIS_URL`], no trailing slash (empty with the direct sink).
    pub redis_url: String,
    /// [`var::REDIS_TOKEN`] (empty with the direct sink).
    pub redis_token: SecretString,
    /// [`var::REDIS_STREAM_KEY`].
    pub stream_key: String,
    /// [`var::STREAM_SHARDS`]: streams the events spread over (see
    /// [`crate::stream::shard`]).
    pub stream_shards: u16,
    /// [`var::RATE_LIMIT_WINDOW_MS`].
    pub rate_limit_window_ms: u64,
    /// [`var::RATE_LIMIT_MAX_REQUESTS`] (0 turns rate limiting off).
    pub rate_limit_max_requests: u64,
    /// [`var::MAX_EVENT_BYTES`].
    pub max_event_bytes: usize,
    /// [`var::MAX_REQUEST_BYTES`] (applies after gzip).
    pub max_request_bytes: usize,
    /// [`var::ANONYMIZE_IP`].
    pub anonymize_ip: bool,
    /// [`var::DEDUPE_WINDOW_SECONDS`] (0 off).
    pub dedupe_window_seconds: u64,
    /// [`var::LOG_LEVEL`].
    pub log_level: LogLevel,
    /// [`var::DRAIN_AFTER_ACK_MS`] (0 = off; the Spin adapter forces 0): TTL of the drain
    /// lock that lets one request at a time drain the stream right after responding.
    pub drain_lock_ms: u64,
    /// [`var::LINGER_MS`] (0 = off; the Spin adapter forces 0): how long a request waits
    /// for others to share its Upstash call (see [`crate::redis::linger`]).
    pub linger_ms: u64,
    /// [`var::SIGNING_SECRETS`]: those keys must sign every request (`X-Signature`,
    /// `X-Signature-Timestamp`).
    pub signing: crate::auth::SigningSecrets,
    /// [`var::PUBLIC_API_HOST`], as served in `/v1/projects/:writeKey/settings`; `None`:
    /// the request's Host + `/v1`.
    pub public_api_host: Option<String>,
    /// [`var::TRUSTED_PROXIES`] (see [`crate::identity`]).
    pub trusted_proxies: crate::identity::TrustedProxies,
    /// [`var::SIGNATURE_V1_UNTIL`], Unix seconds.
    pub signature_v1_until_s: i64,
    /// [`var::METRICS_TOKEN`]: without it `/health` and `/metrics` are closed.
    pub metrics_token: Option<SecretString>,
}

/// Where accepted events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    /// Append to the Redis stream (the default).
    Redis,
    /// Insert straight into ClickHouse.
    ClickHouse(crate::clickhouse::Target),
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings (4xx other than 404 / 429 are warnings).
    Warn,
    /// One line per request.
    Info,
    /// Extra detail.
    Debug,
}

/// The Upstash REST endpoint: [`var::REDIS_URL`] and [`var::REDIS_TOKEN`].
#[derive(Debug, Clone)]
pub struct Upstash {
    /// Base URL, no trailing slash.
    pub url: String,
    /// Bearer token.
    pub token: SecretString,
}

impl Upstash {
    /// Read and check both variables (the native processor reads only these of the
    /// collector's).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars::new(&get);
        let url = v
            .required(&var::REDIS_URL)?
            .trim_end_matches('/')
            .to_string();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(var::REDIS_URL.invalid("must be the Upstash REST URL (https://…)", &url));
        }
        Ok(Self {
            url,
            token: v.required_secret(&var::REDIS_TOKEN)?,
        })
    }
}

/// [`var::STREAM_SHARDS`], checked: 1 to [`crate::stream::shard::MAX_SHARDS`].
pub fn stream_shards(v: &Vars<'_>) -> Result<u16, ConfigError> {
    let max = crate::stream::shard::MAX_SHARDS;
    match v.number::<u64>(&var::STREAM_SHARDS) {
        Ok(n) if (1..=u64::from(max)).contains(&n) => Ok(u16::try_from(n).unwrap_or(max)),
        Ok(n) => Err(var::STREAM_SHARDS.invalid(format!("must be 1 to {max}"), &n.to_string())),
        Err(_) => Err(var::STREAM_SHARDS.invalid(
            format!("must be a whole number, 1 to {max}"),
            &v.text(&var::STREAM_SHARDS),
        )),
    }
}

/// Every shard's stream ([`var::REDIS_STREAM_KEY`], [`var::STREAM_SHARDS`]), for tools
/// that walk them all (replay).
pub fn shard_streams(get: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigError> {
    let v = Vars::new(&get);
    Ok(crate::stream::shard::streams(
        &v.text(&var::REDIS_STREAM_KEY),
        stream_shards(&v)?,
    ))
}

impl Config {
    /// Read the configuration through `get` (environment, Workers vars/secrets, Spin
    /// variables). The error names the first bad variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars::new(&get);
        // Unset is "not set", not a parse error.
        v.required(&var::ALLOWED_WRITE_KEYS)?;
        let write_keys = v.list(&var::ALLOWED_WRITE_KEYS, WriteKeys::parse)?;
        let origins = v.list(&var::ALLOWED_ORIGINS, Origins::parse)?;
        let sink = match v.text(&var::SINK).to_ascii_lowercase().as_str() {
            "redis" => Sink::Redis,
            "clickhouse" => Sink::ClickHouse(crate::clickhouse::Target::from_lookup(&get)?),
            other => return Err(var::SINK.invalid("must be redis or clickhouse", other)),
        };
        let upstash = match sink {
            Sink::Redis => Upstash::from_lookup(&get)?,
            Sink::ClickHouse(_) => Upstash {
                url: String::new(),
                token: SecretString::default(),
            },
        };
        Ok(Self {
            write_keys,
            origins,
            sink,
            redis_url: upstash.url,
            redis_token: upstash.token,
            stream_key: v.text(&var::REDIS_STREAM_KEY),
            stream_shards: stream_shards(&v)?,
            rate_limit_window_ms: positive(&v, &var::RATE_LIMIT_WINDOW_MS)?,
            rate_limit_max_requests: v.number(&var::RATE_LIMIT_MAX_REQUESTS)?,
            max_event_bytes: positive(&v, &var::MAX_EVENT_BYTES)?,
            max_request_bytes: positive(&v, &var::MAX_REQUEST_BYTES)?,
            anonymize_ip: v.flag(&var::ANONYMIZE_IP)?,
            dedupe_window_seconds: v.number(&var::DEDUPE_WINDOW_SECONDS)?,
            log_level: log_level(&v)?,
            drain_lock_ms: v.number(&var::DRAIN_AFTER_ACK_MS)?,
            linger_ms: match v.number::<u64>(&var::LINGER_MS)? {
                // A request waits this long before its own call: past a second it is a
                // misconfiguration (ms read as s), not a trade-off.
                ms if ms > 1000 => {
                    return Err(var::LINGER_MS.invalid("must be 0 to 1000 (ms)", &ms.to_string()));
                }
                ms => ms,
            },
            signature_v1_until_s: {
                let text = v.text(&var::SIGNATURE_V1_UNTIL);
                crate::timestamp::parse_ms(&text)
                    .map(|ms| ms.div_euclid(1000))
                    .ok_or_else(|| {
                        var::SIGNATURE_V1_UNTIL.invalid("must be an ISO-8601 date-time", &text)
                    })?
            },
            metrics_token: v.secret(&var::METRICS_TOKEN),
            trusted_proxies: v.list(
                &var::TRUSTED_PROXIES,
                crate::identity::TrustedProxies::parse,
            )?,
            signing: v.list(&var::SIGNING_SECRETS, crate::auth::SigningSecrets::parse)?,
            public_api_host: v
                .optional(&var::PUBLIC_API_HOST)
                .map(|h| h.trim_end_matches('/').to_string())
                .filter(|h| !h.is_empty()),
        })
    }
}

/// A whole number greater than 0.
fn positive<T: std::str::FromStr + PartialEq + From<u8>>(
    v: &Vars<'_>,
    variable: &crate::vars::Variable,
) -> Result<T, ConfigError> {
    let n: T = v.number(variable)?;
    if n == T::from(0) {
        return Err(variable.invalid("must be greater than 0", "0"));
    }
    Ok(n)
}

fn log_level(v: &Vars<'_>) -> Result<LogLevel, ConfigError> {
    Ok(
        match v.text(&var::LOG_LEVEL).to_ascii_lowercase().as_str() {
            "info" => LogLevel::Info,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "debug" | "trace" => LogLevel::Debug,
            other => {
                return Err(var::LOG_LEVEL.invalid("must be error, warn, info or debug", other));
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(Config::from_lookup(|k| map.get(k).cloned())?)
    }

    const BASE: &[(&str, &str)] = &[
        ("ALLOWED_WRITE_KEYS", "k1"),
        ("REDIS_URL", "http://127.0.0.1:8079/"),
        ("REDIS_TOKEN", "t"),
    ];

    #[test]
    fn defaults_come_from_the_seed() {
        let c = from(BASE).unwrap();
        assert_eq!(c.stream_key, "analytics_events");
        assert_eq!(c.rate_limit_window_ms, 60_000);
        assert_eq!(c.rate_limit_max_requests, 100);
        assert_eq!(c.redis_url, "http://127.0.0.1:8079");
        assert!(c.origins.allows("https://anything.example"));
        assert_eq!(c.signature_v1_until_s, 1_811_808_000); // 2027-06-01T00:00:00Z
        assert_eq!(c.log_level, LogLevel::Info);
        assert_eq!(c.sink, Sink::Redis);
        assert!(c.metrics_token.is_none() && c.public_api_host.is_none());
    }

    #[test]
    fn linger_is_30_ms_by_default_and_at_most_a_second() {
        assert_eq!(from(BASE).unwrap().linger_ms, 30);
        let mut v = BASE.to_vec();
        v.push(("LINGER_MS", "5000"));
        let err = from(&v).unwrap_err();
        assert!(
            err.contains("LINGER_MS") && err.contains("0 to 1000"),
            "{err}"
        );
        v.pop();
        v.push(("LINGER_MS", "0"));
        assert_eq!(from(&v).unwrap().linger_ms, 0);
    }

    #[test]
    fn stream_shards_default_to_one_and_out_of_range_values_name_the_variable() {
        assert_eq!(from(BASE).unwrap().stream_shards, 1);
        let mut v = BASE.to_vec();
        v.push(("STREAM_SHARDS", "8"));
        assert_eq!(from(&v).unwrap().stream_shards, 8);
        for bad in [
            "0",
            "65",
            "65536",
            "99999999999999999999",
            "-1",
            "two",
            "1.5",
        ] {
            v.pop();
            v.push(("STREAM_SHARDS", bad));
            let err = from(&v).unwrap_err();
            assert!(
                err.contains("STREAM_SHARDS") && err.contains("1 to 64"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn an_empty_origin_list_allows_no_origin_but_unset_allows_all() {
        let mut v = BASE.to_vec();
        v.push(("ALLOWED_ORIGINS", ""));
        assert!(!from(&v).unwrap().origins.allows("https://a.example"));
    }

    #[test]
    fn secret_values_stay_out_of_errors() {
        let err = Config::from_lookup(|k| match k {
            "ALLOWED_WRITE_KEYS" => Some("k".into()),
            "SINK" => Some("clickhouse".into()),
            "CLICKHOUSE_URL" => Some("ftp://h".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "CLICKHOUSE_URL must be an http(s) URL, got \"ftp://h\""
        );
        let err = from(&[
            ("ALLOWED_WRITE_KEYS", "k"),
            ("REDIS_URL", "https://h"),
            ("REDIS_TOKEN", "t"),
            ("SIGNING_SECRETS", "k:hunter2"),
        ])
        .unwrap_err();
        assert!(
            err.starts_with("SIGNING_SECRETS: ") && !err.contains("hunter2"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_variable_and_hide_secrets() {
        let mut v = BASE.to_vec();
        v.push(("RATE_LIMIT_MAX_REQUESTS", "lots"));
        assert!(from(&v).unwrap_err().contains("RATE_LIMIT_MAX_REQUESTS"));
        let err = from(&[("REDIS_URL", "x"), ("REDIS_TOKEN", "t")]).unwrap_err();
        assert!(err.contains("ALLOWED_WRITE_KEYS"), "{err}");
        let err = from(&[("ALLOWED_WRITE_KEYS", "k"), ("REDIS_TOKEN", "t")]).unwrap_err();
        assert!(err.contains("REDIS_URL"), "{err}");
        let err = from(&[
            ("ALLOWED_WRITE_KEYS", "k"),
            ("REDIS_URL", "redis://h"),
            ("REDIS_TOKEN", "t"),
        ])
        .unwrap_err();
        assert!(err.contains("REDIS_URL"), "{err}");
        let mut v = BASE.to_vec();
        v.push(("LOG_LEVEL", "loud"));
        assert!(from(&v).unwrap_err().contains("LOG_LEVEL"));
        let mut v = BASE.to_vec();
        v.push(("ANONYMIZE_IP", "maybe"));
        assert!(from(&v).unwrap_err().contains("ANONYMIZE_IP"));
    }
}
