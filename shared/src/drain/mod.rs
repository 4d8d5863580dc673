//! The processor: drains the Redis stream into ClickHouse with at-least-once delivery
//! made exactly-once by ClickHouse (`insert_deduplication_token` per batch, rows keyed on
//! `message_id`). Written once against the [`Io`] port; the Workers cron, the collector's
//! after-response drain, Spin and the native binary provide the port.
//!
//! One pass: read up to `BATCH_SIZE` entries for this consumer (optionally reclaiming
//! entries another consumer left pending for `CLAIM_IDLE_MS`), turn their events into
//! rows, insert, and only after ClickHouse confirmed, XACK + dead-letter + trim in one
//! script. A refused batch is split per entry so one poison entry cannot block the rest.
//!
//! Files: [`config`] (variables), [`rows`] (entries to rows and dead letters), [`ack`]
//! (the script that ends a pass), [`passes`] (how passes are strung together: after an
//! ack, on a schedule, in a long-running loop); the Streams protocol is
//! [`crate::stream`].

pub mod ack;
pub mod config;
pub mod passes;
pub mod rows;

pub use config::{DrainConfig, ProcessorConfig};
pub use passes::{Schedule, drain_after_ack, drain_scheduled};
pub use rows::DeadLetter;

use crate::clickhouse::{self, Failure};
pub use crate::io::Io;
use crate::redis::RestError;
use crate::stream::{self, Entry};
use rows::Batch;

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

impl Report {
    /// Add another pass's figures to these.
    pub fn add(&mut self, r: &Report) {
        self.entries += r.entries;
        self.rows += r.rows;
        self.dead_lettered += r.dead_lettered;
        self.acked += r.acked;
        self.trimmed += r.trimmed;
        self.oldest_ms = self.oldest_ms.max(r.oldest_ms);
    }

    /// One JSON log line (`{"msg":..,"entries":..}`), the same on every platform.
    pub fn log_line(&self, what: &str) -> String {
        self.log_value(what).to_string()
    }

    /// [`Self::log_line`] as a JSON value, for a caller that adds fields of its own.
    pub fn log_value(&self, what: &str) -> serde_json::Value {
        serde_json::json!({
            "msg": what,
            "entries": self.entries,
            "rows": self.rows,
            "acked": self.acked,
            "dead_lettered": self.dead_lettered,
            "trimmed": self.trimmed,
            "lag_ms": self.oldest_ms.unwrap_or(0),
        })
    }
}

/// Why a pass stopped without acknowledging (entries stay pending and are retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DrainError {
    /// Redis did not answer or refused.
    #[error("redis {0}")]
    Redis(#[from] RestError),
    /// ClickHouse did not confirm the insert.
    #[error("clickhouse: {0}")]
    ClickHouse(String),
}

impl DrainError {
    /// The Redis error code, when Redis refused a command.
    pub fn redis_code(&self) -> Option<crate::redis::ErrorCode> {
        match self {
            Self::Redis(e) => e.code(),
            Self::ClickHouse(_) => None,
        }
    }

    /// One JSON log line for a failed drain.
    pub fn log_line(&self, what: &str) -> String {
        serde_json::json!({ "msg": what, "error": self.to_string() }).to_string()
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
    let (entries, mut dead) = take(io, cfg, consumer, pass).await?;
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
    let (batches, bad) = rows::build(&entries, |id| cfg.entry_source(id));
    dead.extend(bad);
    let mut done = Vec::new();
    let stored = store(
        io,
        cfg,
        &entries,
        batches,
        &mut done,
        &mut dead,
        &mut report,
    )
    .await;
    // Acknowledge what is stored (and dead-letter what never can be) even when a later
    // insert failed: the rest stays pending and is retried.
    acknowledge(io, cfg, &done, &dead, &mut report).await?;
    stored.map(|()| report)
}

/// This pass's entries: reclaimed ones (those delivered too often become dead letters),
/// or else new ones / this consumer's own pending ones.
async fn take<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
    pass: Pass,
) -> Result<(Vec<Entry>, Vec<DeadLetter>), DrainError> {
    let c = cfg.consumer(consumer);
    let mut entries = Vec::new();
    let mut dead = Vec::new();
    if pass.reclaim {
        for (e, deliveries) in stream::reclaim(io, &c, cfg.claim_idle_ms).await? {
            if deliveries > cfg.max_deliveries {
                let reason = format!("delivered {deliveries} times without being stored");
                dead.push(DeadLetter::entry(&e, reason));
            } else {
                entries.push(e);
            }
        }
    }
    if entries.is_empty() && dead.is_empty() {
        entries = stream::read_group(io, &c, pass.block_ms, pass.own_pending).await?;
    }
    Ok((entries, dead))
}

/// Insert the batches as one insert; when ClickHouse refuses it for good, split it per
/// entry so one poison entry cannot hold back the rest. Fills `done` with the entries that
/// are stored (or have nothing to store) and `dead` with refused ones and the bad events
/// of finished entries; a transient failure stops here (`Err`), keeping what was finished
/// before it.
async fn store<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    entries: &[Entry],
    batches: Vec<Batch>,
    done: &mut Vec<String>,
    dead: &mut Vec<DeadLetter>,
    report: &mut Report,
) -> Result<(), DrainError> {
    let row_count: usize = batches.iter().map(|b| b.row_count).sum();
    let why = if row_count == 0 {
        None
    } else {
        let tokens: Vec<&str> = batches.iter().map(|b| b.token.as_str()).collect();
        let all_rows: String = batches.iter().map(|b| b.rows.as_str()).collect();
        match insert(io, cfg, &tokens, all_rows).await {
            Ok(()) => None,
            Err((Failure::Transient, m)) => return Err(DrainError::ClickHouse(m)),
            Err((Failure::Permanent, m)) => Some(m),
        }
    };
    let Some(why) = why else {
        report.rows = row_count;
        for b in batches {
            done.push(b.id);
            dead.extend(b.dead);
        }
        return Ok(());
    };
    let split = batches.len() > 1;
    for b in batches {
        let refused = if b.row_count == 0 {
            None
        } else if !split {
            Some(why.clone())
        } else {
            match insert(io, cfg, &[b.token.as_str()], b.rows).await {
                Ok(()) => None,
                Err((Failure::Permanent, m)) => Some(m),
                Err((Failure::Transient, m)) => return Err(DrainError::ClickHouse(m)),
            }
        };
        match refused {
            None => {
                report.rows += b.row_count;
                done.push(b.id);
            }
            Some(m) => dead.extend(
                entries
                    .iter()
                    .filter(|e| e.id == b.id)
                    .map(|e| DeadLetter::refused(e, &m)),
            ),
        }
        dead.extend(b.dead);
    }
    Ok(())
}

async fn insert<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    tokens: &[&str],
    rows: String,
) -> Result<(), (Failure, String)> {
    let req = cfg
        .target
        .insert(rows, &clickhouse::dedup_token(&cfg.stream, tokens));
    match io.clickhouse(&req).await {
        Ok(reply) if reply.is_success() => Ok(()),
        Ok(reply) => Err((
            clickhouse::classify(reply.status),
            format!("HTTP {}: {}", reply.status, reply.snippet(300)),
        )),
        Err(e) => Err((Failure::Transient, e.to_string())),
    }
}

/// XACK + dead-letter + trim, in one script call.
async fn acknowledge<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    done: &[String],
    dead: &[DeadLetter],
    report: &mut Report,
) -> Result<(), DrainError> {
    if done.is_empty() && dead.is_empty() {
        return Ok(());
    }
    let dlq = cfg.dead_letter_stream();
    let metrics = crate::metrics::hash_key(&cfg.stream);
    let call = ack::AckArgs {
        stream: &cfg.stream,
        dead_letter_stream: &dlq,
        metrics: &metrics,
        group: &cfg.group,
        rows: report.rows,
        retention_ms: cfg.retention_ms,
        done,
        dead,
    }
    .call();
    let result = stream::call(io, &call).await?;
    report.acked = result
        .get(0)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    report.trimmed = result
        .get(1)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    report.dead_lettered = dead.len();
    Ok(())
}

#[cfg(test)]
mod tests;
