//! ClickHouse rows (`clickhouse::row`) from any text: never panics, a row is one valid
//! JSON object whose JSON columns hold well-formed JSON objects, and its size is bounded
//! by the event's. ("Well-formed" as the core reads JSON: raw values are not range
//! checked, so `1e400` passes through to ClickHouse as text, as the client sent it.)
//!
//! Bounded-work invariant: `row.len() <= 4.5 * n + 4 KiB` (n = input length). Not
//! `2 * n`: a string the encoder pulls out into its own column is written twice, once
//! decoded and re-escaped (`\b` is 2 bytes in, `\u0008` 6 bytes out: 3x) and once inside
//! the raw `context` column text, itself escaped as a string (`\b` → `\\b`: 1.5x). So a
//! byte of `context.page.url` costs at most 3 + 1.5 = 4.5 bytes; `context.traits` at
//! most 2 + 2 (the `traits` and `context` columns, quotes doubled); everything else at
//! most 3. The 4 KiB covers the 30 column names, the timestamps, write key id and stream
//! id.
#![no_main]

use ingest_core::clickhouse::row;
use ingest_fuzz::timed;
use libfuzzer_sys::fuzz_target;

const WRITE_KEY_ID: &str = "0123456789abcdef";
const STREAM_ID: &str = "1700000000000-0";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(r) = timed(data.len(), || row(text, WRITE_KEY_ID, STREAM_ID)) else {
        return;
    };
    let bound = data.len() * 9 / 2 + 4096;
    assert!(
        r.len() <= bound,
        "row of {} B from a {} B event (bound {bound} B)",
        r.len(),
        data.len()
    );
    let v: serde_json::Value = serde_json::from_str(&r).expect("a row is valid JSON");
    let obj = v.as_object().expect("a row is a JSON object");
    for column in ["properties", "traits", "context", "integrations", "extra"] {
        let text = obj[column].as_str().expect("JSON columns are strings");
        let inner: &serde_json::value::RawValue =
            serde_json::from_str(text).expect("JSON column parses");
        assert!(inner.get().starts_with('{'), "{column} holds an object");
    }
});
