//! How drain passes are strung together. Three callers, one policy each, all in the core
//! so every platform keeps the same timing:
//! - [`drain_after_ack`]: the collector drains right after a request it acknowledged;
//! - [`drain_scheduled`]: the cron / Spin trigger safety net;
//! - [`Schedule`]: a long-running processor's loop (pure: it decides, the caller sleeps).

use super::{DrainConfig, DrainError, Io, Pass, Report, drain_once};
use crate::redis::{RELEASE_SCRIPT, command, drain_keys};
use crate::stream;

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
    // Through the same counting port as the scheduled drain, so a Worker carries one copy
    // of the drain (each port type is a separate instantiation of it in the wasm).
    let io = &Counted::new(io);
    let (lock, wanted) = drain_keys(&cfg.stream);
    let ttl = lock_ms.to_string();
    let mut total = Report::default();
    for _ in 0..max_passes {
        let started = io.now_ms();
        let r = drain_once(io, cfg, consumer, Pass::default(), || io.now_ms()).await?;
        total.add(&r);
        if r.entries == 0 {
            let release = command(&[
                "EVAL",
                RELEASE_SCRIPT,
                "3",
                &lock,
                &wanted,
                &cfg.stream,
                owner,
                &ttl,
                &cfg.group,
            ]);
            if stream::call(io, &release).await? != "again" {
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

/// Calls one scheduled run makes before it starts no further shard: Workers Free allows 50
/// subrequests per invocation, and an idle shard costs 3 (reclaim, own pending, new).
pub const SCHEDULED_CALL_BUDGET: usize = 40;

/// The scheduled safety net (Workers cron, Spin trigger): on each shard, take over entries
/// left pending by dead consumers, retry this consumer's own, then drain new entries, for
/// at most `max_passes` passes per shard. With several shards a run starts no new shard
/// once it has made [`SCHEDULED_CALL_BUDGET`] calls, and each minute's run starts
/// `SCHEDULED_CALL_BUDGET / 3` shards (as many as it can visit idle) further on, so a cron
/// with a small subrequest limit still reaches every shard within a few minutes. A shard that fails does not keep the others from being
/// drained; the first failure is returned after the run.
pub async fn drain_scheduled<I: Io>(
    io: &I,
    cfg: &DrainConfig,
    consumer: &str,
    max_passes: usize,
) -> Result<Report, DrainError> {
    let counted = Counted::new(io);
    if cfg.shards <= 1 {
        return drain_shard(&counted, cfg, consumer, max_passes).await;
    }
    let shards = cfg.per_shard();
    let n = shards.len();
    let minute = usize::try_from(io.now_ms().div_euclid(60_000)).unwrap_or(0);
    let start = minute.wrapping_mul(SCHEDULED_CALL_BUDGET / 3) % n;
    let mut total = Report::default();
    let mut failed = None;
    for k in 0..n {
        if counted.calls.get() >= SCHEDULED_CALL_BUDGET {
            break;
        }
        let Some(shard) = shards.get((start + k) % n) else {
            break;
        };
        match drain_shard(&counted, shard, consumer, max_passes).await {
            Ok(r) => total.add(&r),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    failed.map_or(Ok(total), Err)
}

/// An [`Io`] that counts the backend calls made through it.
struct Counted<'a, I> {
    io: &'a I,
    calls: std::cell::Cell<usize>,
}

impl<'a, I> Counted<'a, I> {
    fn new(io: &'a I) -> Self {
        Self {
            io,
            calls: std::cell::Cell::new(0),
        }
    }
}

impl<I: Io> Io for Counted<'_, I> {
    async fn redis(&self, call: &crate::io::RestCall) -> crate::io::CallOutcome {
        self.calls.set(self.calls.get() + 1);
        self.io.redis(call).await
    }
    async fn clickhouse(&self, req: &crate::clickhouse::Request) -> crate::io::CallOutcome {
        self.calls.set(self.calls.get() + 1);
        self.io.clickhouse(req).await
    }
    fn now_ms(&self) -> i64 {
        self.io.now_ms()
    }
    async fn sleep(&self, ms: u64) {
        self.io.sleep(ms).await;
    }
}

/// [`drain_scheduled`] on one stream.
async fn drain_shard<I: Io>(
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
        total.add(&r);
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

/// First retry delay after a failed pass; it doubles up to [`MAX_BACKOFF_MS`].
pub const FIRST_BACKOFF_MS: u64 = 250;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: u64 = 30_000;

/// A long-running processor's policy, without I/O: which pass to run next and how long to
/// wait after it.
/// - It starts by re-reading its own unacknowledged entries (a restart after a crash),
///   and after any failure does so again before reading new ones.
/// - It reclaims other consumers' stale entries every `CLAIM_IDLE_MS / 2`.
/// - A full batch means a backlog: go on at once. Otherwise it keeps to about one insert
///   per `FLUSH_INTERVAL_MS`, so ClickHouse gets few, large parts.
/// - Failures back off exponentially from 250 ms to 30 s; a success resets that.
#[derive(Debug, Clone)]
pub struct Schedule {
    batch_size: usize,
    flush_ms: u64,
    reclaim_every_ms: i64,
    last_reclaim_ms: Option<i64>,
    own_pending: bool,
    backoff_ms: u64,
}

impl Schedule {
    /// The policy for this configuration.
    pub fn new(cfg: &DrainConfig) -> Self {
        Self {
            batch_size: cfg.batch_size,
            flush_ms: cfg.flush_interval_ms,
            reclaim_every_ms: i64::try_from(cfg.claim_idle_ms / 2).unwrap_or(i64::MAX),
            last_reclaim_ms: None,
            own_pending: true,
            backoff_ms: FIRST_BACKOFF_MS,
        }
    }

    /// The pass to run now.
    pub fn next_pass(&mut self, now_ms: i64) -> Pass {
        let reclaim = self
            .last_reclaim_ms
            .is_none_or(|t| now_ms - t >= self.reclaim_every_ms);
        if reclaim {
            self.last_reclaim_ms = Some(now_ms);
        }
        Pass {
            block_ms: Some(self.flush_ms),
            reclaim,
            own_pending: self.own_pending,
        }
    }

    /// How long to wait after a pass that started at `started_ms` and ended at `now_ms`.
    pub fn after(
        &mut self,
        outcome: &Result<Report, DrainError>,
        started_ms: i64,
        now_ms: i64,
    ) -> u64 {
        // After a failure our entries stay pending: retry them before reading new ones.
        self.own_pending = match outcome {
            Ok(r) => self.own_pending && r.entries > 0,
            Err(_) => true,
        };
        match outcome {
            Ok(r) if r.entries > 0 => {
                self.backoff_ms = FIRST_BACKOFF_MS;
                if r.entries >= self.batch_size {
                    0
                } else {
                    let spent = u64::try_from(now_ms - started_ms).unwrap_or(0);
                    self.flush_ms.saturating_sub(spent)
                }
            }
            Ok(_) => 0,
            Err(_) => {
                let wait = self.backoff_ms;
                self.backoff_ms = (self.backoff_ms * 2).min(MAX_BACKOFF_MS);
                wait
            }
        }
    }
}
