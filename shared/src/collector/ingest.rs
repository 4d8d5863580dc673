//! From an authenticated request to its one backend call: validate and enrich each event
//! within the request's work budget, then encode the Redis append (redis sink) or the
//! ClickHouse insert (direct sink).
//!
//! Bounded work: what a request writes (enriched events plus dead letters) never exceeds
//! [`work_budget`] of its inflated body, the rejects listed are capped, and nothing is
//! copied per event without being counted against the budget. This holds before the rate
//! limit has spoken, because the rate limit only speaks in Redis.

use super::{Call, Pending, Plan, Random};
use crate::auth::KeyId;
use crate::config::{Config, Sink};
use crate::enrich::{BatchInfo, Edge, enrich, uuid_v4};
use crate::error::IngestError;
use crate::event::{Kind, RawObject};
use crate::redis::CommandWriter;
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

/// Where accepted events go as they are enriched, so no second copy is kept: straight
/// into the Upstash command (redis sink) or into one array the rows are made from.
pub(super) trait Accepted {
    /// Take one enriched event, the `index`-th of the request; returns the bytes it
    /// costs as sent (what the work budget counts).
    fn push(&mut self, index: usize, event: &str) -> usize;
    /// How many were taken.
    fn count(&self) -> usize;
}

/// The accepted events as one JSON array, with each event's place in it (direct sink).
#[derive(Default)]
pub(super) struct JsonArray {
    json: String,
    spans: Vec<(usize, std::ops::Range<usize>)>,
}

impl Accepted for JsonArray {
    fn push(&mut self, index: usize, event: &str) -> usize {
        self.json.push(if self.json.is_empty() { '[' } else { ',' });
        let start = self.json.len();
        self.json.push_str(event);
        self.spans.push((index, start..self.json.len()));
        // The rows made from it are budgeted on their own (see `clickhouse_insert`).
        event.len() + 1
    }
    fn count(&self) -> usize {
        self.spans.len()
    }
}

/// The events argument of the ingest script, escaped into the command as it grows.
struct EventsArg<'w> {
    w: &'w mut CommandWriter,
    count: usize,
    /// The command's whole budget: its buffer never grows past it.
    limit: usize,
}

impl Accepted for EventsArg<'_> {
    fn push(&mut self, _index: usize, event: &str) -> usize {
        // Escaping at most doubles it; the writer never grows past the budget for it.
        self.w.reserve_within(2 * event.len() + 1, self.limit);
        let before = self.w.len();
        self.w.piece(if self.count == 0 { "[" } else { "," });
        self.w.piece(event);
        self.count += 1;
        self.w.len() - before
    }
    fn count(&self) -> usize {
        self.count
    }
}

/// A request's events after validation and enrichment (the accepted ones went to an
/// [`Accepted`]).
pub(super) struct Enriched {
    /// The rejected events (listed ones in full, plus the count).
    pub rejects: Rejects,
    /// JSON array of the listed rejects with their event text (`""` when none).
    pub dead: String,
    /// Retry marker: a hash over the write key and every accepted event's `messageId`,
    /// each length-prefixed; `None` when an event came without one (then a resend cannot
    /// be told from a new event).
    pub marker: Option<[u8; 16]>,
}

/// Everything planning the backend call reads about one request.
pub(super) struct Batch<'a> {
    /// The configuration.
    pub cfg: &'a Config,
    /// The authenticated write key.
    pub key: &'a KeyId,
    /// What the edge knows about the request (time, client, geo, user agent).
    pub edge: Edge<'a>,
    /// The client's rate-limit bucket (see [`crate::identity::bucket`]).
    pub rl_client: &'a str,
    /// Hex digest of a verified v2 signature: refused if seen inside the window.
    pub nonce: Option<&'a str>,
    /// The request's [`work_budget`].
    pub budget: usize,
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
fn enrich_all(
    b: &Batch<'_>,
    rng: &mut impl Random,
    accepted: &mut dyn Accepted,
) -> Result<Enriched, IngestError> {
    // Room for the rest of the command: the script, keys and carried counters.
    let budget = b.budget.saturating_sub(COMMAND_OVERHEAD);
    let mut used = 0usize;
    let mut out = Enriched {
        rejects: Rejects::default(),
        dead: String::new(),
        marker: None,
    };
    let mut all_have_ids = true;
    let mut marker = Sha256::new();
    marker.update(b.key.as_str().as_bytes());
    for (index, raw) in b.events.iter().enumerate() {
        let len = raw.get().len();
        // The size check comes before parsing: an oversized event costs no member list.
        let checked = if len > b.cfg.max_event_bytes {
            Err(check_size(len, b.cfg.max_event_bytes))
        } else {
            RawObject::from_raw(raw)
                .map_err(|_| Reject {
                    index,
                    field: None,
                    reason: "event must be a JSON object".into(),
                })
                .and_then(|obj| {
                    let c = check(&obj, b.route_kind, len, b.cfg.max_event_bytes)?;
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
                let ev = enrich(&obj, &c, &b.info, &b.edge, id, len);
                // Counted as written (escaped, in the command): past the budget by at most
                // this one event, and then the request is refused.
                used = used.saturating_add(accepted.push(index, &ev));
                if used > budget {
                    return Err(over_budget(b, budget));
                }
            }
            Err(mut rej) => {
                rej.index = index;
                let dead = serde_json::json!({
                    "index": index, "field": rej.field, "reason": rej.reason,
                    "event": dead_letter_text(raw, b.cfg.max_event_bytes),
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
    if accepted.count() > 0 && all_have_ids {
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

/// Validate and enrich the request's events into its one backend call: the ingest
/// script (redis sink) or an async insert (direct sink).
pub(super) fn call(
    b: &Batch<'_>,
    rng: &mut impl Random,
    pending: Pending,
    metrics: &mut crate::metrics::Metrics,
) -> Result<Plan, IngestError> {
    match &b.cfg.sink {
        Sink::ClickHouse(target) => {
            let mut events = JsonArray::default();
            let e = enrich_all(b, rng, &mut events)?;
            clickhouse_insert(target, e, events, b.key, b.budget, pending)
        }
        Sink::Redis => redis_append(b, rng, pending, metrics),
    }
}

/// Direct sink: rows for ClickHouse. An event that cannot become a row is rejected on its
/// own (never the whole request), so one poison event cannot hold back the rest.
fn clickhouse_insert(
    target: &crate::clickhouse::Target,
    mut e: Enriched,
    events: JsonArray,
    key: &KeyId,
    budget: usize,
    mut pending: Pending,
) -> Result<Plan, IngestError> {
    let mut rows = String::with_capacity(events.json.len() + events.spans.len() * 400);
    let mut count = 0;
    for (index, span) in &events.spans {
        let ev = events.json.get(span.clone()).unwrap_or_default();
        match crate::clickhouse::row(ev, key.as_str(), "") {
            Ok(row) => {
                if rows.len() + row.len() + 1 > budget {
                    return Err(IngestError::Expands(format!(
                        "batch: the rows of these {} events would exceed {budget} bytes (4 x the body + 64 KiB)",
                        events.spans.len()
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

/// Redis sink: this request's member of an ingest script call (rate limit, retry marker,
/// append, dead letters), with the counters of earlier requests riding along. The events
/// are escaped into it as they are enriched; the retry marker is known after the last.
fn redis_append(
    b: &Batch<'_>,
    rng: &mut impl Random,
    mut pending: Pending,
    metrics: &mut crate::metrics::Metrics,
) -> Result<Plan, IngestError> {
    use crate::redis::ingest::{MemberHead, MemberKeys, MemberTail, ShardKeys, begin, end};
    // A client's rate limit and a signature's nonce hold across shards: named after the
    // base stream, whichever shard the request lands on.
    let stream = &b.cfg.stream_key;
    let rate_limit = format!("{stream}:rl:{}:{}", b.key.as_str(), b.rl_client);
    // An unsigned request has no nonce: its slot repeats the rate-limit key (the script
    // touches the slot only for a v2 signature). A shared placeholder key would be locked
    // by every call (Upstash locks each key in KEYS) and serialize all shards on it.
    let nonce = b.nonce.map(|n| format!("{stream}:sig:{n}"));
    let keys = MemberKeys {
        rate_limit: &rate_limit,
        nonce: nonce.as_deref().unwrap_or(&rate_limit),
    };
    let offer = b.cfg.drain_lock_ms > 0
        && metrics.offer_lock(
            b.edge.now_ms,
            crate::metrics::LOCK_OFFER_EVERY_MS
                .min(i64::try_from(b.cfg.drain_lock_ms).unwrap_or(i64::MAX)),
        );
    let head = MemberHead {
        max_requests: b.cfg.rate_limit_max_requests,
        window_ms: b.cfg.rate_limit_window_ms,
        // Twice the timestamp tolerance: past that the timestamp check refuses it anyway.
        nonce_ttl_ms: b.nonce.map_or(0, |_| {
            crate::auth::SIGNATURE_TOLERANCE_SECONDS.unsigned_abs() * 2 * 1000
        }),
        lock_ttl_ms: if offer { b.cfg.drain_lock_ms } else { 0 },
        write_key_id: b.key.as_str(),
        request_id: &pending.log.request_id,
        received_at_ms: b.edge.now_ms,
    };
    let mut m = begin(&keys, &head, b.body_len + b.body_len / 2 + 1024);
    let mut events = EventsArg {
        w: m.events(),
        count: 0,
        limit: b.budget,
    };
    let e = enrich_all(b, rng, &mut events)?;
    let count = events.count;
    if count > 0 {
        m.events().piece("]");
    }
    let carried = metrics.take_due(b.edge.now_ms);
    let now = b.edge.now_ms;
    let dedupe_ms =
        i64::try_from(b.cfg.dedupe_window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
    // The marker: the messageIds' hash; in a group (LINGER_MS) a request without one
    // gets a one-off marker, so a group's call can be repeated (see redis::linger).
    let marker = match e.marker {
        Some(m) if dedupe_ms > 0 => Some((m, dedupe_ms)),
        _ if b.cfg.linger_ms > 0 => {
            let mut id = [0u8; 16];
            rng.fill(&mut id);
            Some((id, crate::redis::linger::ONE_OFF_MARKER_MS))
        }
        _ => None,
    };
    let marker_hex = marker.map(|(m, ttl_ms)| {
        let mut sub_ms = [0u8; 2];
        rng.fill(&mut sub_ms);
        let score = now
            .saturating_add(ttl_ms)
            .saturating_mul(1000)
            .saturating_add(i64::from(u16::from_le_bytes(sub_ms) % 1000));
        (hex::encode(m), score)
    });
    let tail = MemberTail {
        accepted: count,
        rejected: e.rejects.total(),
        rejects_json: &e.dead,
        metrics: &carried,
        marker: marker_hex.as_ref().map(|(m, at)| (m.as_str(), *at)),
        trim_before_us: if now % crate::redis::TRIM_ONE_IN == 0 {
            now.saturating_mul(1000)
        } else {
            0
        },
    };
    // The shard: by the messageIds' hash, so that a retry meets its own marker; by write
    // key and client without one.
    let shard = {
        use crate::stream::shard;
        let n = b.cfg.stream_shards;
        match e.marker {
            Some(m) => shard::of_marker(&m, n),
            None => shard::of_parts(&[b.key.as_str(), b.rl_client], n),
        }
    };
    let shard_keys = ShardKeys::of(&crate::stream::shard::stream_of(stream, shard));
    let member = end(m, &shard_keys.group(), &tail);
    pending.stream = Some(shard_keys.stream().to_string());
    pending.accepted = count;
    pending.rejects = e.rejects;
    pending.metrics = carried;
    Ok(Plan::Call {
        call: Call::Redis(member),
        pending,
    })
}
