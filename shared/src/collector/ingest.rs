//! From an authenticated request to its one backend call: validate and enrich each event
//! within the request's work budget, then encode the Redis append (redis sink) or the
//! ClickHouse insert (direct sink).
//!
//! Bounded work: what a request writes (enriched events plus dead letters) never exceeds
//! [`work_budget`] of its inflated body, the rejects listed are capped, and nothing is
//! copied per event without being counted against the budget. This holds before the rate
//! limit has spoken, because the rate limit only speaks in Redis.

use super::{Call, Pending, Plan, Random};
use crate::auth::{KeyId, hex};
use crate::config::{Config, Sink};
use crate::enrich::{BatchInfo, Edge, enrich, uuid_v4};
use crate::error::IngestError;
use crate::event::{Kind, RawObject};
use crate::redis::{INGEST_SCRIPT, command};
use crate::validate::{Reject, Rejects, check, dead_letter_text};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// Fixed part of the work budget: room for the edge's own fields on small requests.
pub const BUDGET_SLACK: usize = 64 * 1024;
/// Part of the budget kept for what the command carries besides events and dead
/// letters (the script text, keys, arguments, carried counters).
const COMMAND_OVERHEAD: usize = 8 * 1024;

/// The most bytes a request with an inflated body of `body_len` bytes may write:
/// `4 × body + 64 KiB`, counted as sent (the events and dead letters JSON-escaped inside
/// the Upstash command; the rows of the direct sink). Real SDK traffic stays under 2×
/// (the edge adds about 200 bytes per event); what passes the budget is only a
/// batch-level `context` copied into very many events, or thousands of tiny events, and
/// those are refused with 413 before anything is written.
pub fn work_budget(body_len: usize) -> usize {
    body_len.saturating_mul(4).saturating_add(BUDGET_SLACK)
}

/// A request's events after validation and enrichment.
pub(super) struct Enriched {
    /// The accepted events as one JSON array, written as they are enriched (no second
    /// copy of each event is kept).
    pub json: String,
    /// Per accepted event: its index in the request and its byte range in `json`.
    pub spans: Vec<(usize, std::ops::Range<usize>)>,
    /// The rejected events (listed ones in full, plus the count).
    pub rejects: Rejects,
    /// JSON array of the listed rejects with their event text (`""` when none).
    pub dead: String,
    /// Retry marker: a hash over the write key and every accepted event's `messageId`,
    /// each length-prefixed; `None` when an event came without one (then a resend cannot
    /// be told from a new event).
    pub marker: Option<[u8; 16]>,
}

/// What [`enrich_all`] reads about the request besides its events.
pub(super) struct Batch<'a> {
    /// The events, as raw JSON.
    pub events: &'a [&'a RawValue],
    /// The route's event type (single-event routes), or `None` for batches.
    pub route_kind: Option<Kind>,
    /// Batch-level context and `sentAt`.
    pub info: BatchInfo<'a>,
    /// Length of the inflated body, for the budget.
    pub body_len: usize,
}

/// Length of `json` once written as a JSON string (what the Upstash command carries):
/// quotes, backslashes and the whitespace JSON allows between tokens (newline, return,
/// tab) gain a backslash; JSON text holds no other raw control characters.
fn escaped_len(json: &str) -> usize {
    json.len()
        + json
            .bytes()
            .filter(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r' | b'\t'))
            .count()
}

fn over_budget(b: &Batch<'_>, budget: usize) -> IngestError {
    let ctx = b.info.context.map_or(String::new(), |_| {
        "; the batch-level context is copied into each event: send it per event or split the batch"
            .to_string()
    });
    IngestError::Expands(format!(
        "batch: the {} events would exceed {budget} bytes once enriched (4 x the {}-byte body + 64 KiB){ctx}",
        b.events.len(),
        b.body_len
    ))
}

/// Validate and enrich every event, within the work budget.
pub(super) fn enrich_all(
    cfg: &Config,
    b: &Batch<'_>,
    edge: &Edge<'_>,
    key: &KeyId,
    rng: &mut impl Random,
) -> Result<Enriched, IngestError> {
    // Room for the rest of the command: the script, keys and carried counters.
    let budget = work_budget(b.body_len).saturating_sub(COMMAND_OVERHEAD);
    let mut used = 0usize;
    let mut out = Enriched {
        json: String::new(),
        spans: Vec::new(),
        rejects: Rejects::default(),
        dead: String::new(),
        marker: None,
    };
    let mut all_have_ids = true;
    let mut marker = Sha256::new();
    marker.update(key.as_str().as_bytes());
    for (index, raw) in b.events.iter().enumerate() {
        let len = raw.get().len();
        // The size check comes before parsing: an oversized event costs no member list.
        let checked = if len > cfg.max_event_bytes {
            Err(check_size(len, cfg.max_event_bytes))
        } else {
            RawObject::from_raw(raw)
                .map_err(|_| Reject {
                    index,
                    field: None,
                    reason: "event must be a JSON object".into(),
                })
                .and_then(|obj| {
                    let c = check(&obj, b.route_kind, len, cfg.max_event_bytes)?;
                    Ok((obj, c))
                })
        };
        match checked {
            Ok((obj, c)) => {
                let generated;
                let id: &str = match &c.message_id {
                    Some(m) => m,
                    None => {
                        let mut bytes = [0u8; 16];
                        rng.fill(&mut bytes);
                        generated = uuid_v4(bytes);
                        &generated
                    }
                };
                match &c.message_id {
                    Some(m) => {
                        marker.update((m.len() as u64).to_le_bytes());
                        marker.update(m.as_bytes());
                    }
                    None => all_have_ids = false,
                }
                let ev = enrich(&obj, &c, &b.info, edge, id, len);
                used = used.saturating_add(escaped_len(&ev) + 1);
                if used > budget {
                    return Err(over_budget(b, budget));
                }
                out.json.push(if out.json.is_empty() { '[' } else { ',' });
                let start = out.json.len();
                out.json.push_str(&ev);
                out.spans.push((index, start..out.json.len()));
            }
            Err(mut rej) => {
                rej.index = index;
                let dead = serde_json::json!({
                    "index": index, "field": rej.field, "reason": rej.reason,
                    "event": dead_letter_text(raw, cfg.max_event_bytes),
                });
                if out.rejects.push(rej) {
                    let text = dead.to_string();
                    used = used.saturating_add(escaped_len(&text) + 1);
                    if used > budget {
                        return Err(over_budget(b, budget));
                    }
                    out.dead.push(if out.dead.is_empty() { '[' } else { ',' });
                    out.dead.push_str(&text);
                }
            }
        }
    }
    if !out.dead.is_empty() {
        out.dead.push(']');
    }
    if !out.json.is_empty() {
        out.json.push(']');
    }
    if !out.spans.is_empty() && all_have_ids {
        let digest = marker.finalize();
        let mut m = [0u8; 16];
        m.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
        out.marker = Some(m);
    }
    Ok(out)
}

fn check_size(len: usize, max: usize) -> Reject {
    Reject {
        index: 0,
        field: None,
        reason: format!("event is {len} bytes, over the {max}-byte limit"),
    }
}

/// What the ingest script keys on besides the write key.
pub(super) struct RequestKeys<'a> {
    /// The client's rate-limit bucket (see [`crate::identity::bucket`]).
    pub rl_client: &'a str,
    /// Hex digest of a verified v2 signature: refused if seen inside the window.
    pub nonce: Option<&'a str>,
    /// Arrival time, Unix ms.
    pub now_ms: i64,
    /// The request's [`work_budget`].
    pub budget: usize,
}

/// The backend call for the enriched events: the ingest script (redis sink) or an
/// async insert (direct sink).
pub(super) fn call(
    cfg: &Config,
    e: Enriched,
    key: &KeyId,
    request: RequestKeys<'_>,
    pending: Pending,
    metrics: &mut crate::metrics::Metrics,
) -> Result<Plan, IngestError> {
    match &cfg.sink {
        Sink::ClickHouse(target) => direct(target, e, key, request.budget, pending),
        Sink::Redis => Ok(redis(cfg, e, key, request, pending, metrics)),
    }
}

/// Direct sink: rows for ClickHouse. An event that cannot become a row is rejected on its
/// own (never the whole request), so one poison event cannot hold back the rest.
fn direct(
    target: &crate::clickhouse::Target,
    mut e: Enriched,
    key: &KeyId,
    budget: usize,
    mut pending: Pending,
) -> Result<Plan, IngestError> {
    let mut rows = String::with_capacity(e.json.len() + e.spans.len() * 400);
    let mut count = 0;
    for (index, span) in &e.spans {
        let ev = e.json.get(span.clone()).unwrap_or_default();
        match crate::clickhouse::row(ev, key.as_str(), "") {
            Ok(row) => {
                if rows.len() + row.len() + 1 > budget {
                    return Err(IngestError::Expands(format!(
                        "batch: the rows of these {} events would exceed {budget} bytes (4 x the body + 64 KiB)",
                        e.spans.len()
                    )));
                }
                rows.push_str(&row);
                rows.push('\n');
                count += 1;
            }
            Err(crate::clickhouse::RowError(reason)) => {
                e.rejects.push(Reject {
                    index: *index,
                    field: None,
                    reason,
                });
            }
        }
    }
    if count == 0 {
        return Err(IngestError::AllInvalid(e.rejects));
    }
    pending.direct = true;
    pending.accepted = count;
    pending.rejects = e.rejects;
    Ok(Plan::Call {
        call: Call::ClickHouse(target.insert_async(rows)),
        pending,
    })
}

/// Redis sink: one `EVAL` of the ingest script (rate limit, retry marker, append, dead
/// letters), with the counters of earlier requests riding along.
fn redis(
    cfg: &Config,
    e: Enriched,
    key: &KeyId,
    request: RequestKeys<'_>,
    mut pending: Pending,
    metrics: &mut crate::metrics::Metrics,
) -> Plan {
    let count = e.spans.len();
    let stream = &cfg.stream_key;
    let rl_key = format!("{stream}:rl:{}:{}", key.as_str(), request.rl_client);
    let nonce_key = format!("{stream}:sig:{}", request.nonce.unwrap_or("-"));
    // Twice the timestamp tolerance: past that the timestamp check refuses it anyway.
    let nonce_ttl = match request.nonce {
        Some(_) => (crate::auth::SIGNATURE_TOLERANCE_SECONDS * 2 * 1000).to_string(),
        None => "0".to_string(),
    };
    let dedupe_ttl_ms = match e.marker {
        Some(_) => cfg.dedupe_window_seconds.saturating_mul(1000),
        None => 0,
    };
    let marker_key = format!("{stream}:seen:{}", hex(&e.marker.unwrap_or_default()));
    let (lock_key, wanted_key) = crate::redis::drain_keys(stream);
    let metrics_key = crate::metrics::hash_key(stream);
    let max = cfg.rate_limit_max_requests.to_string();
    let window = cfg.rate_limit_window_ms.to_string();
    let ttl = dedupe_ttl_ms.to_string();
    let n = count.to_string();
    let rejected = e.rejects.total().to_string();
    let now = request.now_ms.to_string();
    let lock_ttl = cfg.drain_lock_ms.to_string();
    let dlq = cfg.dead_letter_stream();
    let mut all: Vec<&str> = vec![
        "EVAL",
        INGEST_SCRIPT,
        "8",
        stream,
        &dlq,
        &rl_key,
        &marker_key,
        &lock_key,
        &wanted_key,
        &metrics_key,
        &nonce_key,
        &max,
        &window,
        &ttl,
        &e.json,
        &n,
        &e.dead,
        key.as_str(),
        &pending.log.request_id,
        &now,
        &lock_ttl,
        &rejected,
        &nonce_ttl,
    ];
    let carried = metrics.take();
    let carried_text: Vec<(String, String)> = carried
        .iter()
        .map(|(f, n)| (f.clone(), n.to_string()))
        .collect();
    for (f, n) in &carried_text {
        all.push(f);
        all.push(n);
    }
    let call = Call::Redis(command(&all));
    pending.accepted = count;
    pending.rejects = e.rejects;
    pending.metrics = carried;
    Plan::Call { call, pending }
}
