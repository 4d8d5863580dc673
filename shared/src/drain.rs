//! The processor: drains the Redis stream into ClickHouse with at-least-once delivery
//! made exactly-once by ClickHouse (`insert_deduplication_token` per batch, rows keyed on
//! `message_id`). Written once against the [`Io`] port; the Workers cron, the collector's
//! after-response drain, Spin and the native binary provide the port.
//!
//! One pass: read up to `BATCH_SIZE` entries for this consumer (optionally reclaiming
//! entries another consumer left pending for `CLAIM_IDLE_MS`), turn their events into
//! rows, insert, and only after ClickHouse confirmed, XACK + dead-letter + trim in one
//! script. A refused batch is split per entry so one poison entry cannot block the rest.

use crate::clickhouse::{self, Failure, Target};
use crate::config::number;
use crate::io::CallOutcome;
use crate::redis::{RestCall, command, parse_result};
use serde_json::Value;
use serde_json::value::RawValue;

pub use crate::io::Io;

/// Processor configuration.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// `REDIS_STREAM_KEY` (default `analytics_events`).
    pub stream: String,
    /// `REDIS_CONSUMER_GROUP` (default `processors`).
    pub group: String,
    /// `BATCH_SIZE`: stream entries per insert (default 100; each entry is one request's events).
    pub batch_size: usize,
    /// `FLUSH_INTERVAL_MS`: how long a read waits for new entries (default 1000).
    pub flush_interval_ms: u64,
    /// `CLAIM_IDLE_MS`: entries pending this long are taken over (default 30000).
    pub claim_idle_ms: u64,
    /// `MAX_DELIVERIES`: an entry delivered more often goes to the dead-letter stream (default 5).
    pub max_deliveries: u64,
    /// `STREAM_RETENTION_MS`: keep acknowledged entries this long for inspection or replay
    /// (default 0: trim everything every consumer group has acknowledged).
    pub retention_ms: u64,
    /// The ClickHouse target.
    pub target: Target,
}

/// Variables [`DrainConfig::from_lookup`] reads.
pub const VARIABLES: &[&str] = &[
    "REDIS_STREAM_KEY",
    "REDIS_CONSUMER_GROUP",
    "BATCH_SIZE",
    "FLUSH_INTERVAL_MS",
    "CLAIM_IDLE_MS",
    "MAX_DELIVERIES",
    "STREAM_RETENTION_MS",
    "CLICKHOUSE_URL",
    "CLICKHOUSE_DATABASE",
    "CLICKHOUSE_USER",
    "CLICKHOUSE_PASSWORD",
];

impl DrainConfig {
    /// Read the processor's variables. `CLICKHOUSE_URL` is required.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let target = Target::from_lookup(&get)?;
        let text = |name: &str, default: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let batch_size = number(&get, "BATCH_SIZE", 100usize)?;
        if !(1..=1000).contains(&batch_size) {
            return Err(format!(
                "BATCH_SIZE must be between 1 and 1000, got {batch_size}"
            ));
        }
        Ok(Self {
            stream: text("REDIS_STREAM_KEY", "analytics_events"),
            group: text("REDIS_CONSUMER_GROUP", "processors"),
            batch_size,
            flush_interval_ms: number(&get, "FLUSH_INTERVAL_MS", 1000u64)?,
            claim_idle_ms: number(&get, "CLAIM_IDLE_MS", 30_000u64)?,
            max_deliveries: number(&get, "MAX_DELIVERIES", 5u64)?.max(1),
            retention_ms: number(&get, "STREAM_RETENTION_MS", 0u64)?,
            target,
        })
    }

    /// The dead-letter stream.
    pub fn dead_letter_stream(&self) -> String {
        format!("{}:invalid", self.stream)
    }
}

/// XACK the done entries, dead-letter the poison ones, then trim the stream below the
/// oldest entry any consumer group still needs.
///
/// KEYS: 1 stream, 2 dead-letter stream, 3 metrics hash. ARGV: 1 group, 2 rows inserted
/// (counted in the metrics hash), 3 retention ms, 4 number of acked ids, then those ids,
/// then (id, reason, fields JSON) triples for dead letters. Returns {acked, trimmed}.
pub const ACK_SCRIPT: &str = r#"
local group = ARGV[1]
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[3], 'rows_inserted', ARGV[2]) end
local n = tonumber(ARGV[4])
local acked = 0
if n > 0 then acked = redis.call('XACK', KEYS[1], group, unpack(ARGV, 5, 4 + n)) end
local i = 5 + n
while i + 2 <= #ARGV do
  redis.call('XADD', KEYS[2], '*', 'source_id', ARGV[i], 'reason', ARGV[i + 1], 'entry', ARGV[i + 2], 'at', tostring(redis.call('TIME')[1]))
  acked = acked + redis.call('XACK', KEYS[1], group, ARGV[i])
  i = i + 3
end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local bound = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  local keep = info['last-delivered-id']
  if tonumber(info['pending']) > 0 then
    keep = redis.call('XPENDING', KEYS[1], info['name'])[2]
  end
  if bound == nil or less(keep, bound) then bound = keep end
end
local retention = tonumber(ARGV[3])
if bound ~= nil and retention > 0 then
  local t = redis.call('TIME')
  local cutoff = string.format('%d-0', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - retention)
  if less(cutoff, bound) then bound = cutoff end
end
local trimmed = 0
if bound ~= nil and bound ~= '0-0' then trimmed = redis.call('XTRIM', KEYS[1], 'MINID', bound) end
return {acked, trimmed}
"#;

/// Stream health for `/health` and `/metrics`, in one script.
///
/// KEYS: 1 stream, 2 dead-letter stream, 3 metrics hash. ARGV: 1 group. Returns {length,
/// pending, oldest unacked id or '', dead-letter length, group exists 0/1, metrics hash
/// as a flat field/value array}.
pub const STATS_SCRIPT: &str = r#"
local len = redis.call('XLEN', KEYS[1])
local dlq = redis.call('XLEN', KEYS[2])
local counters = redis.call('HGETALL', KEYS[3])
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, '', dlq, 0, counters, 0} end
local pending, oldest, found, backlog = 0, '', 0, len
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for j = 1, #g, 2 do info[g[j]] = g[j + 1] end
  if info['name'] == ARGV[1] then
    found = 1
    pending = tonumber(info['pending'])
    local undelivered = tonumber(info['lag'])
    if undelivered ~= nil then backlog = undelivered + pending end
    if pending > 0 then
      oldest = redis.call('XPENDING', KEYS[1], ARGV[1])[2]
    else
      local next = redis.call('XRANGE', KEYS[1], '(' .. info['last-delivered-id'], '+', 'COUNT', 1)
      if #next > 0 then oldest = next[1][1] end
    end
  end
end
if found == 0 then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #first > 0 then oldest = first[1][1] end
end
return {len, pending, oldest, dlq, found, counters, backlog}
"#;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Stream entries read (new + reclaimed).
    pub entries: usize,
    /// Rows inserted (before ClickHouse deduplication).
    pub rows: usize,
    /// Entries or events sent to the dead-letter stream.
    pub dead_lettered: usize,
    /// Entries acknowledged.
    pub acked: u64,
    /// Entries trimmed from the stream.
    pub trimmed: u64,
    /// Age in ms of the oldest entry handled (receive-to-insert lag), if any.
    pub oldest_ms: Option<i64>,
}

/// Why a pass stopped without acknowledging (entries stay pending and are retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainError {
    /// Redis did not answer or refused.
    Redis(String),
    /// ClickHouse did not confirm the insert.
    ClickHouse(String),
}

impl std::fmt::Display for DrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(m) => write!(f, "redis: {m}"),
            Self::ClickHouse(m) => write!(f, "clickhouse: {m}"),
        }
    }
}

/// One stream entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stream id, `ms-seq`.
    pub id: String,
    /// Field/value pairs.
    pub fields: Vec<(String, String)>,
}

impl Entry {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Milliseconds part of the id (when Redis appended it).
    pub fn ms(&self) -> Option<i64> {
        self.id.split('-').next()?.parse().ok()
    }
}

/// Parse `[[id, [k, v, ...]], ...]` (XRANGE / XAUTOCLAIM shape); null entries are skipped.
pub fn parse_entries(v: &Value) -> Vec<Entry> {
    let mut out = Vec::new();
    for e in v.as_array().into_iter().flatten() {
        let (Some(id), Some(kv)) = (
            e.get(0).and_then(Value::as_str),
            e.get(1).and_then(Value::as_array),
        ) else {
            continue;
        };
        let fields = kv
            .chunks(2)
            .filter_map(|p| match p {
                [Value::String(k), Value::String(v)] => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect();
        out.push(Entry {
            id: id.to_string(),
            fields,
        });
    }
    out
}

async fn redis<I: Io>(io: &I, call: &RestCall) -> Result<Value, DrainError> {
    let outcome = io.redis(call).await.map_err(DrainError::Redis)?;
    parse_result(outcome.0, &outcome.1).map_err(|e| DrainError::Redis(format!("{e:?}")))
}

async fn ensure_group<I: Io>(io: &I, cfg: &DrainConfig) -> Result<(), DrainError> {
    match redis(
        io,
        &command(&["XGROUP", "CREATE", &cfg.stream, &cfg.group, "0", "MKSTREAM"]),
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(DrainError::Redis(m)) if m.contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

async fn read_group<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
    pass: &Pass,
) -> Result<Vec<Entry>, DrainError> {
    let count = cfg.batch_size.to_string();
    let block = pass
        .block_ms
        .filter(|_| !pass.own_pending)
        .map(|b| b.to_string());
    let mut args = vec!["XREADGROUP", "GROUP", &cfg.group, consumer, "COUNT", &count];
    if let Some(b) = &block {
        args.extend(["BLOCK", b]);
    }
    // ">" = entries never delivered; "0" = this consumer's own unacknowledged entries.
    args.extend([
        "STREAMS",
        &cfg.stream,
        if pass.own_pending { "0" } else { ">" },
    ]);
    let call = command(&args);
    let result = match redis(io, &call).await {
        Err(DrainError::Redis(m)) if m.contains("NOGROUP") => {
            ensure_group(io, cfg).await?;
            redis(io, &call).await?
        }
        other => other?,
    };
    // [[stream, [[id, fields], ...]]] or null
    Ok(result
        .get(0)
        .and_then(|s| s.get(1))
        .map(parse_entries)
        .unwrap_or_default())
}

async fn reclaim<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
) -> Result<Vec<(Entry, u64)>, DrainError> {
    let idle = cfg.claim_idle_ms.to_string();
    let count = cfg.batch_size.to_string();
    let call = command(&[
        "XAUTOCLAIM",
        &cfg.stream,
        &cfg.group,
        consumer,
        &idle,
        "0-0",
        "COUNT",
        &count,
    ]);
    let result = match redis(io, &call).await {
        Err(DrainError::Redis(m)) if m.contains("NOGROUP") => {
            ensure_group(io, cfg).await?;
            return Ok(Vec::new());
        }
        other => other?,
    };
    let entries = result.get(1).map(parse_entries).unwrap_or_default();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(Vec::new());
    };
    // delivery counts (XAUTOCLAIM itself counted one more delivery)
    let pend = redis(
        io,
        &command(&[
            "XPENDING",
            &cfg.stream,
            &cfg.group,
            &first.id,
            &last.id,
            &count,
            consumer,
        ]),
    )
    .await?;
    let counts: Vec<(String, u64)> = pend
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p.get(0)?.as_str()?.to_string(), p.get(3)?.as_u64()?)))
        .collect();
    Ok(entries
        .into_iter()
        .map(|e| {
            let n = counts
                .iter()
                .find(|(id, _)| *id == e.id)
                .map_or(1, |(_, n)| *n);
            (e, n)
        })
        .collect())
}

struct Batch {
    ids: Vec<String>,
    rows: String,
    row_count: usize,
}

/// Turn entries into insertable rows; events or entries that can never become rows are
/// returned as dead letters `(entry id, reason, payload)`.
fn build(entries: &[Entry]) -> (Vec<Batch>, Vec<(String, String, String)>) {
    let mut batches = Vec::with_capacity(entries.len());
    let mut dead = Vec::new();
    for e in entries {
        let wk = e.field("wk").unwrap_or_default();
        let Some(events_json) = e.field("events") else {
            dead.push((
                e.id.clone(),
                "entry has no events field".to_string(),
                fields_json(e),
            ));
            continue;
        };
        let Ok(events) = serde_json::from_str::<Vec<&RawValue>>(events_json) else {
            dead.push((
                e.id.clone(),
                "events field is not a JSON array".to_string(),
                fields_json(e),
            ));
            continue;
        };
        let mut rows = String::with_capacity(events_json.len() + events.len() * 400);
        let mut n = 0;
        for ev in events {
            match clickhouse::row(ev.get(), wk, &e.id) {
                Ok(r) => {
                    rows.push_str(&r);
                    rows.push('\n');
                    n += 1;
                }
                Err(clickhouse::RowError(reason)) => {
                    dead.push((e.id.clone(), reason, single_event_payload(e, ev.get())))
                }
            }
        }
        batches.push(Batch {
            ids: vec![e.id.clone()],
            rows,
            row_count: n,
        });
    }
    (batches, dead)
}

/// The dead letter of one event of an entry: the entry's fields with only that event, so
/// `replay` can put it back as an entry of its own (the rest of the entry was stored).
fn single_event_payload(e: &Entry, event: &str) -> String {
    let mut map: serde_json::Map<String, Value> = e
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    map.insert("events".into(), Value::String(format!("[{event}]")));
    map.insert("n".into(), Value::String("1".into()));
    Value::Object(map).to_string()
}

fn fields_json(e: &Entry) -> String {
    let map: serde_json::Map<String, Value> = e
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map).to_string()
}

async fn insert<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    ids: &[String],
    rows: String,
) -> Result<(), (Failure, String)> {
    let req = cfg.target.insert(rows, &clickhouse::dedup_token(ids));
    match io.clickhouse(&req).await {
        Ok((status, _)) if (200..300).contains(&status) => Ok(()),
        Ok((status, body)) => Err((
            clickhouse::classify(status),
            format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(body.get(..300).unwrap_or(&body)).trim()
            ),
        )),
        Err(e) => Err((Failure::Transient, e)),
    }
}

/// How one pass reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Wait up to this long for new entries (a long-running processor); `None` = don't wait.
    pub block_ms: Option<u64>,
    /// First take over entries other consumers left pending for `CLAIM_IDLE_MS`.
    pub reclaim: bool,
    /// Re-read this consumer's own unacknowledged entries (after a failure or a restart)
    /// instead of new ones.
    pub own_pending: bool,
}

/// Drain one batch; `now_ms` is read after the entries arrived, for the lag figure.
pub async fn drain_once<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
    pass: Pass,
    now_ms: impl Fn() -> i64,
) -> Result<Report, DrainError> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut dead: Vec<(String, String, String)> = Vec::new();
    if pass.reclaim {
        for (e, deliveries) in reclaim(io, cfg, consumer).await? {
            if deliveries > cfg.max_deliveries {
                let reason = format!("delivered {deliveries} times without being stored");
                dead.push((e.id.clone(), reason, fields_json(&e)));
            } else {
                entries.push(e);
            }
        }
    }
    if entries.is_empty() && dead.is_empty() {
        entries = read_group(io, cfg, consumer, &pass).await?;
    }
    let mut report = Report {
        entries: entries.len() + dead.len(),
        oldest_ms: entries
            .iter()
            .filter_map(Entry::ms)
            .min()
            .map(|ms| now_ms() - ms),
        ..Report::default()
    };
    if report.entries == 0 {
        return Ok(report);
    }
    let (batches, bad) = build(&entries);
    dead.extend(bad);
    let mut done: Vec<String> = Vec::new();
    let all_ids: Vec<String> = batches.iter().flat_map(|b| b.ids.iter().cloned()).collect();
    let all_rows: String = batches.iter().map(|b| b.rows.as_str()).collect();
    let row_count: usize = batches.iter().map(|b| b.row_count).sum();
    if row_count == 0 {
        done = all_ids;
    } else {
        match insert(io, cfg, &all_ids, all_rows).await {
            Ok(()) => {
                done = all_ids;
                report.rows = row_count;
            }
            Err((Failure::Transient, m)) => return Err(DrainError::ClickHouse(m)),
            Err((Failure::Permanent, m)) if batches.len() == 1 => {
                for id in all_ids {
                    dead.push(refused(&entries, id, &m));
                }
            }
            Err((Failure::Permanent, _)) => {
                // Split: each entry alone, so one poison entry does not hold back the rest.
                for b in batches {
                    if b.row_count == 0 {
                        done.extend(b.ids);
                        continue;
                    }
                    match insert(io, cfg, &b.ids, b.rows.clone()).await {
                        Ok(()) => {
                            report.rows += b.row_count;
                            done.extend(b.ids);
                        }
                        Err((Failure::Permanent, m)) => {
                            for id in b.ids {
                                dead.push(refused(&entries, id, &m));
                            }
                        }
                        Err((Failure::Transient, m)) => {
                            // Ack what is stored so far; the rest stays pending.
                            finish(io, cfg, &done, &dead, &mut report).await?;
                            return Err(DrainError::ClickHouse(m));
                        }
                    }
                }
            }
        }
    }
    finish(io, cfg, &done, &dead, &mut report).await?;
    Ok(report)
}

/// The dead letter of an entry whose rows ClickHouse refused: the entry's full payload,
/// so `replay` can bring it back once the cause is fixed (an acked entry is never lost).
fn refused(entries: &[Entry], id: String, why: &str) -> (String, String, String) {
    let payload = entries
        .iter()
        .find(|e| e.id == id)
        .map(fields_json)
        .unwrap_or_default();
    (id, format!("ClickHouse refused the rows: {why}"), payload)
}

async fn finish<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    done: &[String],
    dead: &[(String, String, String)],
    report: &mut Report,
) -> Result<(), DrainError> {
    let dlq = cfg.dead_letter_stream();
    let metrics = crate::metrics::hash_key(&cfg.stream);
    let n = done.len().to_string();
    let rows = report.rows.to_string();
    let retention = cfg.retention_ms.to_string();
    let mut args: Vec<&str> = vec![
        "EVAL",
        ACK_SCRIPT,
        "3",
        &cfg.stream,
        &dlq,
        &metrics,
        &cfg.group,
        &rows,
        &retention,
        &n,
    ];
    args.extend(done.iter().map(String::as_str));
    for (id, reason, payload) in dead {
        args.extend([id.as_str(), reason.as_str(), payload.as_str()]);
    }
    let result = redis(io, &command(&args)).await?;
    report.acked = result.get(0).and_then(Value::as_u64).unwrap_or(0);
    report.trimmed = result.get(1).and_then(Value::as_u64).unwrap_or(0);
    report.dead_lettered = dead.len();
    Ok(())
}

fn add(total: &mut Report, r: &Report) {
    total.entries += r.entries;
    total.rows += r.rows;
    total.dead_lettered += r.dead_lettered;
    total.acked += r.acked;
    total.trimmed += r.trimmed;
    total.oldest_ms = total.oldest_ms.max(r.oldest_ms);
}

/// Drain right after a request was acknowledged, while holding the drain lock the ingest
/// script handed to `owner`. Passes run at most every `FLUSH_INTERVAL_MS` (few, large
/// ClickHouse inserts) until the stream is empty and no request asked for another pass;
/// then the lock is released. On any error it stops: the lock expires and the next
/// request, the cron or a native processor carries on.
pub async fn drain_after_ack<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
    owner: &str,
    lock_ms: u64,
    max_passes: usize,
) -> Result<Report, DrainError> {
    let (lock, wanted) = crate::redis::drain_keys(&cfg.stream);
    let ttl = lock_ms.to_string();
    let mut total = Report::default();
    for _ in 0..max_passes {
        let started = io.now_ms();
        let pass = Pass {
            block_ms: None,
            reclaim: false,
            own_pending: false,
        };
        let r = drain_once(io, cfg, consumer, pass, || io.now_ms()).await?;
        add(&mut total, &r);
        if r.entries == 0 {
            let release = command(&[
                "EVAL",
                crate::redis::RELEASE_SCRIPT,
                "2",
                &lock,
                &wanted,
                owner,
                &ttl,
            ]);
            if redis(io, &release).await? != "again" {
                break;
            }
            continue;
        }
        let wait =
            i64::try_from(cfg.flush_interval_ms).unwrap_or(i64::MAX) - (io.now_ms() - started);
        if wait > 0 && r.entries < cfg.batch_size {
            io.sleep(wait.unsigned_abs()).await;
        }
    }
    Ok(total)
}

/// The scheduled safety net (Workers cron, Spin trigger): take over entries left pending
/// by dead consumers, retry this consumer's own, then drain new entries, for at most
/// `max_passes` passes.
pub async fn drain_scheduled<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
    max_passes: usize,
) -> Result<Report, DrainError> {
    let mut total = Report::default();
    let mut pass = Pass {
        block_ms: None,
        reclaim: true,
        own_pending: true,
    };
    for _ in 0..max_passes {
        let r = drain_once(io, cfg, consumer, pass, || io.now_ms()).await?;
        add(&mut total, &r);
        if r.entries == 0 {
            if pass.reclaim || pass.own_pending {
                pass = Pass::default();
                continue;
            }
            break;
        }
        pass.reclaim = false;
    }
    Ok(total)
}

/// Stream statistics for health and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Entries in the stream.
    pub length: u64,
    /// Entries delivered to the group but not yet acknowledged.
    pub pending: u64,
    /// Age of the oldest entry not yet stored, ms (0 when caught up).
    pub lag_ms: i64,
    /// Entries in the dead-letter stream.
    pub dead_letters: u64,
    /// The metrics hash, flat `[field, value, ...]`.
    pub counters: Vec<String>,
    /// Entries not yet stored: undelivered + pending (the stream length when Redis
    /// cannot tell; retained acknowledged entries are not backlog).
    pub backlog: u64,
}

/// The call that fetches [`StreamStats`].
pub fn stats_call(stream: &str, group: &str) -> RestCall {
    let dlq = format!("{stream}:invalid");
    let metrics = crate::metrics::hash_key(stream);
    command(&["EVAL", STATS_SCRIPT, "3", stream, &dlq, &metrics, group])
}

/// Parse the stats script's answer.
pub fn parse_stats(outcome: CallOutcome, now_ms: i64) -> Result<StreamStats, String> {
    let (status, body) = outcome?;
    let v = parse_result(status, &body).map_err(|e| format!("{e:?}"))?;
    let num = |i: usize| v.get(i).and_then(Value::as_u64).unwrap_or(0);
    let oldest = v.get(2).and_then(Value::as_str).unwrap_or_default();
    let lag_ms = oldest
        .split('-')
        .next()
        .and_then(|ms| ms.parse::<i64>().ok())
        .map_or(0, |ms| (now_ms - ms).max(0));
    let counters = v
        .get(5)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Ok(StreamStats {
        length: num(0),
        pending: num(1),
        lag_ms,
        dead_letters: num(3),
        counters,
        backlog: v.get(6).and_then(Value::as_u64).unwrap_or_else(|| num(0)),
    })
}

#[cfg(test)]
mod tests;
