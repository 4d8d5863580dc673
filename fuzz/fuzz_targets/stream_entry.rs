//! Stream entries: `stream::parse_entries` on any JSON value, then the same bytes as the
//! Redis reply of one drain pass (`drain::drain_once` against an in-memory port), once as
//! an `XREADGROUP` reply and once as an `XAUTOCLAIM` reply, so the reply parsing, the
//! entry-to-rows step and the dead-lettering all run.
//!
//! Input: a JSON value, ideally `[[id, [field, value, ...]], ...]` with an `events` field
//! holding the collector's JSON array of enriched events.
//!
//! Bounded-work invariants (`n` = input length):
//! - `parse_entries`: ids, field names and values add up to at most `n` bytes (a decoded
//!   JSON string is never longer than its literal), and there are at most `n / 7` entries
//!   (`["",[]]` is the shortest).
//! - The ClickHouse insert: at most, per event of every entry, the row bound of the `row`
//!   target (`4.5 * event + 4 KiB`) plus the entry's id and write key id (each row names
//!   both, escaped: `2 * (id + wk)`) and a newline. Rows repeat the id and the write key,
//!   so this is linear in the events, not in `n`; in production both come from Redis and
//!   the collector (at most 41 and 16 bytes).
//! - The acknowledging `EVAL`: at most `8 * n + 8 KiB` plus, per dead letter, the entry id
//!   escaped and 256 bytes of reason. 8: a dead letter carries the entry's fields
//!   re-serialised (`\b` → `\u0008`, 3x) and quoted again inside the command (3.5x), and
//!   a serde reason may quote a string event once more.
#![no_main]

use ingest_core::clickhouse;
use ingest_core::drain::{DrainConfig, Io, Pass, drain_once};
use ingest_core::io::CallOutcome;
use ingest_core::redis::RestCall;
use ingest_core::stream::parse_entries;
use ingest_fuzz::{block_on, timed};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;
use std::cell::RefCell;
use std::sync::LazyLock;

static CFG: LazyLock<DrainConfig> = LazyLock::new(|| {
    DrainConfig::from_lookup(|k| (k == "CLICKHOUSE_URL").then(|| "http://127.0.0.1:8123".into()))
        .expect("fuzz drain config is valid")
});

/// The in-memory port: Redis answers the read with the fuzz input, ClickHouse accepts.
struct Port {
    read: Vec<u8>,
    claim: Vec<u8>,
    inserts: RefCell<Vec<String>>,
    acks: RefCell<Vec<String>>,
}

impl Io for Port {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        let b = &call.body;
        let reply = if b.starts_with(r#"["XREADGROUP""#) {
            self.read.clone()
        } else if b.starts_with(r#"["XAUTOCLAIM""#) {
            self.claim.clone()
        } else if b.starts_with(r#"["XPENDING""#) {
            br#"{"result":[]}"#.to_vec()
        } else if b.starts_with(r#"["EVAL""#) {
            self.acks.borrow_mut().push(b.clone());
            br#"{"result":[1,0]}"#.to_vec()
        } else {
            br#"{"result":"OK"}"#.to_vec()
        };
        Ok((200, reply).into())
    }
    async fn clickhouse(&self, req: &clickhouse::Request) -> CallOutcome {
        self.inserts.borrow_mut().push(req.body.clone());
        Ok((200, Vec::new()).into())
    }
    fn now_ms(&self) -> i64 {
        1_700_000_000_000
    }
    async fn sleep(&self, _ms: u64) {}
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let n = data.len();
    timed(n, || {
        let entries = parse_entries(&v);
        let bytes: usize = entries
            .iter()
            .map(|e| {
                e.id.len()
                    + e.fields
                        .iter()
                        .map(|(k, v)| k.len() + v.len())
                        .sum::<usize>()
            })
            .sum();
        assert!(bytes <= n, "entries hold {bytes} B from {n} B");
        assert!(
            entries.len() * 7 <= n,
            "{} entries from {n} B",
            entries.len()
        );

        // What the insert may hold: per event, the row bound plus id and write key.
        let mut insert_bound = 0usize;
        for e in &entries {
            let field = |name: &str| {
                e.fields
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            let wk = field("wk").unwrap_or_default();
            let events = field("events")
                .and_then(|j| serde_json::from_str::<Vec<&RawValue>>(j).ok())
                .unwrap_or_default();
            for ev in events {
                insert_bound += ev.get().len() * 9 / 2 + 4096 + 2 * (e.id.len() + wk.len()) + 1;
            }
        }
        let max_id = entries.iter().map(|e| e.id.len()).max().unwrap_or(0);

        let port = Port {
            read: format!(r#"{{"result":[["analytics_events",{text}]]}}"#).into_bytes(),
            claim: format!(r#"{{"result":["0-0",{text},[]]}}"#).into_bytes(),
            inserts: RefCell::default(),
            acks: RefCell::default(),
        };
        for pass in [
            Pass::default(),
            Pass {
                reclaim: true,
                ..Pass::default()
            },
        ] {
            port.inserts.borrow_mut().clear();
            port.acks.borrow_mut().clear();
            let report = block_on(drain_once(&port, &CFG, "fuzz", pass, || 1_700_000_000_000))
                .expect("the in-memory port never waits");
            // serde_json refuses nesting deeper than 128: the wrapped reply is 2 deeper.
            let Ok(report) = report else {
                assert!(
                    depth(&v) > 125,
                    "drain failed on a parseable reply: {report:?}"
                );
                continue;
            };
            assert_eq!(report.entries, entries.len(), "entries read");
            let inserted: usize = port.inserts.borrow().iter().map(String::len).sum();
            assert!(
                inserted <= insert_bound,
                "insert of {inserted} B, bound {insert_bound} B, from {n} B"
            );
            let dead = report.dead_lettered;
            let ack_bound = 8 * n + 8 * 1024 + dead * (2 * max_id + 256);
            for ack in port.acks.borrow().iter() {
                assert!(
                    ack.len() <= ack_bound,
                    "ack of {} B, bound {ack_bound} B, from {n} B with {dead} dead letters",
                    ack.len()
                );
            }
        }
    });
});
