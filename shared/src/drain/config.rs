//! The processor's configuration: the drain itself ([`DrainConfig`], read wherever the
//! stream is drained) and the processor's entry points ([`ProcessorConfig`]). Every
//! variable is a row of [`crate::vars::table`].

use crate::clickhouse::Target;
use crate::vars::table as var;
use crate::vars::{ConfigError, Vars};
use secrecy::SecretString;

/// How the stream is drained. Each field is one row of [`crate::vars::table`].
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// [`var::REDIS_STREAM_KEY`].
    pub stream: String,
    /// [`var::STREAM_SHARDS`]: the streams drained are [`Self::streams`] (a config
    /// made by [`Self::for_stream`] drains one of them).
    pub shards: u16,
    /// Which shard `stream` is (0: the stream itself), in a config made by
    /// [`Self::for_stream`]; rows name their entry `<shard>:<id>` past shard 0.
    pub shard: u16,
    /// [`var::REDIS_CONSUMER_GROUP`].
    pub group: String,
    /// [`var::BATCH_SIZE`]: entries per read.
    pub batch_size: usize,
    /// [`var::FLUSH_INTERVAL_MS`]: at most one insert per this interval while draining.
    pub flush_interval_ms: u64,
    /// [`var::CLAIM_IDLE_MS`]: entries pending this long are taken over.
    pub claim_idle_ms: u64,
    /// [`var::MAX_DELIVERIES`]: an entry delivered more often goes to the dead-letter
    /// stream (at least 1).
    pub max_deliveries: u64,
    /// [`var::STREAM_RETENTION_MS`]: keep acknowledged entries this long for inspection
    /// or replay (0: trim everything every consumer group has acknowledged).
    pub retention_ms: u64,
    /// The ClickHouse target.
    pub target: Target,
}

/// Settings of the processor's entry points (the native binary, the Spin
/// `/internal/drain` component), not of the drain itself.
#[derive(Debug, Clone)]
pub struct ProcessorConfig {
    /// [`var::DRAIN_TOKEN`]: without it the Spin drain route is off.
    pub drain_token: Option<SecretString>,
    /// [`var::DRAIN_MAX_PASSES`] per invocation of the drain route.
    pub max_passes: usize,
    /// [`var::PROCESSOR_CONSUMER`]; `None`: the platform's default name.
    pub consumer: Option<String>,
}

impl ProcessorConfig {
    /// Read the entry points' variables.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let v = Vars::new(&get);
        Ok(Self {
            drain_token: v.secret(&var::DRAIN_TOKEN),
            max_passes: v.number(&var::DRAIN_MAX_PASSES)?,
            consumer: v.optional(&var::PROCESSOR_CONSUMER),
        })
    }
}

impl DrainConfig {
    /// Read the drain's variables. `CLICKHOUSE_URL` is required.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let target = Target::from_lookup(&get)?;
        let v = Vars::new(&get);
        let batch_size: usize = v.number(&var::BATCH_SIZE)?;
        if !(1..=1000).contains(&batch_size) {
            return Err(
                var::BATCH_SIZE.invalid("must be between 1 and 1000", &batch_size.to_string())
            );
        }
        Ok(Self {
            stream: v.text(&var::REDIS_STREAM_KEY),
            shards: crate::config::stream_shards(&v)?,
            shard: 0,
            group: v.text(&var::REDIS_CONSUMER_GROUP),
            batch_size,
            flush_interval_ms: v.number(&var::FLUSH_INTERVAL_MS)?,
            claim_idle_ms: v.number(&var::CLAIM_IDLE_MS)?,
            max_deliveries: v.number::<u64>(&var::MAX_DELIVERIES)?.max(1),
            retention_ms: v.number(&var::STREAM_RETENTION_MS)?,
            target,
        })
    }

    /// The processor configuration of a deployment, if it has one: a deployment drains
    /// iff `CLICKHOUSE_URL` is set (`Ok(None)` otherwise). The one place this rule lives.
    pub fn when_configured(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        match Vars::new(&get).optional(&var::CLICKHOUSE_URL) {
            None => Ok(None),
            Some(_) => Self::from_lookup(get).map(Some),
        }
    }

    /// Every shard's stream (see [`crate::stream::shard`]), shard 0 (the stream) first.
    pub fn streams(&self) -> Vec<String> {
        crate::stream::shard::streams(&self.stream, self.shards)
    }

    /// This configuration for one shard's stream: a drain of the result reads, acks and
    /// dead-letters that stream only.
    pub fn for_stream(&self, stream: &str) -> Self {
        Self {
            stream: stream.to_string(),
            shards: 1,
            shard: crate::stream::shard::index_of(&self.stream, stream),
            ..self.clone()
        }
    }

    /// What a row's `stream_id` says of the entry it came from: the entry id on shard 0 (as
    /// before shards), `<shard>:<id>` on the others (ids repeat across shards).
    pub fn entry_source(&self, id: &str) -> String {
        if self.shard == 0 {
            id.to_string()
        } else {
            format!("{}:{id}", self.shard)
        }
    }

    /// One configuration per shard ([`Self::for_stream`] of each of [`Self::streams`]).
    pub fn per_shard(&self) -> Vec<Self> {
        self.streams().iter().map(|s| self.for_stream(s)).collect()
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
