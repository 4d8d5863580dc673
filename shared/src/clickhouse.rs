//! ClickHouse encoding: enriched events to `analytics.events` rows (JSONEachRow), the
//! insert request with its deduplication token, and error classification.

use crate::event::{ObjectWriter, RawObject, raw_str};
use crate::timestamp;
use crate::vars::table as var;
use crate::vars::{ConfigError, Vars};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Where and as whom to insert.
#[derive(Debug, Clone)]
pub struct Target {
    /// [`var::CLICKHOUSE_URL`], e.g. `https://abc.clickhouse.cloud:8443` (no trailing slash).
    pub url: String,
    /// [`var::CLICKHOUSE_DATABASE`].
    pub database: String,
    /// [`var::CLICKHOUSE_USER`].
    pub user: String,
    /// [`var::CLICKHOUSE_PASSWORD`] (may be empty locally).
    pub password: SecretString,
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.url,
            &self.database,
            &self.user,
            self.password.expose_secret(),
        ) == (
            &other.url,
            &other.database,
            &other.user,
            other.password.expose_secret(),
        )
    }
}

impl Eq for Target {}

pub use crate::io::Request;

/// Percent-encode a query value: everything but RFC 3986's unreserved characters, as
/// upper-case `%XX`. Hand-written on purpose: `percent-encoding` made the Worker 1.2 KB
/// larger (raw and gzip); a property test holds this to that crate byte for byte.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Target {
    /// Read [`var::CLICKHOUSE_URL`] (required), [`var::CLICKHOUSE_DATABASE`],
    /// [`var::CLICKHOUSE_USER`] and [`var::CLICKHOUSE_PASSWORD`].
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars::new(&get);
        let url = v
            .required(&var::CLICKHOUSE_URL)?
            .trim_end_matches('/')
            .to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(var::CLICKHOUSE_URL.invalid("must be an http(s) URL", &url));
        }
        Ok(Self {
            url,
            database: v.text(&var::CLICKHOUSE_DATABASE),
            user: v.text(&var::CLICKHOUSE_USER),
            password: v.verbatim_secret(&var::CLICKHOUSE_PASSWORD),
        })
    }

    fn request(&self, params: &[(&str, &str)], body: String) -> Request {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_component(v)))
            .collect();
        Request {
            url: format!("{}/?{}", self.url, query.join("&")),
            body,
            headers: vec![
                ("x-clickhouse-user", self.user.clone()),
                (
                    "x-clickhouse-key",
                    self.password.expose_secret().to_string(),
                ),
            ],
        }
    }

    /// A synchronous, deduplicated insert of JSONEachRow `rows` into `events`.
    /// Settings are pinned explicitly (ClickHouse 26 changed the `async_insert` default).
    pub fn insert(&self, rows: String, dedup_token: &str) -> Request {
        self.request(
            &[
                ("database", &self.database),
                ("query", "INSERT INTO events FORMAT JSONEachRow"),
                ("async_insert", "0"),
                ("insert_deduplicate", "1"),
                ("insert_deduplication_token", dedup_token),
                ("input_format_skip_unknown_fields", "1"),
                ("date_time_input_format", "best_effort"),
                ("wait_end_of_query", "1"),
            ],
            rows,
        )
    }

    /// An async insert that waits for the flush (the direct sink: many small inserts).
    pub fn insert_async(&self, rows: String) -> Request {
        self.request(
            &[
                ("database", &self.database),
                ("query", "INSERT INTO events FORMAT JSONEachRow"),
                ("async_insert", "1"),
                ("wait_for_async_insert", "1"),
                ("input_format_skip_unknown_fields", "1"),
                ("date_time_input_format", "best_effort"),
            ],
            rows,
        )
    }

    /// A read: `sql` in the body, typed parameters as `param_<name>` and settings in the
    /// URL (the dashboard's queries; values never enter the SQL text).
    pub fn select(&self, sql: &str, params: &[(&str, &str)], settings: &[(&str, &str)]) -> Request {
        let mut query: Vec<(String, &str)> = vec![("database".into(), self.database.as_str())];
        query.extend(settings.iter().map(|(k, v)| ((*k).to_string(), *v)));
        query.extend(params.iter().map(|(k, v)| (format!("param_{k}"), *v)));
        let pairs: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.request(&pairs, sql.to_string())
    }

    /// The health probe: the share of disk space used (reading system tables needs no
    /// grant). Answers one number between 0 and 1.
    pub fn probe(&self) -> Request {
        self.request(
            &[(
                "query",
                "SELECT round((sum(total_space) - sum(free_space)) / greatest(sum(total_space), 1), 4) FROM system.disks",
            )],
            String::new(),
        )
    }
}

/// How to treat a failed ClickHouse call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Try again later (network, 5xx, timeouts, auth or schema problems an operator fixes).
    Transient,
    /// The data itself is refused (parse/type errors): retrying the same rows cannot help.
    Permanent,
}

/// Classify an HTTP status from ClickHouse (0 = no answer).
pub fn classify(status: u16) -> Failure {
    match status {
        400 | 413 => Failure::Permanent,
        _ => Failure::Transient,
    }
}

/// Deduplication token for a set of stream entries of `stream`: the same entries give the
/// same token, so a retried insert of the same batch is dropped by ClickHouse. Entry ids
/// are only unique within one stream of one database (two shards, or two regions' databases,
/// both append `<ms>-0` in the same millisecond), so the token also covers the stream's
/// name and each entry's request ids (random per request, the same on every retry): two
/// different batches never share a token, whatever stream or database they came from.
pub fn dedup_token<S: AsRef<str>>(stream: &str, entries: &[S]) -> String {
    let mut h = Sha256::new();
    h.update(stream.as_bytes());
    h.update(b"\n");
    for e in entries {
        h.update(e.as_ref().as_bytes());
        h.update(b",");
    }
    let digest = h.finalize();
    hex::encode(digest.get(..16).unwrap_or_default())
}

/// Top-level event fields that have their own column (the rest go to `extra`).
const COLUMNS: &[&str] = &[
    "messageId",
    "type",
    "event",
    "name",
    "userId",
    "anonymousId",
    "groupId",
    "previousId",
    "timestamp",
    "originalTimestamp",
    "sentAt",
    "receivedAt",
    "properties",
    "traits",
    "context",
    "integrations",
];

fn string_field(obj: &RawObject<'_>, key: &str) -> String {
    obj.get_present(key)
        .and_then(|v| raw_str(v).map(|s| s.into_owned()))
        .unwrap_or_default()
}

fn nested<'a>(obj: &RawObject<'a>, key: &str) -> Option<RawObject<'a>> {
    obj.get_present(key)
        .filter(|v| crate::event::is_object(v))
        .and_then(|v| RawObject::from_raw(v).ok())
}

fn ch_time(obj: &RawObject<'_>, key: &str) -> Option<String> {
    let s = raw_str(obj.get_present(key)?)?;
    let ms = timestamp::parse_ms(&s).filter(|ms| timestamp::storable(*ms))?;
    Some(
        timestamp::format_ms(ms)
            .replace('T', " ")
            .trim_end_matches('Z')
            .to_string(),
    )
}

/// Why an event could not become a row (the dead letter's reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowError(pub String);

/// Turn one enriched event (as the collector stored it) into a JSONEachRow line.
pub fn row(event_json: &str, write_key_id: &str, stream_id: &str) -> Result<String, RowError> {
    let obj = RawObject::parse(event_json)
        .map_err(|e| RowError(format!("event is not a JSON object: {e}")))?;
    let message_id = string_field(&obj, "messageId");
    if message_id.is_empty() {
        return Err(RowError("event has no messageId".into()));
    }
    let kind = string_field(&obj, "type");
    let ts = ch_time(&obj, "timestamp")
        .ok_or_else(|| RowError("event has no valid timestamp".into()))?;
    let received = ch_time(&obj, "receivedAt").unwrap_or_else(|| ts.clone());
    let ctx = nested(&obj, "context");
    let ctx_str = |k: &str| ctx.as_ref().map(|c| string_field(c, k)).unwrap_or_default();
    let sub = |k: &str| ctx.as_ref().and_then(|c| nested(c, k));
    let (library, page, location) = (sub("library"), sub("page"), sub("location"));
    let from = |o: &Option<RawObject<'_>>, k: &str| {
        o.as_ref().map(|x| string_field(x, k)).unwrap_or_default()
    };
    let raw_obj = |k: &str| {
        obj.get_present(k)
            .filter(|v| crate::event::is_object(v))
            .map_or_else(|| "{}".to_string(), |v| v.get().to_string())
    };
    let event_name = match kind.as_str() {
        "track" => string_field(&obj, "event"),
        "page" | "screen" => string_field(&obj, "name"),
        _ => String::new(),
    };
    let mut extra = ObjectWriter::with_capacity(64);
    let mut seen = crate::event::KeySet::default();
    for (k, v) in obj.members.iter().rev() {
        if !COLUMNS.contains(&k.as_ref()) && seen.insert(k.as_ref()) {
            extra.raw(k, v.get());
        }
    }
    // RudderStack SDKs send identify traits as context.traits.
    let traits = obj
        .get_present("traits")
        .or_else(|| ctx.as_ref().and_then(|c| c.get_present("traits")))
        .filter(|v| crate::event::is_object(v))
        .map_or_else(|| "{}".to_string(), |v| v.get().to_string());
    let row = Row {
        message_id: &message_id,
        r#type: &kind,
        event: &event_name,
        user_id: &string_field(&obj, "userId"),
        anonymous_id: &string_field(&obj, "anonymousId"),
        group_id: &string_field(&obj, "groupId"),
        previous_id: &string_field(&obj, "previousId"),
        write_key_id,
        timestamp: &ts,
        original_timestamp: ch_time(&obj, "originalTimestamp"),
        sent_at: ch_time(&obj, "sentAt"),
        received_at: &received,
        ip: &ctx_str("ip"),
        country: &from(&location, "country"),
        region: &from(&location, "region"),
        city: &from(&location, "city"),
        user_agent: &ctx_str("userAgent"),
        library_name: &from(&library, "name"),
        library_version: &from(&library, "version"),
        page_url: &from(&page, "url"),
        page_path: &from(&page, "path"),
        page_referrer: &from(&page, "referrer"),
        page_title: &from(&page, "title"),
        properties: &raw_obj("properties"),
        traits: &traits,
        context: &raw_obj("context"),
        integrations: &raw_obj("integrations"),
        extra: &extra.finish(),
        stream_id,
    };
    serde_json::to_string(&row).map_err(|e| RowError(format!("row: {e}")))
}

/// One `analytics.events` row as JSONEachRow: the columns by name (nullable ones as
/// `null`); JSON-typed columns carry their JSON as text.
#[derive(serde::Serialize)]
struct Row<'a> {
    message_id: &'a str,
    r#type: &'a str,
    event: &'a str,
    user_id: &'a str,
    anonymous_id: &'a str,
    group_id: &'a str,
    previous_id: &'a str,
    write_key_id: &'a str,
    timestamp: &'a str,
    original_timestamp: Option<String>,
    sent_at: Option<String>,
    received_at: &'a str,
    ip: &'a str,
    country: &'a str,
    region: &'a str,
    city: &'a str,
    user_agent: &'a str,
    library_name: &'a str,
    library_version: &'a str,
    page_url: &'a str,
    page_path: &'a str,
    page_referrer: &'a str,
    page_title: &'a str,
    properties: &'a str,
    traits: &'a str,
    context: &'a str,
    integrations: &'a str,
    extra: &'a str,
    stream_id: &'a str,
}

#[cfg(test)]
mod tests;
