use super::*;

/// A backend answer with this status and body.
pub(super) fn answer(parts: (u16, Vec<u8>)) -> crate::io::CallOutcome {
    Ok(parts.into())
}
use serde_json::{Value, json};

pub(super) struct Counter(pub(super) u8);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

pub(super) fn cfg(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![
        ("ALLOWED_WRITE_KEYS", "wk_test"),
        ("REDIS_URL", "http://127.0.0.1:1"),
        ("REDIS_TOKEN", "t"),
        ("ALLOWED_ORIGINS", "https://app.example"),
        // One call per request, as on Spin (group commit has its own tests).
        ("LINGER_MS", "0"),
    ];
    vars.extend_from_slice(extra);
    Config::from_lookup(|k| {
        vars.iter()
            .rev()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

pub(super) fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

pub(super) const AUTH: (&str, &str) = ("authorization", "Basic d2tfdGVzdDo="); // wk_test:

pub(super) fn run(method: &str, path: &str, h: &http::HeaderMap, body: &str) -> Plan {
    let req = Incoming {
        method,
        path,
        headers: h,
        body: body.as_bytes(),
        peer_ip: Some("127.0.0.1".parse().unwrap()),
        geo: None,
        now_ms: 1_700_000_000_000,
    };
    plan(
        &cfg(&[]),
        &req,
        &mut Counter(0),
        &mut crate::metrics::Metrics::default(),
    )
}

/// The ingest call a plan makes, read back by argument name.
pub(super) fn call_args(p: Plan) -> (crate::redis::ingest::IngestView, Pending) {
    match p {
        Plan::Call {
            call: Call::Redis(call),
            pending,
        } => (
            crate::redis::ingest::IngestView::parse(&call.call()).unwrap(),
            pending,
        ),
        Plan::Call {
            call: Call::ClickHouse(_),
            ..
        } => panic!("expected a Redis call"),
        Plan::Respond(r, _) => panic!("expected a call, got {} {}", r.status, r.body),
    }
}

pub(super) fn reply(p: Plan) -> Reply {
    match p {
        Plan::Respond(r, _) => r,
        Plan::Call { .. } => panic!("expected a reply"),
    }
}

#[test]
fn valid_batch_becomes_one_eval_with_all_events() {
    let h = headers(&[AUTH]);
    let body = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"},
        {"type":"identify","anonymousId":"a","messageId":"m2","traits":{"x":1}}],"sentAt":"2023-11-14T22:13:20.000Z"}"#;
    let (args, pending) = call_args(run("POST", "/v1/batch", &h, body));
    assert_eq!(args.args[0], "EVALSHA", "the script goes by its SHA");
    assert_eq!(args.key(1), "analytics_events");
    assert_eq!(args.key(2), "analytics_events:invalid");
    assert!(args.rate_limit().starts_with("analytics_events:rl:"));
    assert!(args.rate_limit().ends_with(":127.0.0.1"));
    let events: Value = serde_json::from_str(args.events()).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert_eq!(events[0]["messageId"], "m1");
    assert_eq!(events[1]["traits"]["x"], 1);
    assert_eq!(args.accepted(), "2");
    assert_eq!(args.rejects(), "");
    let Finished { reply: r, log, .. } = finish(
        &cfg(&[]),
        pending,
        answer((200, br#"{"result":[["ok","1-0",0]]}"#.to_vec())),
    );
    assert_eq!(r.status, 200);
    assert_eq!(log.accepted, 2);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v, json!({"success": true, "accepted": 2}));
}

#[test]
fn invalid_events_are_reported_and_dead_lettered() {
    let h = headers(&[AUTH]);
    let body = r#"{"batch":[{"type":"track","userId":"u"},{"type":"page","userId":"u"},7]}"#;
    let (args, pending) = call_args(run("POST", "/v1/batch", &h, body));
    let dead: Value = serde_json::from_str(args.rejects()).unwrap();
    assert_eq!(dead[0]["index"], 0);
    assert_eq!(dead[0]["field"], "event");
    assert_eq!(dead[1]["index"], 2);
    let Finished { reply: r, .. } = finish(
        &cfg(&[]),
        pending,
        answer((200, br#"{"result":[["ok","1-0",0]]}"#.to_vec())),
    );
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["rejected"][0]["field"], "event");
    assert_eq!(v["rejected"][1]["index"], 2);
}

#[test]
fn all_invalid_is_400_after_dead_lettering() {
    let h = headers(&[AUTH]);
    let (args, pending) = call_args(run(
        "POST",
        "/v1/batch",
        &h,
        r#"{"batch":[{"type":"track"}]}"#,
    ));
    assert_eq!(args.events(), "");
    // no retry marker when nothing is accepted
    assert_eq!((args.marker(), args.marker_score()), ("", 0));
    let Finished { reply: r, .. } = finish(
        &cfg(&[]),
        pending,
        answer((200, br#"{"result":[["ok",""]]}"#.to_vec())),
    );
    assert_eq!(r.status, 400);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "invalid_events");
    assert_eq!(v["rejected"][0]["field"], "userId");
}

#[test]
fn write_key_from_body_and_single_route_sets_type() {
    let h = headers(&[]);
    let (args, _) = call_args(run(
        "POST",
        "/v1/t",
        &h,
        r#"{"writeKey":"wk_test","event":"Click","anonymousId":"a","type":"identify"}"#,
    ));
    let events: Value = serde_json::from_str(args.events()).unwrap();
    assert_eq!(events[0]["type"], "track");
    assert!(events[0].get("writeKey").is_none());
    assert_eq!(events[0]["messageId"].as_str().unwrap().len(), 36);
}

#[test]
fn auth_failures() {
    let h = headers(&[]);
    let r = reply(run(
        "POST",
        "/v1/track",
        &h,
        r#"{"event":"A","userId":"u"}"#,
    ));
    assert_eq!(r.status, 401);
    let r = reply(run(
        "POST",
        "/v1/track",
        &h,
        r#"{"writeKey":"nope","event":"A","userId":"u"}"#,
    ));
    assert_eq!(r.status, 401);
    assert!(!r.body.contains("nope"));
}

#[test]
fn request_level_errors_table() {
    let auth = headers(&[AUTH]);
    let cases: &[(&str, &str, &str, u16, &str)] = &[
        ("POST", "/v1/batch", "", 400, "malformed_body"),
        ("POST", "/v1/batch", "[1]", 400, "malformed_body"),
        ("POST", "/v1/batch", "{\"batch\":[]}", 400, "malformed_body"),
        ("POST", "/v1/batch", "{\"batch\":{}}", 400, "malformed_body"),
        ("POST", "/v1/batch", "{\"batch\":[", 400, "malformed_body"),
        ("GET", "/v1/batch", "", 405, "method_not_allowed"),
        ("POST", "/v2/batch", "{}", 404, "not_found"),
    ];
    for (m, p, body, status, code) in cases {
        let r = reply(run(m, p, &auth, body));
        assert_eq!(r.status, *status, "{m} {p} {body}");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["code"], *code, "{m} {p} {body}");
    }
    let big = format!("{{\"batch\":[{{\"x\":\"{}\"}}]}}", "a".repeat(600_000));
    assert_eq!(reply(run("POST", "/v1/batch", &auth, &big)).status, 413);
}

#[test]
fn cors_on_preflight_and_posts() {
    let ok = headers(&[("origin", "https://app.example"), AUTH]);
    let r = reply(run("OPTIONS", "/v1/batch", &ok, ""));
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let bad = headers(&[("origin", "https://evil.example"), AUTH]);
    assert_eq!(reply(run("OPTIONS", "/v1/batch", &bad, "")).status, 403);
    let r = reply(run(
        "POST",
        "/v1/track",
        &bad,
        r#"{"event":"A","userId":"u"}"#,
    ));
    assert_eq!(r.status, 403);
    assert_eq!(r.header("access-control-allow-origin"), None);
    // an allowed origin's error responses still carry CORS headers, so the SDK can read them
    let r = reply(run(
        "POST",
        "/v1/track",
        &headers(&[("origin", "https://app.example")]),
        "{}",
    ));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
}

#[test]
fn backend_outcomes_map_to_statuses() {
    let h = headers(&[AUTH]);
    let body = r#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    let outcomes: Vec<(CallOutcome, u16)> = vec![
        (Err("connection refused".into()), 503),
        (answer((502, b"bad gateway".to_vec())), 503),
        (answer((401, br#"{"error":"Unauthorized"}"#.to_vec())), 503),
        (
            answer((200, br#"{"result":[["limited",2500]]}"#.to_vec())),
            429,
        ),
        (
            answer((200, br#"{"result":[["duplicate","1-0"]]}"#.to_vec())),
            200,
        ),
    ];
    for (outcome, status) in outcomes {
        let (_, pending) = call_args(run("POST", "/v1/batch", &h, body));
        let Finished { reply: r, log, .. } = finish(&cfg(&[]), pending, outcome);
        assert_eq!(r.status, status, "{}", r.body);
        match status {
            503 => assert!(r.header("retry-after").is_some() && log.detail.is_some()),
            429 => assert_eq!(r.header("retry-after"), Some("3")),
            _ => assert!(r.body.contains("\"duplicate\":true")),
        }
    }
}

#[test]
fn retry_marker_is_the_same_for_the_same_message_ids() {
    let h = headers(&[AUTH]);
    let a = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"}],"sentAt":"2023-11-14T22:13:20.000Z"}"#;
    let b = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"}],"sentAt":"2023-11-14T22:13:29.000Z"}"#;
    let c = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m2"}]}"#;
    let m = |body| {
        call_args(run("POST", "/v1/batch", &h, body))
            .0
            .marker()
            .to_string()
    };
    assert_eq!(m(a), m(b));
    assert_ne!(m(a), m(c));
    // no messageId: no retry detection (no marker)
    let d = r#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    let ttl = |body| {
        call_args(run("POST", "/v1/batch", &h, body))
            .0
            .marker_score()
    };
    assert_eq!(ttl(d), 0);
    let expiry_us = ttl(a) - 1_700_000_000_000 * 1000;
    assert!(
        (900_000_000..900_001_000).contains(&expiry_us),
        "scored by its expiry, a dedupe window after arrival, in µs: {expiry_us}"
    );
}

#[test]
fn gzip_bodies_are_accepted() {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(br#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#)
        .unwrap();
    let z = e.finish().unwrap();
    let h = headers(&[AUTH, ("content-encoding", "gzip")]);
    let req = Incoming {
        method: "POST",
        path: "/v1/batch",
        headers: &h,
        body: &z,
        peer_ip: None,
        geo: None,
        now_ms: 0,
    };
    let (args, _) = call_args(plan(
        &cfg(&[]),
        &req,
        &mut Counter(0),
        &mut crate::metrics::Metrics::default(),
    ));
    assert_eq!(args.accepted(), "1");
}

proptest::proptest! {
    #[test]
    fn any_body_gives_a_plan_never_a_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
        let h = headers(&[AUTH]);
        let req = Incoming { method: "POST", path: "/v1/batch", headers: &h, body: &body, peer_ip: None, geo: None, now_ms: 0 };
        let _ = plan(&cfg(&[]), &req, &mut Counter(0), &mut crate::metrics::Metrics::default());
    }

    #[test]
    fn any_json_event_gives_a_plan(ev in "\\{(\"(type|event|userId|anonymousId|timestamp|context|properties)\":(\"[a-z0-9:-]{0,12}\"|[0-9]{1,3}|null|\\{\\}|\\[\\]),?){0,6}\\}") {
        let h = headers(&[AUTH]);
        let body = format!("{{\"batch\":[{ev}]}}");
        let req = Incoming { method: "POST", path: "/v1/batch", headers: &h, body: body.as_bytes(), peer_ip: None, geo: None, now_ms: 0 };
        let _ = plan(&cfg(&[]), &req, &mut Counter(0), &mut crate::metrics::Metrics::default());
    }
}

#[test]
fn direct_sink_inserts_rows_into_clickhouse_and_acks_on_success() {
    let c = cfg(&[
        ("SINK", "clickhouse"),
        ("CLICKHOUSE_URL", "http://127.0.0.1:8123"),
        ("REDIS_URL", ""),
    ]);
    let h = headers(&[AUTH]);
    let body = r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"},{"type":"track","userId":"u"}]}"#;
    let req = Incoming {
        method: "POST",
        path: "/v1/batch",
        headers: &h,
        body: body.as_bytes(),
        peer_ip: None,
        geo: None,
        now_ms: 1_700_000_000_000,
    };
    let Plan::Call {
        call: Call::ClickHouse(insert),
        pending,
    } = plan(
        &c,
        &req,
        &mut Counter(0),
        &mut crate::metrics::Metrics::default(),
    )
    else {
        panic!("expected an insert")
    };
    assert!(
        insert.url.contains("async_insert=1") && insert.url.contains("wait_for_async_insert=1")
    );
    let row: Value = serde_json::from_str(insert.body.lines().next().unwrap()).unwrap();
    assert_eq!(row["message_id"], "m1");
    assert_eq!(insert.body.lines().count(), 1);
    let Finished { reply, .. } = finish(&c, pending, answer((200, Vec::new())));
    assert_eq!(reply.status, 200);
    let v: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["rejected"][0]["field"], "event");
    let Plan::Call { pending, .. } = plan(
        &c,
        &req,
        &mut Counter(0),
        &mut crate::metrics::Metrics::default(),
    ) else {
        panic!()
    };
    assert_eq!(
        finish(&c, pending, answer((500, b"Code: 241".to_vec())))
            .reply
            .status,
        503
    );
}

#[test]
fn settings_point_analytics_js_at_this_collector() {
    let h = headers(&[
        ("host", "127.0.0.1:8787"),
        ("origin", "https://app.example"),
    ]);
    let r = reply(run("GET", "/v1/projects/wk_test/settings", &h, ""));
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        v["integrations"]["Segment.io"]["apiHost"],
        "127.0.0.1:8787/v1"
    );
    assert_eq!(v["integrations"]["Segment.io"]["protocol"], "http");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    let h = headers(&[("host", "ingest.example.com")]);
    let v: Value =
        serde_json::from_str(&reply(run("GET", "/v1/projects/wk_test/settings", &h, "")).body)
            .unwrap();
    assert_eq!(v["integrations"]["Segment.io"]["protocol"], "https");
    assert_eq!(
        reply(run("GET", "/v1/projects/nope/settings", &h, "")).status,
        401
    );
    assert_eq!(
        reply(run("POST", "/v1/projects/wk_test/settings", &h, "")).status,
        405
    );
    assert_eq!(settings_key("/v1/projects/a/b/settings"), None);
}

#[test]
fn signed_keys_must_sign() {
    let c = cfg(&[("SIGNING_SECRETS", "wk_test=s3cret")]);
    let body = r#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    let now_ms = 1_700_000_000_000i64;
    let sig = crate::auth::sign("s3cret", now_ms / 1000, body.as_bytes());
    let ts = (now_ms / 1000).to_string();
    let run_with = |extra: &[(&'static str, &str)]| {
        let mut pairs = vec![AUTH];
        pairs.extend_from_slice(extra);
        let h = headers(&pairs);
        let req = Incoming {
            method: "POST",
            path: "/v1/batch",
            headers: &h,
            body: body.as_bytes(),
            peer_ip: None,
            geo: None,
            now_ms,
        };
        plan(
            &c,
            &req,
            &mut Counter(0),
            &mut crate::metrics::Metrics::default(),
        )
    };
    assert!(matches!(
        run_with(&[("x-signature", &sig), ("x-signature-timestamp", &ts)]),
        Plan::Call { .. }
    ));
    let Plan::Respond(r, _) = run_with(&[]) else {
        panic!("unsigned request accepted")
    };
    assert_eq!(r.status, 401);
    assert!(r.body.contains("invalid_signature"));
    let Plan::Respond(r, _) =
        run_with(&[("x-signature", "sha256=00"), ("x-signature-timestamp", &ts)])
    else {
        panic!()
    };
    assert_eq!(r.status, 401);
}

fn settings_with(env: &[(&str, &str)], h: &http::HeaderMap) -> Reply {
    let req = Incoming {
        method: "GET",
        path: "/v1/projects/wk_test/settings",
        headers: h,
        body: b"",
        peer_ip: None,
        geo: None,
        now_ms: 1_700_000_000_000,
    };
    reply(plan(
        &cfg(env),
        &req,
        &mut Counter(0),
        &mut crate::metrics::Metrics::default(),
    ))
}

fn segment_io(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    let s = &v["integrations"]["Segment.io"];
    (
        s["apiHost"].as_str().unwrap().to_string(),
        s["protocol"].as_str().unwrap().to_string(),
    )
}

#[test]
fn settings_ignore_request_headers_when_public_api_host_is_set() {
    let forged = headers(&[("host", "evil.example"), ("x-forwarded-proto", "http")]);
    let public = [("PUBLIC_API_HOST", "ingest.example.com/v1")];
    assert_eq!(
        segment_io(&settings_with(&public, &forged)),
        ("ingest.example.com/v1".into(), "https".into())
    );
    let mut no_host = http::HeaderMap::new();
    no_host.insert("x-forwarded-proto", "ftp".parse().unwrap());
    assert_eq!(
        segment_io(&settings_with(&public, &no_host)),
        ("ingest.example.com/v1".into(), "https".into())
    );
    let local = [("PUBLIC_API_HOST", "127.0.0.1:8787/v1")];
    assert_eq!(
        segment_io(&settings_with(&local, &forged)),
        ("127.0.0.1:8787/v1".into(), "http".into())
    );
}

#[test]
fn settings_refuse_a_missing_or_invalid_host_header_with_400() {
    let long = format!("{}.example", "a".repeat(250));
    for host in [
        "evil.example/x",
        "evil.example/\"><script>",
        "user@evil.example",
        "evil.example?x=1",
        "evil.example#x",
        "evil.example:abc",
        "evil.example:",
        "evil.example:99999",
        "evil.example:0",
        "evil.example:80:80",
        "evil .example",
        "evil..example",
        "evil.example.",
        "[::1",
        "[::1]x",
        "::1",
        "1.2.3",
        "",
        long.as_str(),
    ] {
        let r = settings_with(&[], &headers(&[("host", host)]));
        assert_eq!(r.status, 400, "{host:?}: {}", r.body);
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["code"], "invalid_host", "{host:?}");
        assert!(
            v["message"].as_str().unwrap().contains("Host header"),
            "{host:?}: {}",
            v["message"]
        );
        assert_eq!(r.header("cache-control"), None, "{host:?}");
    }
    let r = settings_with(&[], &http::HeaderMap::new());
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Host header is missing"), "{}", r.body);
    let mut h = http::HeaderMap::new();
    h.insert(
        "host",
        http::HeaderValue::from_bytes(b"\xe9vil.example").unwrap(),
    );
    assert_eq!(settings_with(&[], &h).status, 400);
}

#[test]
fn settings_protocol_is_https_unless_the_host_is_loopback() {
    for (host, forwarded, want_host, want_proto) in [
        ("ingest.example.com", None, "ingest.example.com/v1", "https"),
        (
            "ingest.example.com",
            Some("http"),
            "ingest.example.com/v1",
            "https",
        ),
        (
            "ingest.example.com",
            Some("gopher"),
            "ingest.example.com/v1",
            "https",
        ),
        (
            "Ingest.Example.COM:8443",
            None,
            "ingest.example.com:8443/v1",
            "https",
        ),
        (
            "localhost.evil.example",
            None,
            "localhost.evil.example/v1",
            "https",
        ),
        ("127.evil.example", None, "127.evil.example/v1", "https"),
        ("[::2]:8787", None, "[::2]:8787/v1", "https"),
        ("10.0.0.1:8787", None, "10.0.0.1:8787/v1", "https"),
        ("127.0.0.1:8787", None, "127.0.0.1:8787/v1", "http"),
        ("127.9.9.9", None, "127.9.9.9/v1", "http"),
        ("localhost:8787", None, "localhost:8787/v1", "http"),
        ("[::1]:8787", None, "[::1]:8787/v1", "http"),
        ("[0:0:0:0:0:0:0:1]", None, "[::1]/v1", "http"),
        (
            "127.0.0.1:8787",
            Some("https"),
            "127.0.0.1:8787/v1",
            "https",
        ),
        (
            "127.0.0.1:8787",
            Some("javascript"),
            "127.0.0.1:8787/v1",
            "http",
        ),
    ] {
        let mut pairs = vec![("host", host)];
        if let Some(p) = forwarded {
            pairs.push(("x-forwarded-proto", p));
        }
        assert_eq!(
            segment_io(&settings_with(&[], &headers(&pairs))),
            (want_host.to_string(), want_proto.to_string()),
            "{host} {forwarded:?}"
        );
    }
}

#[test]
fn settings_reply_varies_on_host_forwarded_proto_and_origin() {
    let h = headers(&[
        ("host", "ingest.example.com"),
        ("origin", "https://app.example"),
    ]);
    let r = settings_with(&[], &h);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    assert_eq!(r.header("vary"), Some("Host, X-Forwarded-Proto, Origin"));
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-credentials"), None);
}

#[test]
fn with_shards_a_request_goes_to_its_messageids_shard_and_keeps_rate_limit_and_nonce_global() {
    let h = headers(&[AUTH]);
    let plan = |cfg: &Config, body: &str| {
        let req = Incoming {
            method: "POST",
            path: "/v1/batch",
            headers: &h,
            body: body.as_bytes(),
            peer_ip: Some("127.0.0.1".parse().unwrap()),
            geo: None,
            now_ms: 1_700_000_000_000,
        };
        call_args(plan(
            cfg,
            &req,
            &mut Counter(0),
            &mut crate::metrics::Metrics::default(),
        ))
    };
    let sharded = cfg(&[("STREAM_SHARDS", "4"), ("REDIS_STREAM_KEY", "ev")]);
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..64 {
        let body = format!(
            r#"{{"batch":[{{"type":"track","event":"A","userId":"u","messageId":"m{i}"}}]}}"#
        );
        let (v, pending) = plan(&sharded, &body);
        let stream = v.key(1).to_string();
        // every group key is the shard's; the client's and the signature's are the base's
        assert_eq!(
            [v.key(2), v.key(3), v.key(4), v.key(5), v.key(6)],
            [
                format!("{stream}:invalid"),
                format!("{stream}:seen"),
                format!("{stream}:drain:lock"),
                format!("{stream}:drain:wanted"),
                format!("{stream}:metrics"),
            ]
        );
        assert!(
            v.first().rate_limit().starts_with("ev:rl:"),
            "{}",
            v.first().rate_limit()
        );
        // unsigned: no key every call shares (Upstash would serialize all shards on it)
        assert_eq!(v.first().nonce(), v.first().rate_limit());
        assert_eq!(pending.stream.as_deref(), Some(stream.as_str()));
        // the same messageIds (a retry, sent at another time) land on the same shard
        let (again, _) = plan(
            &sharded,
            &body.replace("}]}", "}],\"sentAt\":\"2023-11-14T22:13:29Z\"}"),
        );
        assert_eq!(again.key(1), stream);
        assert_eq!(again.marker(), v.marker());
        seen.insert(stream);
    }
    let all: std::collections::BTreeSet<String> =
        ["ev", "ev:1", "ev:2", "ev:3"].map(String::from).into();
    assert_eq!(seen, all, "64 requests reach every one of 4 shards");
    // one shard (the default): the stream itself, as before shards existed
    let (v, _) = plan(
        &cfg(&[("REDIS_STREAM_KEY", "ev")]),
        r#"{"batch":[{"type":"track","event":"A","userId":"u","messageId":"m1"}]}"#,
    );
    assert_eq!((v.key(1), v.key(3)), ("ev", "ev:seen"));
}
