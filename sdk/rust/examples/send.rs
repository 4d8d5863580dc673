//! Send COUNT events (all six call types, messageIds `<prefix>-<i>`) and print a JSON
//! report. Used by the black-box tests; also a small usage example.
//!
//! usage: send ENDPOINT WRITE_KEY PREFIX COUNT [SIGNING_SECRET]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use ingest_sdk::{Client, Event};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (endpoint, key, prefix) = (&args[1], &args[2], &args[3]);
    let count: usize = args[4].parse().unwrap();
    let mut b = Client::builder(key, endpoint)
        .flush_at(100)
        .max_retries(8)
        .flush_interval(Duration::from_secs(60));
    if let Some(secret) = args.get(5) {
        b = b.signing_secret(secret);
    }
    let client = b.build().unwrap();
    for i in 0..count {
        let id = format!("{prefix}-{i}");
        let user = format!("{prefix}-user");
        let e = match i % 6 {
            0 => Event::track("Order Completed")
                .property("revenue", 19.5)
                .property("index", i as u64),
            1 => Event::identify().trait_("plan", "pro"),
            2 => Event::page("Pricing").property("path", "/pricing"),
            3 => Event::screen("Cart"),
            4 => Event::group("acme").trait_("employees", 12),
            _ => Event::alias("anon-1"),
        };
        client
            .enqueue(
                e.user_id(&user)
                    .message_id(&id)
                    .context("app", serde_json::json!({"name": "sdk-test"})),
            )
            .unwrap();
    }
    let result = client.flush().await;
    let report = serde_json::json!({
        "sent": client.sent(),
        "dropped": client.dropped(),
        "queued": client.queued(),
        "error": result.err().map(|e| e.to_string()),
    });
    println!("{report}");
}
