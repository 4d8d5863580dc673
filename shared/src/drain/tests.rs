use super::*;
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
fn poison_entries_and_bad_events_become_dead_letters() {
    let good = r#"[{"type":"track","messageId":"m1","timestamp":"2026-01-01T00:00:00Z","event":"A"},{"type":"track"}]"#;
    let entries = vec![
        Entry {
            id: "1-0".into(),
            fields: vec![("wk".into(), "k".into()), ("events".into(), good.into())],
        },
        Entry {
            id: "2-0".into(),
            fields: vec![("events".into(), "not json".into())],
        },
        Entry {
            id: "3-0".into(),
            fields: vec![],
        },
    ];
    let (batches, dead) = build(&entries);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].row_count, 1);
    assert_eq!(dead.len(), 3);
    assert_eq!(dead[0].0, "1-0"); // the event without messageId
    // ... kept as an entry of its own: write key and the one event, ready for replay
    let payload: Value = serde_json::from_str(&dead[0].2).unwrap();
    assert_eq!(payload["wk"], "k");
    assert_eq!(payload["events"], r#"[{"type":"track"}]"#);
    assert!(dead[1].1.contains("JSON array"));
    assert!(dead[2].1.contains("no events"));
}

#[test]
fn stats_parse_lag_from_the_oldest_id() {
    let body = br#"{"result":[12,3,"1000-0",2,1]}"#.to_vec();
    let s = parse_stats(Ok((200, body)), 4000).unwrap();
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
        parse_stats(Ok((200, body)), 0).unwrap().counters,
        ["rows_inserted", "5"]
    );
    let s = parse_stats(Ok((200, br#"{"result":[0,0,"",0,0]}"#.to_vec())), 4000).unwrap();
    assert_eq!(s.lag_ms, 0);
    assert!(parse_stats(Err("down".into()), 0).is_err());
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
            .contains("CLICKHOUSE_URL")
    );
    let err = DrainConfig::from_lookup(|k| match k {
        "CLICKHOUSE_URL" => Some("http://x".into()),
        "BATCH_SIZE" => Some("0".into()),
        _ => None,
    })
    .unwrap_err();
    assert!(err.contains("BATCH_SIZE"));
}

/// A scripted port: answers Redis calls by the command name and ClickHouse calls from a
/// queue, and records every call.
struct FakeIo {
    redis: std::cell::RefCell<Vec<String>>,
    clickhouse: std::cell::RefCell<Vec<CallOutcome>>,
    entries: Value,
}

impl Io for FakeIo {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        self.redis.borrow_mut().push(call.body.clone());
        let args: Vec<String> = serde_json::from_str(&call.body).unwrap_or_default();
        let result = match args.first().map(String::as_str) {
            Some("XREADGROUP") => json!([["analytics_events", self.entries.clone()]]),
            Some("EVAL") => json!([1, 0]),
            _ => json!("OK"),
        };
        Ok((200, json!({ "result": result }).to_string().into_bytes()))
    }
    async fn clickhouse(&self, _req: &clickhouse::Request) -> CallOutcome {
        self.clickhouse.borrow_mut().remove(0)
    }
    fn now_ms(&self) -> i64 {
        0
    }
    async fn sleep(&self, _ms: u64) {}
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

fn drain_cfg() -> DrainConfig {
    DrainConfig::from_lookup(|k| (k == "CLICKHOUSE_URL").then(|| "http://127.0.0.1:1".into()))
        .unwrap()
}

#[test]
fn a_refused_single_entry_is_dead_lettered_with_its_full_payload() {
    let events =
        r#"[{"type":"track","messageId":"m1","timestamp":"2026-01-01T00:00:00Z","event":"A"}]"#;
    let io = FakeIo {
        redis: Default::default(),
        clickhouse: std::cell::RefCell::new(vec![Ok((400, b"Code: 27. bad row".to_vec()))]),
        entries: json!([["5-0", ["wk", "k", "events", events]]]),
    };
    let report = block_on(drain_once(&io, &drain_cfg(), "c", Pass::default(), || 0)).unwrap();
    assert_eq!(report.dead_lettered, 1);
    let calls = io.redis.borrow();
    let ack: Vec<String> = serde_json::from_str(calls.last().unwrap()).unwrap();
    // ... ARGV: group, rows, retention, 0 acked ids, then (id, reason, payload)
    let payload: Value = serde_json::from_str(ack.last().unwrap()).unwrap();
    assert_eq!(ack[ack.len() - 3], "5-0");
    assert!(ack[ack.len() - 2].contains("refused"));
    assert_eq!(payload["events"], events);
    assert_eq!(payload["wk"], "k");
}
