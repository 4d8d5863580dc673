use super::*;
use proptest::prelude::*;
use serde_json::Value;

/// RFC 3986's unreserved characters, the only ones a query value keeps as they are.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

proptest! {
    #[test]
    fn query_values_encode_as_percent_encoding_does(s in any::<String>()) {
        let by_crate = percent_encoding::utf8_percent_encode(&s, UNRESERVED).to_string();
        prop_assert_eq!(encode_component(&s), by_crate);
    }
}

#[test]
fn query_values_encode_unreserved_only() {
    assert_eq!(
        encode_component("INSERT INTO events FORMAT JSONEachRow"),
        "INSERT%20INTO%20events%20FORMAT%20JSONEachRow"
    );
    assert_eq!(
        encode_component("a-b_c.d~e/f?g&h=i+ü"),
        "a-b_c.d~e%2Ff%3Fg%26h%3Di%2B%C3%BC"
    );
}

const EV: &str = r#"{"type":"page","messageId":"m1","anonymousId":"a1","name":"Home","properties":{"path":"/"},
    "timestamp":"2026-11-25T10:00:00.123Z","originalTimestamp":"2026-11-25T09:59:59.000Z","receivedAt":"2026-11-25T10:00:01.000Z",
    "context":{"ip":"203.0.113.7","userAgent":"UA","library":{"name":"analytics.js","version":"1.0"},
    "page":{"url":"https://x.test/","path":"/","referrer":"","title":"T"},"location":{"country":"NO","city":"Oslo"}},
    "rudderId":"r-1"}"#;

#[test]
fn event_becomes_a_row_with_typed_columns() {
    let r: Value = serde_json::from_str(&row(EV, "abcd", "1-0").unwrap()).unwrap();
    assert_eq!(r["message_id"], "m1");
    assert_eq!(r["event"], "Home");
    assert_eq!(r["timestamp"], "2026-11-25 10:00:00.123");
    assert_eq!(r["original_timestamp"], "2026-11-25 09:59:59.000");
    assert_eq!(r["sent_at"], Value::Null);
    assert_eq!(r["ip"], "203.0.113.7");
    assert_eq!(r["country"], "NO");
    assert_eq!(r["library_name"], "analytics.js");
    assert_eq!(r["page_title"], "T");
    assert_eq!(
        serde_json::from_str::<Value>(r["properties"].as_str().unwrap()).unwrap()["path"],
        "/"
    );
    assert_eq!(r["traits"], "{}");
    assert_eq!(
        serde_json::from_str::<Value>(r["extra"].as_str().unwrap()).unwrap()["rudderId"],
        "r-1"
    );
    assert_eq!(r["write_key_id"], "abcd");
    assert_eq!(r["stream_id"], "1-0");
}

#[test]
fn context_traits_fill_the_traits_column() {
    let ev = r#"{"type":"identify","messageId":"m","userId":"u","timestamp":"2026-01-01T00:00:00Z","context":{"traits":{"plan":"pro"}}}"#;
    let r: Value = serde_json::from_str(&row(ev, "k", "1").unwrap()).unwrap();
    assert_eq!(r["traits"], r#"{"plan":"pro"}"#);
}

#[test]
fn events_without_id_or_time_are_refused() {
    assert!(
        row(
            r#"{"type":"track","timestamp":"2026-01-01T00:00:00Z"}"#,
            "k",
            "1"
        )
        .is_err()
    );
    assert!(row(r#"{"type":"track","messageId":"m"}"#, "k", "1").is_err());
    assert!(row("[1]", "k", "1").is_err());
}

#[test]
fn insert_request_pins_settings_and_token() {
    let t = Target {
        url: "http://127.0.0.1:8123".into(),
        database: "analytics".into(),
        user: "w".into(),
        password: "p w".into(),
    };
    let r = t.insert("{}".into(), "tok");
    assert!(
        r.url
            .starts_with("http://127.0.0.1:8123/?database=analytics&query=INSERT%20INTO%20events")
    );
    assert!(r.url.contains("async_insert=0"));
    assert!(r.url.contains("insert_deduplication_token=tok"));
    assert!(r.headers.contains(&("x-clickhouse-key", "p w".into())));
    assert_eq!(
        dedup_token("s", &["1-0 r1", "2-0 r2"]),
        dedup_token("s", &["1-0 r1", "2-0 r2"])
    );
    assert_ne!(
        dedup_token("s", &["1-0 r1", "2-0 r2"]),
        dedup_token("s", &["1-0 r1"])
    );
    // the same ids on another shard, or another database's stream, are other entries
    assert_ne!(
        dedup_token("s", &["1-0 r1"]),
        dedup_token("s:1", &["1-0 r1"])
    );
    assert_ne!(dedup_token("s", &["1-0 r1"]), dedup_token("s", &["1-0 r9"]));
    assert_eq!(classify(400), Failure::Permanent);
    assert_eq!(classify(0), Failure::Transient);
    assert_eq!(classify(403), Failure::Transient);
    assert_eq!(classify(503), Failure::Transient);
}
