//! CPU cost of planning a collector request: parse, authenticate, validate, enrich and
//! encode the Upstash call for a realistic 100-event Segment batch (~57 KB).
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ingest_core::Config;
use ingest_core::collector::{Call, Incoming, Plan, Random, plan};

struct Counter(u64);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (self.0 >> 56) as u8;
        }
    }
}

#[path = "batch.rs"]
mod batch;
use batch::batch;

fn bench(c: &mut Criterion) {
    let cfg = Config::from_lookup(|k| match k {
        "ALLOWED_WRITE_KEYS" => Some("bench_key".into()),
        "REDIS_URL" => Some("http://127.0.0.1:1".into()),
        "REDIS_TOKEN" => Some("t".into()),
        _ => None,
    })
    .unwrap();
    let body = batch(100);
    let headers = http::HeaderMap::new();
    let mut g = c.benchmark_group("plan");
    g.throughput(Throughput::Elements(100));
    g.bench_function("batch_100_events", |b| {
        let mut rng = Counter(1);
        b.iter(|| {
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
                } => call.body.len(),
                Plan::Call { .. } => panic!("expected the redis sink"),
                Plan::Respond(r, _) => panic!("{}", r.body),
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
