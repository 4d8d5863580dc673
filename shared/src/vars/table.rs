//! The configuration table: every variable any component reads, once. The config structs
//! read through these rows ([`super::Vars`]), [`VARIABLES`] lists them for manifests and
//! tests, and [`markdown`] renders the README's table. `shared/tests/config_table.rs`
//! checks spin.toml, wrangler.toml and the README against it.

use super::Component::{self, Processor};
use super::Unset::{Default, Optional, Required};
use super::Variable;

/// Read by every component: on Spin the processor component loads the collector's
/// configuration for its Upstash connection.
const ALL: &[Component] = Component::ALL;
/// Read only by the processor's entry points.
const PROCESSOR: &[Component] = &[Processor];

/// Declares each row as a constant (its doc comment is its README text) and lists them
/// all in [`VARIABLES`], so a row cannot be declared and left out of the list. The texts
/// live apart from the rows ([`doc`]), so a build that only reads variables carries none.
macro_rules! table {
    ($( $(#[doc = $doc:literal])+ $name:ident { $unset:expr, secret: $secret:expr, read_by: $read_by:expr $(,)? } )+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: Variable = Variable {
                name: stringify!($name),
                unset: $unset,
                secret: $secret,
                read_by: $read_by,
            };
        )+
        /// Every variable, in the README's order.
        pub const VARIABLES: &[&Variable] = &[$(&$name),+];
        const DOCS: &[(&str, &str)] = &[$((stringify!($name), concat!($($doc, "\n"),+))),+];
    };
}

table! {
    /// Comma list of write keys, plaintext or `sha256:<hex>`.
    ALLOWED_WRITE_KEYS { Required, secret: true, read_by: ALL }
    /// Upstash REST URL, `https://<db>.upstash.io` (trailing slash ignored).
    REDIS_URL { Optional("required (redis sink)"), secret: false, read_by: ALL }
    /// Upstash REST token.
    REDIS_TOKEN { Optional("required (redis sink)"), secret: true, read_by: ALL }
    /// The stream; rejects go to `<stream>:invalid`.
    REDIS_STREAM_KEY { Default("analytics_events"), secret: false, read_by: ALL }
    /// Streams to spread requests over, 1 to 64: shard 0 is `<stream>`, shard i
    /// `<stream>:<i>`, each with its own markers, dead letters, counters and drain lock, so
    /// scripts on different shards never wait for each other (Upstash locks per key). A
    /// request goes to the shard its messageIds hash to; processors drain every shard.
    /// Change it in the processors first; before lowering it, let them empty the
    /// dropped shards (docs/ARCHITECTURE.md "STREAM_SHARDS").
    STREAM_SHARDS { Default("1"), secret: false, read_by: ALL }
    /// Browser origins allowed to send: `*`, `null`, exact origins,
    /// `https://*.example.com` (whole labels, same scheme and port).
    ALLOWED_ORIGINS { Default("*"), secret: false, read_by: ALL }
    /// CIDR blocks whose `X-Forwarded-For` / `CF-Connecting-IP` / `X-Real-IP` are
    /// believed; everyone else is the address the platform saw (Workers:
    /// `CF-Connecting-IP`; Spin: `spin-client-addr`). IPv6 clients are rate-limited per /64.
    TRUSTED_PROXIES { Optional("none"), secret: false, read_by: ALL }
    /// Length of the rate-limit window.
    RATE_LIMIT_WINDOW_MS { Default("60000"), secret: false, read_by: ALL }
    /// Requests per window, per write key and client IP; 0 = off.
    RATE_LIMIT_MAX_REQUESTS { Default("100"), secret: false, read_by: ALL }
    /// Size cap of one event (Segment's limit).
    MAX_EVENT_BYTES { Default("32768"), secret: false, read_by: ALL }
    /// Size cap of one request, after gzip inflation (Segment's batch limit).
    MAX_REQUEST_BYTES { Default("512000"), secret: false, read_by: ALL }
    /// Zero the last IPv4 octet / last 80 IPv6 bits of stored IPs.
    ANONYMIZE_IP { Default("false"), secret: false, read_by: ALL }
    /// How long an identical retry is recognised and answered without a second append;
    /// 0 = off.
    DEDUPE_WINDOW_SECONDS { Default("900"), secret: false, read_by: ALL }
    /// `error`, `warn`, `info` (one JSON line per request) or `debug`.
    LOG_LEVEL { Default("info"), secret: false, read_by: ALL }
    /// `redis` (the stream, drained by the processor) or `clickhouse`: the direct sink
    /// without Redis (no shared rate limit, retry marker or dead-letter stream).
    SINK { Default("redis"), secret: false, read_by: ALL }
    /// Enables the drain after ack and the cron (required for the processor and the
    /// direct sink), e.g. `https://<service>.clickhouse.cloud:8443`.
    CLICKHOUSE_URL { Optional("—"), secret: false, read_by: ALL }
    /// Database of the `events` table.
    CLICKHOUSE_DATABASE { Default("analytics"), secret: false, read_by: ALL }
    /// The writer (INSERT-only `analytics_writer` in spin.toml and wrangler.toml).
    CLICKHOUSE_USER { Default("default"), secret: false, read_by: ALL }
    /// Password of `CLICKHOUSE_USER`.
    CLICKHOUSE_PASSWORD { Optional("empty"), secret: true, read_by: ALL }
    /// Consumer group of every drainer.
    REDIS_CONSUMER_GROUP { Default("processors"), secret: false, read_by: ALL }
    /// Stream entries per insert (an entry is one request's events), 1 to 1000.
    BATCH_SIZE { Default("100"), secret: false, read_by: ALL }
    /// At most one insert per interval unless there is a backlog.
    FLUSH_INTERVAL_MS { Default("1000"), secret: false, read_by: ALL }
    /// Take over entries pending this long.
    CLAIM_IDLE_MS { Default("30000"), secret: false, read_by: ALL }
    /// Dead-letter an entry after this many deliveries.
    MAX_DELIVERIES { Default("5"), secret: false, read_by: ALL }
    /// Keep acknowledged entries this long before trimming (inspection, replay); the
    /// local stack sets 600000.
    STREAM_RETENTION_MS { Default("0"), secret: false, read_by: ALL }
    /// `<write key or sha256:hex>=<secret>` pairs; those keys must send `X-Signature`:
    /// v2 = `v2=<hex HMAC-SHA256(secret, "v2\n" METHOD "\n" path "\n" timestamp "\n" body)>`,
    /// each signature accepted once (a replay inside the ±300 s window is 401).
    SIGNING_SECRETS { Optional("—"), secret: true, read_by: ALL }
    /// Bearer token for `/health` and `/metrics`, which cost backend calls; without it
    /// they answer 401; `/livez` is always open.
    METRICS_TOKEN { Optional("— (closed)"), secret: true, read_by: ALL }
    /// Until when the deprecated v1 signature (`sha256=`, timestamp and body only,
    /// replayable) is still accepted.
    SIGNATURE_V1_UNTIL { Default("2027-06-01T00:00:00Z"), secret: false, read_by: ALL }
    /// Host/path that `/v1/projects/:key/settings` tells analytics.js to send to, e.g.
    /// `ingest.example.com/v1`.
    PUBLIC_API_HOST { Optional("request Host + `/v1`"), secret: false, read_by: ALL }
    /// Drain-lock TTL: after its 200, one request at a time drains the stream into
    /// ClickHouse; 0 = no drain after ack. wrangler.toml sets 10000; ignored on Spin,
    /// where nothing runs after the response.
    DRAIN_AFTER_ACK_MS { Default("0"), secret: false, read_by: ALL }
    /// Group commit (Workers): requests an isolate receives within this many ms share one
    /// Upstash call, each still answered only after Redis confirmed its own events;
    /// 0 = one call per request. Ignored on Spin, where an instance serves one request.
    LINGER_MS { Default("30"), secret: false, read_by: ALL }
    /// Bearer token a scheduler must send to the Spin processor's `POST /internal/drain`;
    /// without it the route answers 503.
    DRAIN_TOKEN { Optional("— (route off)"), secret: true, read_by: PROCESSOR }
    /// Most drain passes per `POST /internal/drain` (Spin).
    DRAIN_MAX_PASSES { Default("20"), secret: false, read_by: PROCESSOR }
    /// The processor's consumer name in the group.
    PROCESSOR_CONSUMER { Optional("native: `native-<HOSTNAME>-<pid>`; Spin: `spin`"), secret: false, read_by: PROCESSOR }
}

/// What `v` does (Markdown, one paragraph): its doc comment above.
pub fn doc(v: &Variable) -> &'static str {
    DOCS.iter()
        .find(|(name, _)| *name == v.name)
        .map_or("", |(_, text)| text)
}

/// The README's configuration table (Markdown), one row per variable.
pub fn markdown() -> String {
    let mut out = String::from(
        "| Variable | Default | Read by | Secret | Meaning |\n|---|---|---|---|---|\n",
    );
    for v in VARIABLES {
        let unset = match v.unset {
            Required => "required".to_string(),
            Default(d) => format!("`{d}`"),
            Optional(text) => text.to_string(),
        };
        let read_by = if v.read_by == ALL {
            "all".to_string()
        } else {
            let names: Vec<&str> = v.read_by.iter().map(|c| c.name()).collect();
            names.join(", ")
        };
        let doc = doc(v).split_whitespace().collect::<Vec<_>>().join(" ");
        let secret = if v.secret { "yes" } else { "" };
        out.push_str(&format!(
            "| `{}` | {unset} | {read_by} | {secret} | {doc} |\n",
            v.name
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_upper_case_and_documented() {
        let mut seen = std::collections::BTreeSet::new();
        for v in VARIABLES {
            assert!(seen.insert(v.name), "{} twice", v.name);
            assert!(
                v.name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                v.name
            );
            assert!(
                !doc(v).trim().is_empty() && !doc(v).contains('|'),
                "{}",
                v.name
            );
            assert!(!v.read_by.is_empty(), "{}", v.name);
        }
        assert!(
            [Component::Collector, Component::Health]
                .iter()
                .all(|c| VARIABLES.iter().any(|v| v.read_by(*c)))
        );
    }

    #[test]
    fn the_markdown_has_a_row_per_variable() {
        let md = markdown();
        assert_eq!(md.lines().count(), VARIABLES.len() + 2);
        assert!(md.contains("| `BATCH_SIZE` | `100` | all |  | Stream entries per insert"));
        assert!(md.contains("| `DRAIN_TOKEN` | — (route off) | processor | yes |"));
    }
}
