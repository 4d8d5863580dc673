//! The request planner: any request (input format: [`ingest_fuzz::RawRequest`]) gives a
//! plan without panicking, and the work a plan asks for is bounded by the request.
//!
//! Bounded-work invariants, with `n` = the decoded body length (after gzip):
//! - `Plan::Call`: the backend call's body (Upstash command JSON, or ClickHouse rows plus
//!   the insert URL) is at most `K * n + C` bytes, `K = 4`, `C = 64 KiB`. K covers JSON
//!   string escaping of the accepted events inside the command (at most 2x: `"` and `\`
//!   double) plus per-event enrichment; C covers the Lua script, the keys and the fixed
//!   fields of a small batch.
//! - `Plan::Respond`: the reply body is at most `R = 64 KiB`.
//! - The reply [`finish`] builds after a successful backend call is at most `R` too: it
//!   is what the client gets back for the same request.
//!
//! Harness instructions (`x-fuzz-*` header lines, stripped before planning):
//! `x-fuzz-sink: clickhouse` plans for the direct ClickHouse sink instead of Redis;
//! `x-fuzz-gzip: 1` gzips the body and sets `content-encoding: gzip`; `x-fuzz-sign: 1`
//! adds a valid request signature (key `wk_signed` must sign); `x-fuzz-geo: 1` passes
//! platform geo data; `x-fuzz-repeat: N` cycles the body's `batch` elements until it
//! holds N events (at most 5000 events and 64 KiB of body; see
//! [`ingest_fuzz::repeat_batch`]), since byte mutations seldom build long batches.
#![no_main]

use ingest_core::Config;
use ingest_core::collector::{Call, Incoming, Plan, Random, finish, plan};
use ingest_core::enrich::Geo;
use ingest_core::metrics::Metrics;
use ingest_fuzz::{RawRequest, repeat_batch, timed};
use libfuzzer_sys::fuzz_target;
use std::io::Write as _;
use std::sync::LazyLock;

/// Call body bound: `K * decoded body + C`.
const K: usize = 4;
const C: usize = 64 * 1024;
/// Reply body bound.
const R: usize = 64 * 1024;

const NOW_MS: i64 = 1_700_000_000_000;

fn config(extra: &[(&str, &str)]) -> Config {
    let hashed = ingest_core::auth::hashed_entry("wk_hashed");
    let keys = format!("wk_test,wk_signed,{hashed}");
    let mut vars: Vec<(&str, &str)> = vec![
        ("ALLOWED_WRITE_KEYS", &keys),
        ("REDIS_URL", "http://127.0.0.1:1"),
        ("REDIS_TOKEN", "t"),
        (
            "ALLOWED_ORIGINS",
            "https://app.example,https://*.shop.example",
        ),
        ("SIGNING_SECRETS", "wk_signed=fuzz-secret"),
        ("DRAIN_AFTER_ACK_MS", "1000"),
    ];
    vars.extend_from_slice(extra);
    Config::from_lookup(|k| {
        vars.iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .expect("fuzz config is valid")
}

static REDIS: LazyLock<Config> = LazyLock::new(|| config(&[]));
static CLICKHOUSE: LazyLock<Config> = LazyLock::new(|| {
    config(&[
        ("SINK", "clickhouse"),
        ("CLICKHOUSE_URL", "http://127.0.0.1:8123"),
    ])
});

/// Deterministic "random" bytes, as in the core's unit tests.
struct Counter(u8);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let Some(mut req) = RawRequest::parse(data) else {
        return;
    };
    let cfg: &Config = if req.flag("sink") == Some("clickhouse") {
        &CLICKHOUSE
    } else {
        &REDIS
    };
    let repeated;
    if let Some(n) = req.flag("repeat").and_then(|n| n.trim().parse().ok())
        && let Some(b) = repeat_batch(req.body, n)
    {
        repeated = b;
        req.body = &repeated;
    }
    let zipped;
    if req.flag("gzip").is_some() {
        zipped = gzip(req.body);
        req.body = &zipped;
        req.headers.insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static("gzip"),
        );
    }
    if req.flag("sign").is_some() {
        let ts = NOW_MS / 1000;
        let sig = ingest_core::auth::sign_v2("fuzz-secret", req.method, req.path, ts, req.body);
        for (name, value) in [
            (ingest_core::auth::SIGNATURE_HEADER, sig),
            (ingest_core::auth::TIMESTAMP_HEADER, ts.to_string()),
        ] {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                req.headers.insert(name, v);
            }
        }
    }
    let geo = Geo {
        country: Some("NO".into()),
        region: Some("Oslo".into()),
        city: Some("Oslo".into()),
        timezone: Some("Europe/Oslo".into()),
        latitude: Some("59.9".into()),
        longitude: Some("10.7".into()),
        asn: Some(64_496),
    };
    let incoming = Incoming {
        method: req.method,
        path: req.path,
        headers: &req.headers,
        body: req.body,
        peer_ip: Some([192, 0, 2, 1].into()),
        geo: req.flag("geo").map(|_| &geo),
        now_ms: NOW_MS,
    };
    let encoding = req
        .headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let n = ingest_core::payload::decode(req.body, encoding, cfg.max_request_bytes)
        .map_or(req.body.len(), |d| d.len());

    timed(data.len(), || {
        let mut metrics = Metrics::default();
        match plan(cfg, &incoming, &mut Counter(0), &mut metrics) {
            Plan::Respond(reply, _) => assert!(
                reply.body.len() <= R,
                "reply amplification: {} B reply to a {n} B body (bound {R} B), status {}",
                reply.body.len(),
                reply.status
            ),
            Plan::Call { call, pending } => {
                let (size, ok) = match &call {
                    Call::Redis(c) => (c.call().body.len(), br#"{"result":[["ok","1-0",0]]}"#.to_vec()),
                    Call::ClickHouse(r) => (r.body.len() + r.url.len(), Vec::new()),
                };
                let done = finish(cfg, pending, Ok((200, ok).into()));
                let (accepted, rejected) = (done.log.accepted, done.log.rejected);
                assert!(
                    size <= K * n + C,
                    "call amplification: {size} B call for a {n} B body (bound {K}x + {C} B); \
                     {accepted} events accepted, {rejected} rejected"
                );
                assert!(
                    done.reply.body.len() <= R,
                    "reply amplification: {} B reply to a {n} B body (bound {R} B); \
                     {accepted} events accepted, {rejected} rejected",
                    done.reply.body.len()
                );
            }
        }
    });
});
