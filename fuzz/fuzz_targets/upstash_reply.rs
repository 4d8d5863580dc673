//! Upstash REST replies: `redis::parse_result` then `redis::parse_ingest` (the collector's
//! second step) and `stream::parse_stats` (health) on any (status, body).
//!
//! Input: bytes 0..2 = the HTTP status (u16 little endian, taken modulo 600), the rest =
//! the reply body.
//!
//! Bounded-work invariant: every string built from the reply (error messages, entry ids,
//! stats counters) is at most `K * body + C` bytes, `K = 5`, `C = 256`. K is 5, not 1,
//! because `parse_ingest` quotes the whole reply back as JSON text and serde_json prints a
//! parsed number in full: `1E15` (4 bytes) comes back as `1000000000000000.0` (18).
#![no_main]

use ingest_core::redis::{IngestOutcome, RestError, parse_ingest, parse_result};
use ingest_core::stream::parse_stats;
use ingest_fuzz::timed;
use libfuzzer_sys::fuzz_target;

const K: usize = 5;
const C: usize = 256;

fn text_len(r: &Result<IngestOutcome, RestError>) -> usize {
    match r {
        Ok(IngestOutcome::Appended(id, _)) | Ok(IngestOutcome::Duplicate(id)) => id.len(),
        Ok(IngestOutcome::Limited(_)) | Ok(IngestOutcome::Replayed) => 0,
        Err(RestError::Unavailable(m)) | Err(RestError::Rejected { message: m, .. }) => m.len(),
    }
}

fuzz_target!(|input: &[u8]| {
    let [lo, hi, body @ ..] = input else {
        return;
    };
    let status = u16::from_le_bytes([*lo, *hi]) % 600;
    let bound = K * body.len() + C;
    timed(input.len(), || {
        let outcome = parse_result(status, body).and_then(|v| parse_ingest(&v));
        let n = text_len(&outcome);
        assert!(
            n <= bound,
            "ingest reply text {n} B from a {} B body",
            body.len()
        );
        if let Ok(IngestOutcome::Appended(..) | IngestOutcome::Duplicate(_)) = outcome {
            assert!((200..300).contains(&status), "success on HTTP {status}");
        }

        match parse_stats(Ok((status, body.to_vec()).into()), 1_700_000_000_000) {
            Ok(s) => {
                let n: usize = s.counters.iter().map(String::len).sum();
                assert!(
                    n <= bound,
                    "stats counters {n} B from a {} B body",
                    body.len()
                );
                assert!(s.lag_ms >= 0, "negative lag");
            }
            Err(e) => assert!(
                text_len(&Err(e.clone())) <= bound,
                "stats error {} B from a {} B body",
                text_len(&Err(e)),
                body.len()
            ),
        }
    });
});
