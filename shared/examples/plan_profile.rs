//! Runs the collector plan for a 100-event batch N times: a stable target for
//! `valgrind --tool=callgrind` (instruction counts do not depend on machine load).
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

use ingest_core::Config;
use ingest_core::collector::{Call, Incoming, Plan, Random, plan};

#[path = "../benches/batch.rs"]
mod batch;

struct Counter(u64);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (self.0 >> 56) as u8;
        }
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let cfg = Config::from_lookup(|k| match k {
        "ALLOWED_WRITE_KEYS" => Some("bench_key".into()),
        "REDIS_URL" => Some("http://127.0.0.1:1".into()),
        "REDIS_TOKEN" => Some("t".into()),
        _ => None,
    })
    .unwrap();
    let body = batch::batch(100);
    let headers = http::HeaderMap::new();
    let mut rng = Counter(1);
    let mut total = 0;
    for _ in 0..n {
        let req = Incoming {
            method: "POST",
            path: "/v1/batch",
            headers: &headers,
            body: body.as_bytes(),
            peer_ip: Some("203.0.113.9".parse().unwrap()),
            geo: None,
            now_ms: 1_795_000_000_000,
        };
        match plan(
            &cfg,
            &req,
            &mut rng,
            &mut ingest_core::metrics::Metrics::default(),
        ) {
            Plan::Call {
                call: Call::Redis(call),
                ..
            } => total += call.body.len(),
            Plan::Call { .. } => panic!("expected the redis sink"),
            Plan::Respond(r, _) => panic!("{}", r.body),
        }
    }
    println!("{n} plans, {total} bytes of Upstash calls");
}
