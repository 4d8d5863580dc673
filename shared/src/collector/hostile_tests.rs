//! Requests an attacker would send (the write key is public): each is refused precisely
//! or accepted within the work budget, and nothing a request writes or answers grows
//! with anything but its own bytes.

use super::tests::{AUTH, Counter, answer, call_args, cfg, headers, reply, run};
use super::*;
use flate2::{Compression, write::GzEncoder};
use serde_json::{Value, json};
use std::io::Write as _;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn plan_bytes(c: &Config, h: &http::HeaderMap, path: &str, body: &[u8]) -> Plan {
    let req = Incoming {
        method: "POST",
        path,
        headers: h,
        body,
        peer_ip: Some("127.0.0.1".parse().unwrap()),
        geo: None,
        now_ms: 1_700_000_000_000,
    };
    plan(
        c,
        &req,
        &mut Counter(0),
        &mut crate::metrics::Metrics::default(),
    )
}

fn tiny_events(n: usize) -> String {
    let ev = r#"{"type":"track","event":"e","userId":"u"}"#;
    vec![ev; n].join(",")
}

#[test]
fn batch_context_copied_into_many_events_is_refused_before_anything_is_written() {
    // ~30 KB of context (under the event limit) and 3,000 tiny events: today's collector
    // built a 90 MB command from a gzip body of a few KB.
    let ctx = json!({ "pad": "x".repeat(30_000) });
    let body = format!(r#"{{"context":{ctx},"batch":[{}]}}"#, tiny_events(3000));
    let z = gzip(body.as_bytes());
    assert!(z.len() < 2_000, "gzip body is {} bytes", z.len());
    let h = headers(&[AUTH, ("content-encoding", "gzip")]);
    let r = reply(plan_bytes(&cfg(&[]), &h, "/v1/batch", &z));
    assert_eq!(r.status, 413, "{}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "batch_too_large");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("batch-level context")
    );
}

#[test]
fn batch_context_over_the_event_limit_is_refused_naming_the_field() {
    let ctx = json!({ "pad": "x".repeat(40_000) });
    let body = format!(r#"{{"context":{ctx},"batch":[{}]}}"#, tiny_events(1));
    let r = reply(run("POST", "/v1/batch", &headers(&[AUTH]), &body));
    assert_eq!(r.status, 413);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert!(v["message"].as_str().unwrap().starts_with("context:"));
}

#[test]
fn a_normal_batch_context_is_still_merged_into_each_event() {
    let body = format!(
        r#"{{"context":{{"app":{{"name":"shop"}}}},"batch":[{}]}}"#,
        tiny_events(100)
    );
    let (args, _) = call_args(run("POST", "/v1/batch", &headers(&[AUTH]), &body));
    let events: Value = serde_json::from_str(args.events()).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 100);
    assert_eq!(events[99]["context"]["app"]["name"], "shop");
}

#[test]
fn thousands_of_invalid_events_give_a_bounded_command_and_reply() {
    // One valid event in front of 4,000 invalid ones: accepted, rejects listed up to the
    // cap with the full count, and the command stays within the work budget.
    let body = format!(
        r#"{{"batch":[{}{}1]}}"#,
        tiny_events(1) + ",",
        "1,".repeat(3999)
    );
    let (args, pending) = call_args(run("POST", "/v1/batch", &headers(&[AUTH]), &body));
    let command_len: usize = args.args.iter().map(String::len).sum();
    assert!(
        command_len <= work_budget(body.len()) + 8 * 1024,
        "command {command_len} bytes for a {}-byte body",
        body.len()
    );
    let dead: Value = serde_json::from_str(args.rejects()).unwrap();
    assert_eq!(
        dead.as_array().unwrap().len(),
        crate::validate::MAX_LISTED_REJECTS
    );
    assert_eq!(args.rejected(), "4000");
    let r = finish(
        &cfg(&[]),
        pending,
        answer((200, br#"{"result":[["ok","1-0",0]]}"#.to_vec())),
    )
    .reply;
    assert_eq!(r.status, 200);
    assert!(r.body.len() < 16 * 1024, "reply is {} bytes", r.body.len());
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["accepted"], 1);
    assert_eq!(v["rejected"].as_array().unwrap().len(), 100);
    assert_eq!(v["rejected_count"], 4000);
}

#[test]
fn more_events_than_the_per_request_limit_are_refused_with_the_count() {
    let body = format!(r#"{{"batch":[{}1]}}"#, "1,".repeat(MAX_BATCH_EVENTS + 5));
    let r = reply(run("POST", "/v1/batch", &headers(&[AUTH]), &body));
    assert_eq!(r.status, 413);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "batch_too_large");
    assert!(v["message"].as_str().unwrap().contains("5006 events"));
}

#[test]
fn tiny_valid_events_cannot_grow_past_the_budget() {
    // 4,000 minimal events with a browser user agent: each gains ~600 bytes at the edge.
    let ua = "Mozilla/5.0 ".repeat(200);
    let h = headers(&[
        AUTH,
        ("origin", "https://app.example"),
        ("user-agent", ua.as_str()),
    ]);
    let body = format!(r#"{{"batch":[{}]}}"#, tiny_events(4000));
    match run("POST", "/v1/batch", &h, &body) {
        Plan::Respond(r, _) => assert_eq!(r.status, 413),
        Plan::Call { call, .. } => {
            let Call::Redis(c) = call else { panic!() };
            assert!(c.call().body.len() <= work_budget(body.len()));
        }
    }
}

#[test]
fn user_agent_is_cut_and_context_ip_is_written_once() {
    let ua = "A".repeat(5000);
    let h = headers(&[
        AUTH,
        ("origin", "https://app.example"),
        ("user-agent", ua.as_str()),
    ]);
    let body =
        r#"{"batch":[{"type":"track","event":"e","userId":"u","context":{"ip":"not-an-ip"}}]}"#;
    let (args, _) = call_args(run("POST", "/v1/batch", &h, body));
    assert_eq!(
        args.events().matches("\"ip\":").count(),
        1,
        "{}",
        args.events()
    );
    let events: Value = serde_json::from_str(args.events()).unwrap();
    assert_eq!(events[0]["context"]["ip"], "127.0.0.1");
    assert_eq!(
        events[0]["context"]["userAgent"].as_str().unwrap().len(),
        crate::enrich::MAX_USER_AGENT
    );
}

#[test]
fn declared_content_length_over_the_cap_is_refused_without_the_body() {
    let h = headers(&[AUTH, ("content-length", "99999999")]);
    let r = reply(run("POST", "/v1/batch", &h, ""));
    assert_eq!(r.status, 413);
}

#[test]
fn unstorable_timestamps_are_rejected_per_event_or_fall_back_to_arrival() {
    let body = r#"{"sentAt":"9999-01-01T00:00:00Z","batch":[
        {"type":"track","event":"e","userId":"u","timestamp":"0000-01-01T00:00:00+01:00"},
        {"type":"track","event":"e","userId":"u","timestamp":"9999-12-31T23:59:59+05:00"},
        {"type":"track","event":"e","userId":"u","timestamp":"2023-11-14T22:13:20Z","sentAt":"2250-01-01T00:00:00Z"},
        {"type":"track","event":"e","userId":"u","timestamp":"2023-11-14T22:13:20Z"}]}"#;
    let (args, _) = call_args(run("POST", "/v1/batch", &headers(&[AUTH]), body));
    let dead: Value = serde_json::from_str(args.rejects()).unwrap();
    assert_eq!(dead[0]["index"], 0);
    assert_eq!(dead[0]["field"], "timestamp");
    assert_eq!(dead[1]["index"], 1);
    let events: Value = serde_json::from_str(args.events()).unwrap();
    // skew correction against a sentAt 227 years ahead leaves the range: arrival time
    assert_eq!(events[0]["timestamp"], "2023-11-14T22:13:20.000Z");
    // the batch sentAt (year 9999) is ignored, the client timestamp kept
    assert_eq!(events[1]["timestamp"], "2023-11-14T22:13:20.000Z");
    for e in events.as_array().unwrap() {
        let row = crate::clickhouse::row(&e.to_string(), "k", "1-0");
        assert!(row.is_ok(), "{e}");
    }
}

#[test]
fn direct_sink_answers_for_the_good_events_next_to_a_bad_one() {
    let c = cfg(&[
        ("SINK", "clickhouse"),
        ("CLICKHOUSE_URL", "http://127.0.0.1:8123"),
        ("REDIS_URL", ""),
    ]);
    let body = br#"{"batch":[{"type":"track","event":"e","userId":"u","messageId":"good"},
        {"type":"track","event":"e","userId":"u","messageId":"bad","timestamp":"0000-01-01T00:00:00+01:00"}]}"#;
    let Plan::Call {
        call: Call::ClickHouse(insert),
        pending,
    } = plan_bytes(&c, &headers(&[AUTH]), "/v1/batch", body)
    else {
        panic!("expected an insert")
    };
    assert_eq!(insert.body.lines().count(), 1);
    let r = finish(&c, pending, answer((200, Vec::new()))).reply;
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!((r.status, v["accepted"].clone()), (200, json!(1)));
    assert_eq!(v["rejected"][0]["index"], 1);
}

#[test]
fn retry_markers_frame_each_message_id() {
    let marker = |ids: &[&str]| {
        let evs: Vec<Value> = ids
            .iter()
            .map(|m| json!({"type":"track","event":"e","userId":"u","messageId":m}))
            .collect();
        let body = json!({ "batch": evs }).to_string();
        call_args(run("POST", "/v1/batch", &headers(&[AUTH]), &body))
            .0
            .marker()
            .to_string()
    };
    assert_ne!(marker(&["a\nb"]), marker(&["a", "b"]));
    assert_ne!(marker(&["ab"]), marker(&["a", "b"]));
    assert_eq!(marker(&["a", "b"]), marker(&["a", "b"]));
}

#[test]
fn top_level_arrays_and_duplicate_members_are_malformed() {
    for body in [
        r#"["wk_test",[{"type":"track"}]]"#,
        r#"{"batch":[],"batch":[1]}"#,
    ] {
        let r = reply(run("POST", "/v1/batch", &headers(&[AUTH]), body));
        assert_eq!(r.status, 400, "{body}");
    }
}

#[test]
fn a_v2_signature_is_single_use_and_covers_the_path() {
    let c = cfg(&[("SIGNING_SECRETS", "wk_test=s3cret")]);
    let body = br#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    let now_s = 1_700_000_000i64;
    let ts = now_s.to_string();
    let signed = |path: &'static str, sig_path: &str| {
        let sig = crate::auth::sign_v2("s3cret", "POST", sig_path, now_s, body);
        let h = headers(&[AUTH, ("x-signature", &sig), ("x-signature-timestamp", &ts)]);
        plan_bytes(&c, &h, path, body)
    };
    // signed for /v1/track, sent to /v1/batch: refused
    assert_eq!(reply(signed("/v1/batch", "/v1/track")).status, 401);
    // the ingest script gets the nonce key and its TTL
    let (args, pending) = call_args(signed("/v1/batch", "/v1/batch"));
    assert!(
        args.nonce().starts_with("analytics_events:sig:"),
        "{}",
        args.nonce()
    );
    assert_eq!(args.nonce_ttl_ms(), 600_000);
    let r = finish(
        &c,
        pending,
        answer((200, br#"{"result":[["replayed",0]]}"#.to_vec())),
    )
    .reply;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("already used"), "{}", r.body);
    // unsigned keys carry no nonce
    let (args, _) = call_args(run(
        "POST",
        "/v1/batch",
        &headers(&[AUTH]),
        std::str::from_utf8(body).unwrap(),
    ));
    assert_eq!(args.nonce_ttl_ms(), 0);
}

// ---------------------------------------------------------------------------------------
// Hostile review (review/hostile): each test below failed on the code it reviewed; all
// pass since the fixes; docs/reviews/2026-11-27-hostile-input.md has the details.
// ---------------------------------------------------------------------------------------

#[test]
fn finding_1_a_v2_signature_has_one_nonce_whatever_its_hex_spelling() {
    let c = cfg(&[("SIGNING_SECRETS", "wk_test=s3cret")]);
    let body = br#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    let now_s = 1_700_000_000i64; // plan_bytes' clock
    let ts = now_s.to_string();
    let sig = crate::auth::sign_v2("s3cret", "POST", "/v1/batch", now_s, body);
    let hex_part = sig.strip_prefix("v2=").unwrap();
    // The same MAC, spelled differently: every spelling verifies.
    let upper = format!("v2={}", hex_part.to_ascii_uppercase());
    let mut plus = String::from("v2=");
    for pair in hex_part.as_bytes().chunks(2) {
        // u8::from_str_radix accepts a leading '+': "0x" can be written "+x".
        if pair[0] == b'0' {
            plus.push('+');
        } else {
            plus.push(pair[0] as char);
        }
        plus.push(pair[1] as char);
    }
    let nonce_of = |s: &str| {
        let h = headers(&[AUTH, ("x-signature", s), ("x-signature-timestamp", &ts)]);
        let (args, _) = call_args(plan_bytes(&c, &h, "/v1/batch", body));
        args.nonce().to_string() // the single-use nonce
    };
    let original = nonce_of(&sig);
    assert_eq!(
        nonce_of(&upper),
        original,
        "upper-case hex is accepted under a fresh nonce: the captured request replays"
    );
    if plus != sig {
        // not hex at all: refused, so it cannot take a fresh nonce either
        let h = headers(&[AUTH, ("x-signature", &plus), ("x-signature-timestamp", &ts)]);
        assert_eq!(reply(plan_bytes(&c, &h, "/v1/batch", body)).status, 401);
    }
}

#[test]
fn finding_3_whitespace_in_a_batch_context_is_counted_as_sent() {
    // A batch context of 32,000 newlines (inside an array, so it is copied byte for byte)
    // merged into 5 tiny events: counted ~161 KB, sent ~321 KB.
    let ctx = format!(r#"{{"a":[{}1]}}"#, "\n".repeat(32_000));
    let body = format!(r#"{{"context":{ctx},"batch":[{}]}}"#, tiny_events(5));
    let c = match run("POST", "/v1/batch", &headers(&[AUTH]), &body) {
        Plan::Call {
            call: Call::Redis(c),
            ..
        } => c,
        // counted as sent, it is over the budget: refused before anything is written
        Plan::Respond(r, _) => return assert_eq!(r.status, 413, "{}", r.body),
        Plan::Call { .. } => panic!("expected the Redis call"),
    };
    assert!(
        c.call().body.len() <= work_budget(body.len()),
        "command {} bytes, budget {} for a {}-byte body",
        c.call().body.len(),
        work_budget(body.len()),
        body.len()
    );
}

#[test]
fn finding_4_a_duplicate_key_batch_context_costs_no_more_than_its_bytes() {
    // Same body size, same events; one body has a batch context of ~5,000 members all
    // named "a" (30 KB, within the event limit), the other carries the 30 KB in an
    // ignored member. The output differs by one `"a":0` per event; the CPU should not.
    let ev = r#"{"type":"track","event":"e","userId":"u","properties":{"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}"#;
    let events = vec![ev; 4_000].join(",");
    let dup_ctx = format!("{{{}\"a\":0}}", "\"a\":0,".repeat(4_999));
    let hostile = format!(r#"{{"context":{dup_ctx},"batch":[{events}]}}"#);
    let pad = "x".repeat(dup_ctx.len() - 8);
    let plain = format!(r#"{{"pad":"{pad}","batch":[{events}]}}"#);
    assert!(hostile.len() <= 512_000 && plain.len().abs_diff(hostile.len()) < 64);
    let time = |body: &str| {
        let mut best = std::time::Duration::MAX;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let p = run("POST", "/v1/batch", &headers(&[AUTH]), body);
            let el = t.elapsed();
            assert!(matches!(p, Plan::Call { .. }), "both bodies are accepted");
            best = best.min(el);
        }
        best
    };
    let (t_plain, t_hostile) = (time(&plain), time(&hostile));
    assert!(
        t_hostile < t_plain * 4,
        "plain {t_plain:?}, duplicate-key batch context {t_hostile:?} for {} bytes",
        hostile.len()
    );
}
