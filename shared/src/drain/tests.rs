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
