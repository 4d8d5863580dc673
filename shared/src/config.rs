//! Configuration, read once from the platform's variables into one typed struct.
//! Errors name the variable and why, never a secret's value.

use crate::auth::WriteKeys;
use crate::cors::Origins;

/// Everything the collector and health functions need to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ALLOWED_WRITE_KEYS` (required): comma list, plaintext or `sha256:<hex>`.
    pub write_keys: WriteKeys,
    /// `ALLOWED_ORIGINS` (default `*`).
    pub origins: Origins,
    /// `SINK`: `redis` (default; the stream, drained by the processor) or `clickhouse`
    /// (direct: each request is one async insert, acknowledged after ClickHouse confirmed;
    /// no Redis, so no shared rate limit, retry marker or dead-letter stream).
    pub sink: Sink,
    /// `REDIS_URL` (required with the redis sink): Upstash REST base URL, no trailing slash.
    pub redis_url: String,
    /// `REDIS_TOKEN` (required): Upstash REST bearer token.
    pub redis_token: String,
    /// `REDIS_STREAM_KEY` (default `analytics_events`).
    pub stream_key: String,
    /// `RATE_LIMIT_WINDOW_MS` (default 60000).
    pub rate_limit_window_ms: u64,
    /// `RATE_LIMIT_MAX_REQUESTS` (default 100; 0 turns rate limiting off).
    pub rate_limit_max_requests: u64,
    /// `MAX_EVENT_BYTES` (default 32768, Segment's per-event limit).
    pub max_event_bytes: usize,
    /// `MAX_REQUEST_BYTES` (default 512000, Segment's batch limit; applies after gzip).
    pub max_request_bytes: usize,
    /// `ANONYMIZE_IP` (default false): zero the host part of stored IPs.
    pub anonymize_ip: bool,
    /// `DEDUPE_WINDOW_SECONDS` (default 900; 0 off): how long an identical retried
    /// request is recognised and answered without a second append.
    pub dedupe_window_seconds: u64,
    /// `LOG_LEVEL` (default `info`): `error`, `warn`, `info` or `debug`.
    pub log_level: LogLevel,
    /// `DRAIN_AFTER_ACK_MS` (default 0 = off; the Workers adapter sets it to
    /// `FLUSH_INTERVAL_MS` when ClickHouse is configured): TTL of the drain lock that lets
    /// one request at a time drain the stream right after responding.
    pub drain_lock_ms: u64,
    /// `SIGNING_SECRETS` (secret, optional): `<write key or sha256:hex>=<secret>` pairs; those
    /// keys must sign every request (`X-Signature`, `X-Signature-Timestamp`).
    pub signing: crate::auth::SigningSecrets,
    /// `PUBLIC_API_HOST` (optional): host (and path) SDKs should send to, as served in
    /// `/v1/projects/:writeKey/settings`, e.g. `ingest.example.com/v1`; default: the
    /// request's Host + `/v1`.
    pub public_api_host: Option<String>,
    /// `TRUSTED_PROXIES` (default none): CIDR blocks of proxies in front of the function
    /// whose `X-Forwarded-For` / `CF-Connecting-IP` / `X-Real-IP` are believed. Everyone
    /// else is identified by the address the platform saw (see [`crate::identity`]).
    pub trusted_proxies: crate::identity::TrustedProxies,
    /// `SIGNATURE_V1_UNTIL` (default `2027-06-01T00:00:00Z`): until when the deprecated v1
    /// request signatures (`sha256=`, no method or path) are accepted; Unix seconds.
    pub signature_v1_until_s: i64,
    /// `METRICS_TOKEN` (secret, optional): bearer token for `/health` and `/metrics`, which
    /// cost backend calls; without it those routes are closed (`/livez` stays open).
    pub metrics_token: Option<String>,
}

/// End of v1 request signatures by default: 2027-06-01T00:00:00Z.
pub const DEFAULT_SIGNATURE_V1_UNTIL_S: i64 = 1_811_808_000;

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

/// Names of every variable [`Config::from_lookup`] reads, for manifests and docs.
pub const VARIABLES: &[&str] = &[
    "ALLOWED_WRITE_KEYS",
    "ALLOWED_ORIGINS",
    "TRUSTED_PROXIES",
    "SIGNATURE_V1_UNTIL",
    "METRICS_TOKEN",
    "REDIS_URL",
    "REDIS_TOKEN",
    "REDIS_STREAM_KEY",
    "RATE_LIMIT_WINDOW_MS",
    "RATE_LIMIT_MAX_REQUESTS",
    "MAX_EVENT_BYTES",
    "MAX_REQUEST_BYTES",
    "ANONYMIZE_IP",
    "DEDUPE_WINDOW_SECONDS",
    "LOG_LEVEL",
    "DRAIN_AFTER_ACK_MS",
    "SINK",
    "SIGNING_SECRETS",
    "PUBLIC_API_HOST",
];

pub(crate) fn number<T: std::str::FromStr>(
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

fn flag(get: &impl Fn(&str) -> Option<String>, name: &str) -> Result<bool, String> {
    match get(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("0") | Some("false") | Some("no") | Some("off") => Ok(false),
        Some("1") | Some("true") | Some("yes") | Some("on") => Ok(true),
        Some(v) => Err(format!("{name} must be true or false, got {v:?}")),
    }
}

pub(crate) fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<String, String> {
    get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

impl Config {
    /// Read the configuration through `get` (environment, Workers vars/secrets, Spin
    /// variables). The error names the first bad variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let write_keys = WriteKeys::parse(&required(&get, "ALLOWED_WRITE_KEYS")?)
            .map_err(|e| format!("ALLOWED_WRITE_KEYS: {e}"))?;
        let origins = Origins::parse(&get("ALLOWED_ORIGINS").unwrap_or_else(|| "*".into()))
            .map_err(|e| format!("ALLOWED_ORIGINS: {e}"))?;
        let sink = match get("SINK")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("redis") => Sink::Redis,
            Some("clickhouse") => Sink::ClickHouse(crate::clickhouse::Target::from_lookup(&get)?),
            Some(v) => return Err(format!("SINK must be redis or clickhouse, got {v:?}")),
        };
        let (redis_url, redis_token) = if sink == Sink::Redis {
            let url = required(&get, "REDIS_URL")?
                .trim_end_matches('/')
                .to_string();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(format!(
                    "REDIS_URL must be the Upstash REST URL (https://…), got {url:?}"
                ));
            }
            (url, required(&get, "REDIS_TOKEN")?)
        } else {
            (String::new(), String::new())
        };
        let stream_key = get("REDIS_STREAM_KEY")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "analytics_events".into());
        let rate_limit_window_ms = number(&get, "RATE_LIMIT_WINDOW_MS", 60_000u64)?;
        if rate_limit_window_ms == 0 {
            return Err("RATE_LIMIT_WINDOW_MS must be greater than 0".into());
        }
        let log_level = match get("LOG_LEVEL")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("info") => LogLevel::Info,
            Some("error") => LogLevel::Error,
            Some("warn") | Some("warning") => LogLevel::Warn,
            Some("debug") | Some("trace") => LogLevel::Debug,
            Some(v) => {
                return Err(format!(
                    "LOG_LEVEL must be error, warn, info or debug, got {v:?}"
                ));
            }
        };
        let max_event_bytes = number(&get, "MAX_EVENT_BYTES", 32 * 1024usize)?;
        let max_request_bytes = number(&get, "MAX_REQUEST_BYTES", 512_000usize)?;
        if max_event_bytes == 0 || max_request_bytes == 0 {
            return Err("MAX_EVENT_BYTES and MAX_REQUEST_BYTES must be greater than 0".into());
        }
        Ok(Self {
            write_keys,
            origins,
            sink,
            redis_url,
            redis_token,
            stream_key,
            rate_limit_window_ms,
            rate_limit_max_requests: number(&get, "RATE_LIMIT_MAX_REQUESTS", 100u64)?,
            max_event_bytes,
            max_request_bytes,
            anonymize_ip: flag(&get, "ANONYMIZE_IP")?,
            dedupe_window_seconds: number(&get, "DEDUPE_WINDOW_SECONDS", 900u64)?,
            log_level,
            drain_lock_ms: number(&get, "DRAIN_AFTER_ACK_MS", 0u64)?,
            signature_v1_until_s: match get("SIGNATURE_V1_UNTIL").map(|v| v.trim().to_string()) {
                None => DEFAULT_SIGNATURE_V1_UNTIL_S,
                Some(v) if v.is_empty() => DEFAULT_SIGNATURE_V1_UNTIL_S,
                Some(v) => crate::timestamp::parse_ms(&v)
                    .map(|ms| ms.div_euclid(1000))
                    .ok_or_else(|| {
                        format!("SIGNATURE_V1_UNTIL must be an ISO-8601 date-time, got {v:?}")
                    })?,
            },
            metrics_token: get("METRICS_TOKEN")
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty()),
            trusted_proxies: crate::identity::TrustedProxies::parse(
                &get("TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|e| format!("TRUSTED_PROXIES: {e}"))?,
            signing: crate::auth::SigningSecrets::parse(
                &get("SIGNING_SECRETS").unwrap_or_default(),
            )
            .map_err(|e| format!("SIGNING_SECRETS: {e}"))?,
            public_api_host: get("PUBLIC_API_HOST")
                .map(|v| v.trim().trim_end_matches('/').to_string())
                .filter(|v| !v.is_empty()),
        })
    }

    /// The dead-letter stream for rejected events.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:invalid", self.stream_key)
    }
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
        Config::from_lookup(|k| map.get(k).cloned())
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
        assert_eq!(c.dead_letter_stream(), "analytics_events:invalid");
        assert!(c.origins.allows("https://anything.example"));
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
