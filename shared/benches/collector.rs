//! CPU cost of planning a collector request: parse, authenticate, validate, enrich and
//! encode the Upstash call for a realistic 100-event Segment batch (~100 KB), next to the
//! naive floor for the same body (`serde_json::Value` parse + `to_string`).
#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::panic)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "workload.rs"]
mod workload;
use workload::{Counter, batch, config, plan_batch};

fn bench(c: &mut Criterion) {
    let cfg = config();
    let body = batch(100);
    let headers = http::HeaderMap::new();
    let mut g = c.benchmark_group("plan");
    g.throughput(Throughput::Elements(100));
    g.bench_function("batch_100_events", |b| {
        let mut rng = Counter(1);
        b.iter(|| plan_batch(&cfg, &headers, &body, &mut rng))
    });
    g.finish();
    // The naive floor for the same body: into a `serde_json::Value` and back out as text
    // (examples/ratio prints plan / floor natively and in WASM).
    let mut g = c.benchmark_group("floor");
    g.throughput(Throughput::Elements(100));
    g.bench_function("batch_100_events", |b| {
        b.iter(|| {
            let v: serde_json::Value =
                serde_json::from_slice(std::hint::black_box(body.as_bytes())).unwrap();
            serde_json::to_string(&v).unwrap().len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
