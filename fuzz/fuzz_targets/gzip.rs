//! Body decoding (`payload::decode`): never panics, never returns more than the limit,
//! and inflates what gzip deflated.
//!
//! Input: byte 0 = mode, bytes 1..3 = the limit (u16, little endian), the rest = data.
//! Mode bit 0 clear: the data is sent as the body as it is (mostly broken gzip). Set: the
//! harness gzips the data first (bit 1: two gzip members, as `MultiGzDecoder` accepts),
//! and the result must be exactly the data, or `TooLarge` when it is over the limit.
//! Bits 2..4 pick the `Content-Encoding` value.
//!
//! Bounded-work invariant: the output is at most `limit` bytes (gzip alone can inflate
//! 1:1032, so the limit, not the input length, is the bound).
#![no_main]

use ingest_core::error::IngestError;
use ingest_core::payload::decode;
use ingest_fuzz::timed;
use libfuzzer_sys::fuzz_target;
use std::io::Write as _;

const ENCODINGS: [Option<&str>; 8] = [
    Some("gzip"),
    Some("x-gzip"),
    Some(" GZip "),
    Some("gzip"),
    None,
    Some("identity"),
    Some(""),
    Some("br"),
];

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fuzz_target!(|input: &[u8]| {
    let [mode, lo, hi, data @ ..] = input else {
        return;
    };
    let limit = usize::from(u16::from_le_bytes([*lo, *hi]));
    let encoding = ENCODINGS[usize::from(mode >> 2) % ENCODINGS.len()];
    let gzipped = encoding.is_some_and(|e| {
        let e = e.trim();
        e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip")
    });
    let members = if mode & 2 == 0 { 1 } else { 2 };
    let body: Vec<u8> = if mode & 1 == 0 {
        data.to_vec()
    } else {
        let one = gzip(data, u32::from(mode >> 5));
        one.repeat(members)
    };
    let out = timed(input.len(), || decode(&body, encoding, limit));
    if let Ok(d) = &out {
        assert!(
            d.len() <= limit,
            "decode returned {} B over the {limit} B limit",
            d.len()
        );
    }
    if mode & 1 == 1 && gzipped {
        let plain = data.repeat(members);
        if body.len() > limit || plain.len() > limit {
            assert_eq!(out, Err(IngestError::TooLarge { limit }), "over the limit");
        } else {
            assert_eq!(out.as_deref().ok(), Some(&plain[..]), "round trip");
        }
    }
    match (encoding.map(str::trim), &out) {
        (_, Err(IngestError::TooLarge { .. })) => assert!(body.len() > limit || gzipped),
        (None | Some("") | Some("identity"), r) => {
            assert_eq!(
                r.as_deref().ok(),
                Some(&body[..]),
                "identity passes through"
            );
        }
        (Some("br"), r) => assert!(matches!(r, Err(IngestError::UnsupportedEncoding(_)))),
        _ => {}
    }
});
