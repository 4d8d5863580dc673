//! The collector keeps the wire contract of `ingest-protocol` (which the SDK sends by):
//! its default caps, its routes, and its signature check of what a sender signs.

use ingest_core::auth::{SignatureVersion, Signed, key_from_basic_auth, verify_signature};
use ingest_core::collector::{MAX_BATCH_EVENTS, Route, route, settings_key};
use ingest_core::config::Config;
use ingest_protocol::{Message, Scheme, paths};

fn config() -> Result<Config, String> {
    let vars = [
        ("ALLOWED_WRITE_KEYS", "wk"),
        ("REDIS_URL", "http://127.0.0.1:1"),
        ("REDIS_TOKEN", "t"),
    ];
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .map_err(String::from)
}

#[test]
fn the_collectors_default_caps_are_the_protocols() {
    let cfg = config().unwrap();
    assert_eq!(cfg.max_request_bytes, ingest_protocol::MAX_REQUEST_BYTES);
    assert_eq!(cfg.max_event_bytes, ingest_protocol::MAX_EVENT_BYTES);
    assert_eq!(MAX_BATCH_EVENTS, ingest_protocol::MAX_BATCH_EVENTS);
}

#[test]
fn every_protocol_path_is_a_collector_route() {
    assert_eq!(route(paths::BATCH), Some(Route::Batch));
    assert_eq!(route(paths::IMPORT), Some(Route::Batch));
    for p in [
        paths::TRACK,
        paths::IDENTIFY,
        paths::PAGE,
        paths::SCREEN,
        paths::GROUP,
        paths::ALIAS,
    ] {
        assert!(matches!(route(p), Some(Route::Single(_))), "{p}");
    }
    assert_eq!(settings_key(&paths::settings("wk_1")), Some("wk_1"));
}

#[test]
fn what_a_sender_signs_the_collector_verifies() {
    let body = br#"{"batch":[]}"#;
    let now_s = 1_700_000_000;
    let req = Signed {
        method: "POST",
        path: paths::BATCH,
        body,
        now_s,
        v1_until_s: i64::MAX,
    };
    let ts = now_s.to_string();
    let v2 = ingest_protocol::sign_v2("s", "POST", paths::BATCH, now_s, body);
    let mac = Message {
        method: "POST",
        path: paths::BATCH,
        timestamp: &ts,
        body,
    }
    .mac(Scheme::V2, "s")
    .unwrap();
    assert_eq!(
        verify_signature("s", Some(&v2), Some(&ts), req),
        Ok(SignatureVersion::V2(mac))
    );
    let v1 = ingest_protocol::sign("s", now_s, body);
    assert_eq!(
        verify_signature("s", Some(&v1), Some(&ts), req),
        Ok(SignatureVersion::V1)
    );
    let header = ingest_protocol::basic_authorization("wk");
    assert_eq!(key_from_basic_auth(&header).as_deref(), Some("wk"));
}
