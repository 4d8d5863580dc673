//! Runs the collector plan for a 100-event batch N times: a stable target for
//! `valgrind --tool=callgrind` (instruction counts do not depend on machine load).
#![allow(missing_docs, clippy::unwrap_used, clippy::panic)]

#[path = "../benches/workload.rs"]
mod workload;
use workload::{Counter, batch, config, plan_batch};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let cfg = config();
    let body = batch(100);
    let headers = http::HeaderMap::new();
    let mut rng = Counter(1);
    let total: usize = (0..n)
        .map(|_| plan_batch(&cfg, &headers, &body, &mut rng))
        .sum();
    println!("{n} plans, {total} bytes of Upstash calls");
}
