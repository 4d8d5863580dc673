//! The Redis Streams protocol the processor speaks: entries, the consumer group
//! (`XREADGROUP`, `XAUTOCLAIM` + `XPENDING` for delivery counts, `XGROUP CREATE` when it
//! is missing), and the stream's health figures for `/health` and `/metrics`.

pub mod shard;

pub use crate::redis::dead_letter_stream;

use crate::io::{CallOutcome, Io};
use crate::redis::{ErrorCode, RestCall, RestError, command, parse_outcome};
use serde_json::Value;

/// One stream entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Stream id, `ms-seq`.
    pub id: String,
    /// Field/value pairs.
    pub fields: Vec<(String, String)>,
}

impl Entry {
    /// The value of a field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Milliseconds part of the id (when Redis appended it).
    pub fn ms(&self) -> Option<i64> {
        self.id.split('-').next()?.parse().ok()
    }

    /// The fields as one JSON object (a dead letter's payload, ready for `replay`).
    pub fn fields_json(&self) -> String {
        let map: serde_json::Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        Value::Object(map).to_string()
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

/// A stream, its consumer group and one consumer of it.
#[derive(Debug, Clone, Copy)]
pub struct Consumer<'a> {
    /// Stream key.
    pub stream: &'a str,
    /// Consumer group.
    pub group: &'a str,
    /// This consumer's name.
    pub name: &'a str,
    /// Entries per read.
    pub count: usize,
}

/// Make one Redis call and read its `result`.
pub async fn call<I: Io>(io: &I, call: &RestCall) -> Result<Value, RestError> {
    parse_outcome(io.redis(call).await)
}

/// Create the consumer group (and the stream) unless it exists.
pub async fn ensure_group<I: Io>(io: &I, c: &Consumer<'_>) -> Result<(), RestError> {
    let create = command(&["XGROUP", "CREATE", c.stream, c.group, "0", "MKSTREAM"]);
    match call(io, &create).await {
        Err(e) if e.code() != Some(ErrorCode::BusyGroup) => Err(e),
        _ => Ok(()),
    }
}

/// `XREADGROUP`: entries never delivered (`own_pending` false), or this consumer's own
/// unacknowledged ones (true; never blocks). A missing group is created and the read
/// retried once.
pub async fn read_group<I: Io>(
    io: &I,
    c: &Consumer<'_>,
    block_ms: Option<u64>,
    own_pending: bool,
) -> Result<Vec<Entry>, RestError> {
    let count = c.count.to_string();
    let block = block_ms.filter(|_| !own_pending).map(|b| b.to_string());
    let mut args = vec!["XREADGROUP", "GROUP", c.group, c.name, "COUNT", &count];
    if let Some(b) = &block {
        args.extend(["BLOCK", b]);
    }
    // ">" = entries never delivered; "0" = this consumer's own unacknowledged entries.
    args.extend(["STREAMS", c.stream, if own_pending { "0" } else { ">" }]);
    let read = command(&args);
    let result = match call(io, &read).await {
        Err(e) if e.code() == Some(ErrorCode::NoGroup) => {
            ensure_group(io, c).await?;
            call(io, &read).await?
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

/// `XAUTOCLAIM` entries other consumers left pending for `idle_ms`, each with its delivery
/// count (from `XPENDING`; the claim itself counted one more delivery).
pub async fn reclaim<I: Io>(
    io: &I,
    c: &Consumer<'_>,
    idle_ms: u64,
) -> Result<Vec<(Entry, u64)>, RestError> {
    let idle = idle_ms.to_string();
    let count = c.count.to_string();
    let claim = command(&[
        "XAUTOCLAIM",
        c.stream,
        c.group,
        c.name,
        &idle,
        "0-0",
        "COUNT",
        &count,
    ]);
    let result = match call(io, &claim).await {
        Err(e) if e.code() == Some(ErrorCode::NoGroup) => {
            ensure_group(io, c).await?;
            return Ok(Vec::new());
        }
        other => other?,
    };
    let entries = result.get(1).map(parse_entries).unwrap_or_default();
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(Vec::new());
    };
    let pending = command(&[
        "XPENDING", c.stream, c.group, &first.id, &last.id, &count, c.name,
    ]);
    let pend = call(io, &pending).await?;
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

/// Stream health for `/health` and `/metrics`, in one script, summed over the shards.
///
/// KEYS: per shard its stream, dead-letter stream, metrics hash. ARGV: 1 group. Returns
/// {length, pending, oldest unacked id or '', dead-letter length, group exists 0/1, the
/// metrics hashes summed as a flat field/value array, backlog}.
pub const STATS_SCRIPT: &str = include_str!("lua/stats.lua");

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

/// The call that fetches [`StreamStats`] of `stream`'s `shards` shards.
pub fn stats_call(stream: &str, shards: u16, group: &str) -> RestCall {
    // per shard: its stream, dead letters, metrics
    let keys: Vec<String> = shard::streams(stream, shards)
        .into_iter()
        .flat_map(|s| {
            let (dead, metrics) = (dead_letter_stream(&s), crate::metrics::hash_key(&s));
            [s, dead, metrics]
        })
        .collect();
    let n = keys.len().to_string();
    let mut args = vec!["EVAL", STATS_SCRIPT, n.as_str()];
    args.extend(keys.iter().map(String::as_str));
    args.push(group);
    command(&args)
}

/// Parse the stats script's answer.
pub fn parse_stats(outcome: CallOutcome, now_ms: i64) -> Result<StreamStats, RestError> {
    let v = parse_outcome(outcome)?;
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
mod tests {
    use super::*;
    use crate::io::HttpReply;
    use serde_json::json;

    #[test]
    fn entries_parse_from_xrange_shape() {
        let v = json!([
            ["1-0", ["v", "1", "events", "[]"]],
            null,
            ["2-5", ["wk", "k"]]
        ]);
        let e = parse_entries(&v);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].field("v"), Some("1"));
        assert_eq!(e[1].ms(), Some(2));
    }

    #[test]
    fn stats_parse_lag_from_the_oldest_id() {
        let body = br#"{"result":[12,3,"1000-0",2,1]}"#.to_vec();
        let s = parse_stats(Ok(HttpReply::new(200, body)), 4000).unwrap();
        assert_eq!(
            s,
            StreamStats {
                length: 12,
                pending: 3,
                lag_ms: 3000,
                dead_letters: 2,
                counters: vec![],
                backlog: 12,
            }
        );
        let body = br#"{"result":[1,0,"",0,1,["rows_inserted","5"]]}"#.to_vec();
        assert_eq!(
            parse_stats(Ok(HttpReply::new(200, body)), 0)
                .unwrap()
                .counters,
            ["rows_inserted", "5"]
        );
        let idle = HttpReply::new(200, br#"{"result":[0,0,"",0,0]}"#.to_vec());
        assert_eq!(parse_stats(Ok(idle), 4000).unwrap().lag_ms, 0);
        let down = crate::io::TransportError::Failed("down".into());
        assert!(parse_stats(Err(down), 0).is_err());
    }
}
