//! The ingest script's arguments, in the order `lua/ingest.lua` reads them. A request's
//! events are escaped straight into the command between [`IngestHead`] and
//! [`IngestTail`], and the retry marker, known only once every event was read, is patched
//! into its fixed-width slots.

use super::{CommandWriter, INGEST_SCRIPT, RestCall};

/// The script's keys.
#[derive(Debug)]
pub struct IngestKeys<'a> {
    /// KEYS[1]: the stream.
    pub stream: &'a str,
    /// KEYS[2]: the dead-letter stream (listed rejects).
    pub dead_letter_stream: &'a str,
    /// KEYS[3]: this client's rate-limit counter.
    pub rate_limit: &'a str,
    /// KEYS[4]: the retry marker's prefix; the marker itself is patched in later.
    pub marker_prefix: &'a str,
    /// KEYS[5]: the drain lock.
    pub lock: &'a str,
    /// KEYS[6]: the drain-wanted flag.
    pub wanted: &'a str,
    /// KEYS[7]: the signature nonce (`-` when unsigned).
    pub nonce: &'a str,
    /// KEYS[8]: the metrics hash.
    pub metrics: &'a str,
}

/// Arguments known before the events are read.
#[derive(Debug)]
pub struct IngestHead<'a> {
    /// ARGV[1]: requests per window (0: no limit).
    pub max_requests: u64,
    /// ARGV[2]: the rate-limit window.
    pub window_ms: u64,
    // ARGV[3]: the retry marker's TTL, a slot patched with the marker (0: no marker).
    /// ARGV[4]: how long a v2 signature stays used (0: unsigned or v1).
    pub nonce_ttl_ms: u64,
    /// ARGV[5]: offer the drain lock with this TTL (0: not this time).
    pub lock_ttl_ms: u64,
    /// ARGV[6]: the write key's id.
    pub write_key_id: &'a str,
    /// ARGV[7]: the request id (also the marker's and the lock's value).
    pub request_id: &'a str,
    /// ARGV[8]: arrival time, Unix ms.
    pub received_at_ms: i64,
}

/// Arguments known once the events are read.
#[derive(Debug)]
pub struct IngestTail<'a> {
    /// ARGV[10]: events appended.
    pub accepted: usize,
    /// ARGV[11]: events rejected (listed or not).
    pub rejected: usize,
    /// ARGV[12]: the listed rejects as a JSON array ('' = none).
    pub rejects_json: &'a str,
    /// ARGV[13..]: (field, increment) pairs for the metrics hash, when flushed now.
    pub metrics: &'a [(String, u64)],
}

/// Where the marker goes once known.
#[derive(Debug, Clone, Copy)]
pub struct MarkerSlots {
    key: usize,
    ttl: usize,
}

/// Hex digits of a marker.
pub const MARKER_HEX: usize = 32;
/// Digits of the marker TTL slot (zero-padded: Lua's `tonumber` reads it as is).
const TTL_DIGITS: usize = 20;

/// Write `EVAL`, the script, its keys and the head, and open the events argument
/// (ARGV[9]): the caller writes the events into `w` with `piece`, then calls [`end`].
pub fn begin(w: &mut CommandWriter, keys: &IngestKeys<'_>, head: &IngestHead<'_>) -> MarkerSlots {
    for a in [
        "EVAL",
        INGEST_SCRIPT,
        "8",
        keys.stream,
        keys.dead_letter_stream,
        keys.rate_limit,
    ] {
        w.arg(a);
    }
    let key = w.arg_with_slot(keys.marker_prefix, MARKER_HEX);
    for a in [keys.lock, keys.wanted, keys.nonce, keys.metrics] {
        w.arg(a);
    }
    w.arg(&head.max_requests.to_string());
    w.arg(&head.window_ms.to_string());
    let ttl = w.arg_with_slot("", TTL_DIGITS);
    w.arg(&head.nonce_ttl_ms.to_string());
    w.arg(&head.lock_ttl_ms.to_string());
    w.arg(head.write_key_id);
    w.arg(head.request_id);
    w.arg(&head.received_at_ms.to_string());
    w.begin_arg();
    MarkerSlots { key, ttl }
}

/// Close the events argument and write the tail.
pub fn end(
    mut w: CommandWriter,
    tail: &IngestTail<'_>,
    marker: Option<(&str, u64)>,
    slots: MarkerSlots,
) -> RestCall {
    w.end_arg();
    w.arg(&tail.accepted.to_string());
    w.arg(&tail.rejected.to_string());
    w.arg(tail.rejects_json);
    for (field, n) in tail.metrics {
        w.arg(field);
        w.arg(&n.to_string());
    }
    if let Some((hex, ttl_ms)) = marker {
        w.patch(slots.key, hex);
        w.patch(slots.ttl, &format!("{ttl_ms:020}"));
    }
    w.finish()
}

/// A written ingest call read back by name (tests and tools): the inverse of
/// [`begin`] + [`end`].
#[derive(Debug)]
pub struct IngestView {
    /// Every argument of the `EVAL`.
    pub args: Vec<String>,
}

impl IngestView {
    /// Parse a call's body.
    pub fn parse(call: &RestCall) -> Option<Self> {
        let args: Vec<String> = serde_json::from_str(&call.body).ok()?;
        (args.first()? == "EVAL" && args.get(1)? == INGEST_SCRIPT).then_some(Self { args })
    }

    fn get(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }

    /// KEYS[n], 1-based as in Lua.
    pub fn key(&self, n: usize) -> &str {
        self.get(2 + n)
    }

    /// ARGV[n], 1-based as in Lua.
    pub fn argv(&self, n: usize) -> &str {
        self.get(10 + n)
    }

    /// The rate-limit key.
    pub fn rate_limit(&self) -> &str {
        self.key(3)
    }
    /// The retry marker key.
    pub fn marker(&self) -> &str {
        self.key(4)
    }
    /// The marker TTL, ms.
    pub fn marker_ttl_ms(&self) -> u64 {
        self.argv(3).parse().unwrap_or(0)
    }
    /// The lock TTL offered, ms.
    pub fn lock_ttl_ms(&self) -> u64 {
        self.argv(5).parse().unwrap_or(0)
    }
    /// The events JSON.
    pub fn events(&self) -> &str {
        self.argv(9)
    }
    /// The accepted count.
    pub fn accepted(&self) -> &str {
        self.argv(10)
    }
    /// The rejected count.
    pub fn rejected(&self) -> &str {
        self.argv(11)
    }
    /// The listed rejects JSON.
    pub fn rejects(&self) -> &str {
        self.argv(12)
    }
    /// The metrics pairs.
    pub fn metrics(&self) -> Vec<(String, String)> {
        self.args
            .get(10 + 13..)
            .unwrap_or_default()
            .chunks(2)
            .filter_map(|p| Some((p.first()?.clone(), p.get(1)?.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_reads_each_argument_where_the_writer_puts_it() {
        let mut w = CommandWriter::with_capacity(0);
        let keys = IngestKeys {
            stream: "s",
            dead_letter_stream: "s:invalid",
            rate_limit: "s:rl:k:1.2.3.4",
            marker_prefix: "s:seen:",
            lock: "s:drain:lock",
            wanted: "s:drain:wanted",
            nonce: "s:sig:-",
            metrics: "s:metrics",
        };
        let head = IngestHead {
            max_requests: 100,
            window_ms: 60_000,
            nonce_ttl_ms: 0,
            lock_ttl_ms: 1000,
            write_key_id: "kid",
            request_id: "rid",
            received_at_ms: 5,
        };
        let slots = begin(&mut w, &keys, &head);
        w.piece("[{\"a\":1}]");
        let metrics = [("requests|batch|200".to_string(), 2)];
        let tail = IngestTail {
            accepted: 1,
            rejected: 0,
            rejects_json: "",
            metrics: &metrics,
        };
        let marker = "ab".repeat(16);
        let call = end(w, &tail, Some((&marker, 900_000)), slots);
        let v = IngestView::parse(&call).unwrap();
        assert_eq!(v.key(1), "s");
        assert_eq!(v.marker(), format!("s:seen:{marker}"));
        assert_eq!(v.key(8), "s:metrics");
        assert_eq!(v.argv(1), "100");
        assert_eq!(v.marker_ttl_ms(), 900_000);
        assert_eq!(v.lock_ttl_ms(), 1000);
        assert_eq!((v.argv(6), v.argv(7), v.argv(8)), ("kid", "rid", "5"));
        assert_eq!(v.events(), "[{\"a\":1}]");
        assert_eq!((v.accepted(), v.rejected(), v.rejects()), ("1", "0", ""));
        assert_eq!(v.metrics(), [("requests|batch|200".into(), "2".into())]);
        // The Lua names its arguments in this order (see the header of ingest.lua).
        for line in [
            "local stream, dead_letters, rate_limit, marker, lock, wanted, nonce =\n  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]",
            "local max_requests, window_ms, marker_ttl_ms, nonce_ttl_ms, lock_ttl_ms =\n  tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])",
            "local write_key, request_id, received_at, events, accepted, rejected, rejects =\n  ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]",
            "for i = 13, #ARGV - 1, 2 do redis.call('HINCRBY', KEYS[8]",
        ] {
            assert!(
                INGEST_SCRIPT.contains(line),
                "ingest.lua no longer reads {line}"
            );
        }
    }
}
