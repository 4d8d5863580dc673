//! The processor's configuration.

use crate::clickhouse::Target;
use crate::config::number;

/// Processor configuration.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// `REDIS_STREAM_KEY` (default `analytics_events`).
    pub stream: String,
    /// `REDIS_CONSUMER_GROUP` (default `processors`).
    pub group: String,
    /// `BATCH_SIZE`: entries per read (default 100).
    pub batch_size: usize,
    /// `FLUSH_INTERVAL_MS`: at most one insert per this interval while draining (default 1000).
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

    /// The processor configuration of a deployment, if it has one: a deployment drains
    /// iff `CLICKHOUSE_URL` is set (`Ok(None)` otherwise). The one place this rule lives.
    pub fn when_configured(get: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        match get("CLICKHOUSE_URL").filter(|v| !v.trim().is_empty()) {
            None => Ok(None),
            Some(_) => Self::from_lookup(get).map(Some),
        }
    }

    /// The dead-letter stream.
    pub fn dead_letter_stream(&self) -> String {
        crate::stream::dead_letter_stream(&self.stream)
    }

    /// This deployment's stream and group, read by `name`.
    pub fn consumer<'a>(&'a self, name: &'a str) -> crate::stream::Consumer<'a> {
        crate::stream::Consumer {
            stream: &self.stream,
            group: &self.group,
            name,
            count: self.batch_size,
        }
    }
}
