//! Send COUNT events (all six call types, messageIds `<prefix>-<i>`) and print a JSON
//! report. Used by the black-box tests; also a small usage example.
//!
//! usage: send ENDPOINT WRITE_KEY PREFIX COUNT [SIGNING_SECRET]
#![allow(missing_docs)]

use ingest_sdk::{Client, Event};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: send ENDPOINT WRITE_KEY PREFIX COUNT [SIGNING_SECRET]
  ENDPOINT   the collector's base URL, e.g. http://127.0.0.1:8787
  WRITE_KEY  a key from ALLOWED_WRITE_KEYS
  PREFIX     messageIds are <PREFIX>-<i>, the user <PREFIX>-user
  COUNT      how many events (all six call types in turn)
  SIGNING_SECRET  sign requests (v2) for keys listed in SIGNING_SECRETS";

fn fail(message: &str) -> ExitCode {
    eprintln!("send: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [endpoint, key, prefix, count, rest @ ..] = args.as_slice() else {
        return fail("ENDPOINT, WRITE_KEY, PREFIX and COUNT are required");
    };
    let Ok(count) = count.parse::<usize>() else {
        return fail(&format!("COUNT must be a whole number, got {count:?}"));
    };
    let mut b = Client::builder(key, endpoint)
        .flush_at(100)
        .max_retries(8)
        .flush_interval(Duration::from_secs(60));
    if let Some(secret) = rest.first() {
        b = b.signing_secret(secret);
    }
    let client = match b.build() {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
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
        let queued = client.enqueue(
            e.user_id(&user)
                .message_id(&id)
                .context("app", serde_json::json!({"name": "sdk-test"})),
        );
        if let Err(e) = queued {
            return fail(&format!("event {i}: {e}"));
        }
    }
    let result = client.flush().await;
    let report = serde_json::json!({
        "sent": client.sent(),
        "dropped": client.dropped(),
        "queued": client.queued(),
        "error": result.err().map(|e| e.to_string()),
    });
    println!("{report}");
    ExitCode::SUCCESS
}
