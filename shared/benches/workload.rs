//! The collector workload shared by the criterion bench and the callgrind example: a
//! Segment batch shaped like analytics.js output, the configuration, a deterministic
//! random source, and one planning pass.

#![allow(clippy::unwrap_used, clippy::panic)]

use ingest_core::Config;
use ingest_core::collector::{Call, Incoming, Plan, Random, plan};

/// Deterministic randomness, so runs are comparable.
pub struct Counter(pub u64);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (self.0 >> 56) as u8;
        }
    }
}

/// The configuration the workload runs under (redis sink, one write key).
pub fn config() -> Config {
    Config::from_lookup(|k| match k {
        "ALLOWED_WRITE_KEYS" => Some("bench_key".into()),
        "REDIS_URL" => Some("http://127.0.0.1:1".into()),
        "REDIS_TOKEN" => Some("t".into()),
        _ => None,
    })
    .unwrap()
}

/// Plan one request for `body`; returns the size of the Upstash call it produced.
pub fn plan_batch(cfg: &Config, headers: &http::HeaderMap, body: &str, rng: &mut Counter) -> usize {
    let req = Incoming {
        method: "POST",
        path: "/v1/batch",
        headers,
        body: body.as_bytes(),
        peer_ip: Some("203.0.113.9".parse().unwrap()),
        geo: None,
        now_ms: 1_795_000_000_000,
    };
    match plan(
        cfg,
        &req,
        rng,
        &mut ingest_core::metrics::Metrics::default(),
    ) {
        Plan::Call {
            call: Call::Redis(call),
            ..
        } => call.call().body.len(),
        Plan::Call { .. } => panic!("expected the redis sink"),
        Plan::Respond(r, _) => panic!("{}", r.body),
    }
}

/// An n-event batch shaped like analytics.js output.
pub fn batch(n: usize) -> String {
    let events: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"type":"track","event":"Product Viewed","userId":"user-{i}","anonymousId":"4a7c1f0e-2b1d-4c59-9d4e-{i:012}","messageId":"ajs-next-{i:032}","timestamp":"2026-11-25T10:00:00.{ms:03}Z","properties":{{"product_id":"507f1f77bcf86cd799439011","sku":"G-32","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","variant":"200 pieces","price":18.99,"quantity":1,"coupon":"MAYDEALS","currency":"usd","position":3,"value":18.99,"url":"https://www.example.com/product/path","image_url":"https://www.example.com/product/path.jpg"}},"context":{{"library":{{"name":"analytics.js","version":"next-1.70.0"}},"page":{{"path":"/academy/","referrer":"https://www.example.com/","search":"","title":"Analytics Academy","url":"https://segment.com/academy/"}},"userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36","locale":"en-US","campaign":{{"name":"TPS Innovation Newsletter","source":"Newsletter","medium":"email"}}}},"integrations":{{}}}}"#,
                ms = i % 1000
            )
        })
        .collect();
    format!(
        r#"{{"batch":[{}],"sentAt":"2026-11-25T10:00:01.000Z","writeKey":"bench_key"}}"#,
        events.join(",")
    )
}
