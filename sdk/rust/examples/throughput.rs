//! How many events per second one native client pushes: COUNT events, 100 per batch,
//! gzip on, to a running collector (use a stack with the rate limit off: scripts/bench
//! starts one). Bounded: stops after COUNT events.
//!
//! usage: throughput ENDPOINT WRITE_KEY [COUNT]
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use ingest_sdk::{Client, Event};
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count: usize = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(50_000);
    let client = Client::builder(&args[2], &args[1])
        .flush_at(100)
        .max_queue(count + 1)
        .flush_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let start = Instant::now();
    for i in 0..count {
        client
            .enqueue(
                Event::track("Product Viewed")
                    .user_id("bench")
                    .property("i", i as u64)
                    .property("sku", "G-32")
                    .property("price", 18.99),
            )
            .unwrap();
        if i % 1000 == 999 {
            tokio::task::yield_now().await;
        }
    }
    let _ = client.flush().await;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "throughput: {} events sent in {secs:.2} s = {:.0} events/s (dropped {}, queued {})",
        client.sent(),
        client.sent() as f64 / secs,
        client.dropped(),
        client.queued()
    );
}
