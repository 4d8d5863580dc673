//! Every branch of the drain, against a scripted port: each Redis call must be the next
//! command the script expects, and gets the scripted answer; ClickHouse answers from a
//! queue. A call the script does not expect fails the test.

use super::*;
use crate::io::{CallOutcome, HttpReply, TransportError};
use crate::redis::RestCall;
use crate::test_support::block_on;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::VecDeque;

/// A scripted port.
#[derive(Default)]
struct FakeIo {
    /// (command name, reply) in the order the drain must make the calls.
    redis: RefCell<VecDeque<(&'static str, CallOutcome)>>,
    /// Every Redis call made, as its argument list.
    calls: RefCell<Vec<Vec<String>>>,
    clickhouse: RefCell<VecDeque<CallOutcome>>,
    /// The dedup tokens of the inserts made (one per insert).
    inserts: RefCell<Vec<String>>,
    slept: RefCell<Vec<u64>>,
    now: std::cell::Cell<i64>,
}

impl FakeIo {
    fn redis(mut self, name: &'static str, result: Value) -> Self {
        let body = json!({ "result": result }).to_string();
        self.redis
            .get_mut()
            .push_back((name, Ok(HttpReply::new(200, body))));
        self
    }
    fn redis_error(mut self, name: &'static str, error: &str) -> Self {
        let body = json!({ "error": error }).to_string();
        self.redis
            .get_mut()
            .push_back((name, Ok(HttpReply::new(400, body))));
        self
    }
    fn clickhouse(mut self, status: u16, body: &str) -> Self {
        self.clickhouse
            .get_mut()
            .push_back(Ok(HttpReply::new(status, body)));
        self
    }
    fn clickhouse_down(mut self) -> Self {
        self.clickhouse
            .get_mut()
            .push_back(Err(TransportError::Failed("connection refused".into())));
        self
    }
    fn names(&self) -> Vec<String> {
        self.calls.borrow().iter().map(|c| c[0].clone()).collect()
    }
    /// The arguments of the ack script call (after EVAL, script, 3, three keys).
    fn ack_argv(&self) -> Vec<String> {
        let calls = self.calls.borrow();
        let ack = calls
            .iter()
            .rev()
            .find(|c| c[0] == "EVAL" && c[1] == ack::ACK_SCRIPT)
            .expect("an ack call");
        ack[6..].to_vec()
    }
    fn done(&self) {
        assert!(self.redis.borrow().is_empty(), "calls not made: {:?}", {
            self.redis.borrow().iter().map(|c| c.0).collect::<Vec<_>>()
        });
        assert!(self.clickhouse.borrow().is_empty(), "inserts not made");
    }
}

impl Io for FakeIo {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        let args: Vec<String> = serde_json::from_str(&call.body).unwrap();
        self.calls.borrow_mut().push(args.clone());
        let (name, reply) = self
            .redis
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected call {:?}", args[0]));
        assert_eq!(args[0], name, "calls so far: {:?}", self.names());
        reply
    }
    async fn clickhouse(&self, req: &crate::clickhouse::Request) -> CallOutcome {
        let token = req
            .url
            .split("insert_deduplication_token=")
            .nth(1)
            .unwrap_or_default()
            .split('&')
            .next()
            .unwrap_or_default()
            .to_string();
        self.inserts.borrow_mut().push(token);
        self.clickhouse
            .borrow_mut()
            .pop_front()
            .expect("an insert the script does not expect")
    }
    fn now_ms(&self) -> i64 {
        self.now.get()
    }
    async fn sleep(&self, ms: u64) {
        self.slept.borrow_mut().push(ms);
        self.now.set(self.now.get() + i64::try_from(ms).unwrap());
    }
}

fn cfg() -> DrainConfig {
    DrainConfig::from_lookup(|k| match k {
        "CLICKHOUSE_URL" => Some("http://127.0.0.1:1".into()),
        "BATCH_SIZE" => Some("3".into()),
        "MAX_DELIVERIES" => Some("2".into()),
        _ => None,
    })
    .unwrap()
}

const GOOD: &str =
    r#"{"type":"track","messageId":"m1","timestamp":"2026-01-01T00:00:00Z","event":"A"}"#;
const BAD: &str = r#"{"type":"track"}"#;

/// A stream entry `[id, ["wk", "k", "events", "[..]"]]`.
fn entry(id: &str, events: &[&str]) -> Value {
    json!([id, ["wk", "k", "events", format!("[{}]", events.join(","))]])
}

/// An XREADGROUP reply with these entries.
fn read(entries: &[Value]) -> Value {
    json!([["analytics_events", entries]])
}

fn once(io: &FakeIo, pass: Pass) -> Result<Report, DrainError> {
    block_on(drain_once(io, &cfg(), "c", pass, || 0))
}

#[test]
fn an_empty_stream_costs_one_read_and_no_ack() {
    let io = FakeIo::default().redis("XREADGROUP", Value::Null);
    assert_eq!(once(&io, Pass::default()).unwrap(), Report::default());
    io.done();
}

#[test]
fn stored_entries_are_acked_with_their_row_count_and_bad_events_dead_lettered() {
    let io = FakeIo::default()
        .redis(
            "XREADGROUP",
            read(&[entry("1-0", &[GOOD, BAD]), entry("2-0", &[GOOD])]),
        )
        .clickhouse(200, "")
        .redis("EVAL", json!([2, 0]));
    let r = once(&io, Pass::default()).unwrap();
    assert_eq!((r.entries, r.rows, r.acked, r.dead_lettered), (2, 2, 2, 1));
    // group, rows, retention, 2 ids, then the bad event's (id, reason, payload)
    let argv = io.ack_argv();
    assert_eq!(argv[..6], ["processors", "2", "0", "2", "1-0", "2-0"]);
    assert_eq!(argv[6], "1-0");
    assert!(argv[7].contains("messageId"), "{}", argv[7]);
    // one insert for both entries, deduplicated by both ids
    assert_eq!(io.inserts.borrow().len(), 1);
    io.done();
}

#[test]
fn a_refused_single_entry_is_dead_lettered_with_its_full_payload() {
    let io = FakeIo::default()
        .redis("XREADGROUP", read(&[entry("5-0", &[GOOD])]))
        .clickhouse(400, "Code: 27. bad row")
        .redis("EVAL", json!([1, 0]));
    let report = once(&io, Pass::default()).unwrap();
    assert_eq!((report.dead_lettered, report.rows), (1, 0));
    let argv = io.ack_argv();
    assert_eq!(argv[3], "0", "nothing acked as stored");
    assert_eq!(argv[4], "5-0");
    assert!(argv[5].contains("refused"));
    let payload: Value = serde_json::from_str(&argv[6]).unwrap();
    assert_eq!(payload["events"], format!("[{GOOD}]"));
    assert_eq!(payload["wk"], "k");
    io.done();
}

#[test]
fn a_refused_batch_is_split_so_one_poison_entry_does_not_hold_back_the_rest() {
    let io = FakeIo::default()
        .redis(
            "XREADGROUP",
            read(&[
                entry("1-0", &[GOOD]),
                entry("2-0", &[GOOD]),
                entry("3-0", &[BAD]),
            ]),
        )
        .clickhouse(400, "Code: 27. refused") // the batch
        .clickhouse(200, "") // 1-0 alone
        .clickhouse(400, "Code: 27. still refused") // 2-0 alone
        .redis("EVAL", json!([3, 0]));
    let r = once(&io, Pass::default()).unwrap();
    assert_eq!((r.rows, r.dead_lettered), (1, 2));
    let argv = io.ack_argv();
    // 1-0 stored, 3-0 had no rows (its one event is a dead letter); 2-0 refused
    assert_eq!(argv[3..6], ["2", "1-0", "3-0"]);
    let dead: Vec<&String> = argv[6..].iter().step_by(3).collect();
    assert_eq!(dead, ["2-0", "3-0"]);
    // 3-0 has no rows, so only two entries were inserted alone
    assert_eq!(io.inserts.borrow().len(), 3);
    io.done();
}

#[test]
fn a_transient_failure_while_split_acks_only_what_is_finished() {
    // 3-0's bad event must not be dead-lettered: acking its dead letter would XACK 3-0,
    // whose good event is not stored yet.
    let io = FakeIo::default()
        .redis(
            "XREADGROUP",
            read(&[
                entry("1-0", &[GOOD]),
                entry("2-0", &[GOOD]),
                entry("3-0", &[GOOD, BAD]),
            ]),
        )
        .clickhouse(400, "Code: 27. refused")
        .clickhouse(200, "")
        .clickhouse_down()
        .redis("EVAL", json!([1, 0]));
    let err = once(&io, Pass::default()).unwrap_err();
    assert!(matches!(err, DrainError::ClickHouse(_)), "{err}");
    let argv = io.ack_argv();
    assert_eq!(argv[3..], ["1", "1-0"], "only 1-0, no dead letters");
    io.done();
}

#[test]
fn clickhouse_down_acks_nothing_and_keeps_the_entries_pending() {
    let io = FakeIo::default()
        .redis("XREADGROUP", read(&[entry("1-0", &[GOOD, BAD])]))
        .clickhouse_down();
    assert!(matches!(
        once(&io, Pass::default()),
        Err(DrainError::ClickHouse(_))
    ));
    assert!(!io.names().contains(&"EVAL".to_string()));
    io.done();
}

#[test]
fn clickhouse_overloaded_is_transient_too() {
    let io = FakeIo::default()
        .redis("XREADGROUP", read(&[entry("1-0", &[GOOD])]))
        .clickhouse(503, "overloaded");
    assert!(matches!(
        once(&io, Pass::default()),
        Err(DrainError::ClickHouse(m)) if m.contains("503")
    ));
    io.done();
}

#[test]
fn a_missing_group_is_created_and_the_read_retried() {
    let io = FakeIo::default()
        .redis_error("XREADGROUP", "NOGROUP No such key 'analytics_events'")
        .redis("XGROUP", json!("OK"))
        .redis("XREADGROUP", read(&[entry("1-0", &[GOOD])]))
        .clickhouse(200, "")
        .redis("EVAL", json!([1, 0]));
    assert_eq!(once(&io, Pass::default()).unwrap().rows, 1);
    io.done();
}

#[test]
fn a_group_created_meanwhile_by_another_consumer_is_fine() {
    let io = FakeIo::default()
        .redis_error("XREADGROUP", "NOGROUP No such key")
        .redis_error("XGROUP", "BUSYGROUP Consumer Group name already exists")
        .redis("XREADGROUP", Value::Null);
    assert_eq!(once(&io, Pass::default()).unwrap().entries, 0);
    io.done();
}

#[test]
fn other_redis_refusals_stop_the_pass() {
    let io = FakeIo::default().redis_error("XREADGROUP", "WRONGTYPE not a stream");
    let err = once(&io, Pass::default()).unwrap_err();
    assert_eq!(
        err.redis_code(),
        Some(crate::redis::ErrorCode::Other),
        "{err}"
    );
    io.done();
}

#[test]
fn reclaim_on_a_missing_group_creates_it_and_reads_new_entries() {
    let io = FakeIo::default()
        .redis_error("XAUTOCLAIM", "NOGROUP No such key")
        .redis("XGROUP", json!("OK"))
        .redis("XREADGROUP", Value::Null);
    let pass = Pass {
        reclaim: true,
        ..Pass::default()
    };
    assert_eq!(once(&io, pass).unwrap().entries, 0);
    io.done();
}

#[test]
fn entries_delivered_more_than_max_deliveries_are_dead_lettered_not_retried() {
    let io = FakeIo::default()
        .redis(
            "XAUTOCLAIM",
            json!(["0-0", [entry("1-0", &[GOOD]), entry("2-0", &[GOOD])], []]),
        )
        .redis(
            "XPENDING",
            json!([["1-0", "c", 30000, 3], ["2-0", "c", 30000, 2]]),
        )
        .clickhouse(200, "")
        .redis("EVAL", json!([2, 0]));
    let pass = Pass {
        reclaim: true,
        ..Pass::default()
    };
    let r = once(&io, pass).unwrap();
    assert_eq!((r.entries, r.rows, r.dead_lettered), (2, 1, 1));
    let argv = io.ack_argv();
    assert_eq!(argv[3..5], ["1", "2-0"]);
    assert_eq!(argv[5], "1-0");
    assert!(argv[6].contains("delivered 3 times"));
    io.done();
}

#[test]
fn own_pending_entries_are_read_from_zero_without_blocking() {
    let io = FakeIo::default().redis("XREADGROUP", Value::Null);
    let pass = Pass {
        block_ms: Some(1000),
        own_pending: true,
        reclaim: false,
    };
    once(&io, pass).unwrap();
    let call = &io.calls.borrow()[0];
    assert!(!call.contains(&"BLOCK".to_string()));
    assert_eq!(call.last().unwrap(), "0");
}

#[test]
fn after_ack_drains_until_empty_then_releases_the_lock() {
    let io = FakeIo::default()
        .redis("XREADGROUP", read(&[entry("1-0", &[GOOD])]))
        .clickhouse(200, "")
        .redis("EVAL", json!([1, 0]))
        .redis("XREADGROUP", Value::Null)
        .redis("EVAL", json!("again")) // a request asked for another pass
        .redis("XREADGROUP", Value::Null)
        .redis("EVAL", json!("released"));
    let r = block_on(drain_after_ack(&io, &cfg(), "edge", "rid", 1000, 10)).unwrap();
    assert_eq!(r.rows, 1);
    // a partial batch: wait out the flush interval before the next pass
    assert_eq!(*io.slept.borrow(), [1000]);
    io.done();
}

#[test]
fn after_ack_stops_on_a_lost_lock_and_at_max_passes() {
    let io = FakeIo::default()
        .redis("XREADGROUP", Value::Null)
        .redis("EVAL", json!("lost"));
    block_on(drain_after_ack(&io, &cfg(), "edge", "rid", 1000, 10)).unwrap();
    io.done();
    let full = [
        entry("1-0", &[GOOD]),
        entry("2-0", &[GOOD]),
        entry("3-0", &[GOOD]),
    ];
    let io = FakeIo::default()
        .redis("XREADGROUP", read(&full))
        .clickhouse(200, "")
        .redis("EVAL", json!([3, 0]))
        .redis("XREADGROUP", read(&full))
        .clickhouse(200, "")
        .redis("EVAL", json!([3, 0]));
    let r = block_on(drain_after_ack(&io, &cfg(), "edge", "rid", 1000, 2)).unwrap();
    assert_eq!(r.rows, 6);
    assert!(io.slept.borrow().is_empty(), "a full batch goes on at once");
    io.done();
}

#[test]
fn scheduled_reclaims_then_own_pending_then_new_entries() {
    let io = FakeIo::default()
        .redis("XAUTOCLAIM", json!(["0-0", [], []]))
        .redis("XREADGROUP", Value::Null) // own pending
        .redis("XREADGROUP", read(&[entry("1-0", &[GOOD])])) // new
        .clickhouse(200, "")
        .redis("EVAL", json!([1, 0]))
        .redis("XREADGROUP", Value::Null);
    let r = block_on(drain_scheduled(&io, &cfg(), "cron", 10)).unwrap();
    assert_eq!(r.rows, 1);
    let calls = io.calls.borrow();
    assert_eq!(calls[1].last().unwrap(), "0");
    assert_eq!(calls[2].last().unwrap(), ">");
    io.done();
}

#[test]
fn the_schedule_retries_own_entries_after_a_failure_and_backs_off() {
    let c = cfg();
    let mut s = Schedule::new(&c);
    let first = s.next_pass(0);
    assert!(
        first.own_pending && first.reclaim,
        "a restart re-reads its own"
    );
    let fail: Result<Report, DrainError> = Err(DrainError::ClickHouse("down".into()));
    assert_eq!(s.after(&fail, 0, 10), 250);
    assert_eq!(s.after(&fail, 0, 10), 500);
    for _ in 0..10 {
        s.after(&fail, 0, 10);
    }
    assert_eq!(s.after(&fail, 0, 10), 30_000, "capped");
    assert!(s.next_pass(100).own_pending);
    // own pending drained: back to new entries; a success resets the backoff
    let some = Ok(Report {
        entries: 1,
        ..Report::default()
    });
    assert_eq!(
        s.after(&some, 0, 300),
        700,
        "partial batch: rest of FLUSH_INTERVAL_MS"
    );
    assert!(s.next_pass(400).own_pending);
    assert_eq!(s.after(&Ok(Report::default()), 0, 0), 0);
    assert!(!s.next_pass(500).own_pending);
    assert_eq!(s.after(&fail, 0, 10), 250, "reset by the success");
    let full = Ok(Report {
        entries: c.batch_size,
        ..Report::default()
    });
    assert_eq!(s.after(&full, 0, 1), 0, "a backlog goes on at once");
}

#[test]
fn the_schedule_reclaims_every_half_claim_idle() {
    let mut s = Schedule::new(&cfg()); // CLAIM_IDLE_MS 30000
    assert!(s.next_pass(0).reclaim);
    assert!(!s.next_pass(14_999).reclaim);
    assert!(s.next_pass(15_000).reclaim);
    assert!(!s.next_pass(15_001).reclaim);
}

#[test]
fn config_requires_clickhouse_and_checks_numbers() {
    let ok = DrainConfig::from_lookup(|k| {
        (k == "CLICKHOUSE_URL").then(|| "http://127.0.0.1:8123/".to_string())
    })
    .unwrap();
    assert_eq!(ok.target.url, "http://127.0.0.1:8123");
    assert_eq!(
        (ok.group.as_str(), ok.batch_size, ok.flush_interval_ms),
        ("processors", 100, 1000)
    );
    assert!(
        DrainConfig::from_lookup(|_| None)
            .unwrap_err()
            .to_string()
            .contains("CLICKHOUSE_URL")
    );
    let err = DrainConfig::from_lookup(|k| match k {
        "CLICKHOUSE_URL" => Some("http://x".into()),
        "BATCH_SIZE" => Some("0".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(err.name(), "BATCH_SIZE");
    assert!(DrainConfig::when_configured(|_| None).unwrap().is_none());
}

#[test]
fn scheduled_drains_every_shard_and_a_failing_shard_does_not_stop_the_others() {
    let mut c = cfg();
    c.shards = 3;
    assert_eq!(
        c.streams(),
        [
            "analytics_events",
            "analytics_events:1",
            "analytics_events:2"
        ]
    );
    let io = FakeIo::default()
        // shard 0: nothing
        .redis("XAUTOCLAIM", json!(["0-0", [], []]))
        .redis("XREADGROUP", Value::Null)
        .redis("XREADGROUP", Value::Null)
        // shard 1: Redis refuses the reclaim
        .redis_error("XAUTOCLAIM", "ERR broken")
        // shard 2: one entry stored and acked
        .redis("XAUTOCLAIM", json!(["0-0", [], []]))
        .redis("XREADGROUP", Value::Null)
        .redis("XREADGROUP", read(&[entry("1-0", &[GOOD])]))
        .clickhouse(200, "")
        .redis("EVAL", json!([1, 0]))
        .redis("XREADGROUP", Value::Null);
    let err = block_on(drain_scheduled(&io, &c, "cron", 10)).unwrap_err();
    assert!(err.to_string().contains("broken"), "{err}");
    let calls = io.calls.borrow();
    // each call reads its own shard's stream; the ack names shard 2's keys
    let stream_of = |call: &Vec<String>| {
        call.iter()
            .find(|a| a.starts_with("analytics_events"))
            .cloned()
            .unwrap()
    };
    let streams: Vec<String> = calls.iter().map(stream_of).collect();
    assert_eq!(
        streams,
        [
            "analytics_events",
            "analytics_events",
            "analytics_events",
            "analytics_events:1",
            "analytics_events:2",
            "analytics_events:2",
            "analytics_events:2",
            "analytics_events:2",
            "analytics_events:2",
        ]
    );
    let ack = &calls[7];
    assert!(
        ack.contains(&"analytics_events:2:invalid".to_string()),
        "{ack:?}"
    );
    assert!(
        ack.contains(&"analytics_events:2:metrics".to_string()),
        "{ack:?}"
    );
    drop(calls);
    io.done();
}

#[test]
fn the_stats_call_reads_every_shard_in_one_script() {
    let call = crate::stream::stats_call("ev", 3, "processors");
    let args: Vec<String> = serde_json::from_str(&call.body).unwrap();
    assert_eq!(args[0], "EVAL");
    assert_eq!(
        args[2..],
        [
            "9",
            "ev",
            "ev:invalid",
            "ev:metrics",
            "ev:1",
            "ev:1:invalid",
            "ev:1:metrics",
            "ev:2",
            "ev:2:invalid",
            "ev:2:metrics",
            "processors"
        ]
    );
}

#[test]
fn the_same_entry_ids_on_two_shards_are_two_inserts_to_clickhouse() {
    // Two shards append `<ms>-0` in the same millisecond: their inserts must not share a
    // deduplication token, or ClickHouse drops the second as a retry of the first.
    let base = cfg();
    let mut tokens = Vec::new();
    for c in [base.clone(), base.for_stream("analytics_events:1")] {
        let io = FakeIo::default()
            .redis("XREADGROUP", read(&[entry("7-0", &[GOOD])]))
            .clickhouse(200, "")
            .redis("EVAL", json!([1, 0]));
        block_on(drain_once(&io, &c, "c", Pass::default(), || 0)).unwrap();
        tokens.push(io.inserts.borrow()[0].clone());
        io.done();
    }
    assert_ne!(tokens[0], tokens[1]);
}

#[test]
fn a_scheduled_run_over_many_shards_stays_in_the_call_budget_and_the_next_minute_goes_on() {
    let mut c = cfg();
    c.shards = 64;
    let visited = |now_ms: i64| {
        let mut io = FakeIo::default();
        for _ in 0..14 {
            io = io
                .redis("XAUTOCLAIM", json!(["0-0", [], []]))
                .redis("XREADGROUP", Value::Null)
                .redis("XREADGROUP", Value::Null);
        }
        io.now.set(now_ms);
        block_on(drain_scheduled(&io, &c, "cron", 20)).unwrap();
        io.done();
        let calls = io.calls.borrow();
        assert!(
            calls.len() <= 50,
            "Workers Free allows 50 subrequests: {}",
            calls.len()
        );
        let mut shards: Vec<String> = calls
            .iter()
            .filter_map(|call| {
                call.iter()
                    .find(|a| a.starts_with("analytics_events"))
                    .cloned()
            })
            .collect();
        shards.dedup();
        shards
    };
    let first = visited(0);
    assert_eq!(first.len(), 14, "{first:?}");
    assert_eq!(first[0], "analytics_events");
    assert_eq!(first[13], "analytics_events:13");
    // a minute later the run starts where this one could not go
    let next = visited(60_000);
    assert_eq!(next[0], "analytics_events:13");
    assert_eq!(next[13], "analytics_events:26");
}
