use super::*;

fn client(max_queue: usize) -> Client {
    Client::builder("k", "http://127.0.0.1:9")
        .flush_at(1000)
        .max_queue(max_queue)
        .build()
        .unwrap()
}

#[test]
fn batches_stay_within_the_collectors_event_limit() {
    let b = Client::builder("k", "http://127.0.0.1:9").flush_at(1_000_000);
    assert_eq!(b.s.flush_at, MAX_BATCH_EVENTS);
    assert_eq!(
        Client::builder("k", "http://127.0.0.1:9")
            .flush_at(0)
            .s
            .flush_at,
        1
    );
}

#[tokio::test]
async fn enqueue_fills_ids_and_context_and_checks_identity() {
    let c = client(10);
    assert!(matches!(
        c.enqueue(Event::track("A")),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        c.enqueue(Event::alias("old").anonymous_id("a")),
        Err(Error::Invalid(_))
    ));
    c.enqueue(Event::track("A").user_id("u").property("n", 1))
        .unwrap();
    let q = c.inner.queue.lock().unwrap();
    let v: serde_json::Value = serde_json::from_str(&q[0]).unwrap();
    assert_eq!(v["messageId"].as_str().unwrap().len(), 36);
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["context"]["library"]["name"], "ingest-sdk-rust");
    assert_eq!(v["properties"]["n"], 1);
}

#[tokio::test]
async fn full_queue_drops_oldest_and_counts() {
    let c = client(3);
    for i in 0..5 {
        c.enqueue(Event::track(&format!("e{i}")).user_id("u"))
            .unwrap();
    }
    assert_eq!((c.queued(), c.dropped()), (3, 2));
    let first: serde_json::Value = serde_json::from_str(&c.inner.queue.lock().unwrap()[0]).unwrap();
    assert_eq!(first["event"], "e2");
}

#[tokio::test]
async fn batches_respect_count_and_size_caps() {
    let c = Client::builder("k", "http://127.0.0.1:9")
        .flush_at(50)
        .build()
        .unwrap();
    let pad = "x".repeat(30_000);
    for _ in 0..40 {
        c.enqueue(
            Event::track("big")
                .user_id("u")
                .property("pad", pad.as_str()),
        )
        .unwrap();
    }
    let b = next_batch(&c.inner);
    assert!(
        b.len() < 40 && body_of(&b).len() <= MAX_BATCH_BYTES,
        "{}",
        b.len()
    );
}

#[test]
fn caps_are_the_collectors() {
    assert_eq!(MAX_BATCH_BYTES, 512_000);
    assert_eq!(MAX_BATCH_EVENTS, 5_000);
    assert_eq!(MAX_EVENT_BYTES, 32 * 1024);
}

#[test]
fn ids_and_timestamps_have_the_collectors_shapes() {
    let id = uuid_v4();
    assert_eq!((id.len(), id.as_bytes()[14]), (36, b'4'));
    assert_ne!(uuid_v4(), id);
    assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(format_ms(i64::MAX), "1970-01-01T00:00:00.000Z");
}

#[test]
fn endpoints_must_be_http_urls() {
    for bad in ["ftp://h", "h.example", "http://", "https://exa mple.com"] {
        assert!(
            matches!(Client::builder("k", bad).build(), Err(Error::Config(_))),
            "{bad}"
        );
    }
}

#[test]
fn backoff_grows_with_jitter_and_is_capped() {
    assert!(
        backoff(0, 0) >= Duration::from_millis(50)
            && backoff(0, u64::MAX) <= Duration::from_millis(100)
    );
    assert!(backoff(3, 7) >= Duration::from_millis(400));
    assert!(backoff(30, u64::MAX) <= Duration::from_secs(10));
}

#[test]
fn signature_matches_the_collectors() {
    // The vector ingest-core's auth tests verify (computed independently).
    let body = br#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    assert_eq!(
        sign_v2("s3cret", "POST", "/v1/batch", 1_700_000_000, body),
        "v2=f7de2734ce63ed949ba84a0afe416561f7a44518fac5bce85f6298362974bdae"
    );
    assert_ne!(sign("s", 1, b"{}"), sign("s", 2, b"{}"));
    assert!(sign("s", 1, b"{}").starts_with("sha256="));
    assert_eq!(
        url_path("https://h.example:8443/base/v1/batch?x=1"),
        "/base/v1/batch"
    );
    assert_eq!(url_path("http://127.0.0.1:8787/v1/batch"), "/v1/batch");
    assert_eq!(url_path("http://h"), "/");
}

#[tokio::test]
async fn unreachable_collector_keeps_events_queued() {
    let c = Client::builder("k", "http://127.0.0.1:9")
        .max_retries(1)
        .build()
        .unwrap();
    c.track("u", "A").unwrap();
    assert!(matches!(c.flush().await, Err(Error::Unavailable(_))));
    assert_eq!(c.queued(), 1);
}
