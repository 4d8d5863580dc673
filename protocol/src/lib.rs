//! The wire contract between senders (the SDK, or anyone implementing it) and the
//! collector: endpoint paths, size caps, how a write key is presented, and the request
//! signatures. Both `ingest-core` and `ingest-sdk` take these from here, so the client
//! and the server cannot drift apart.
//!
//! Nothing here does I/O or reads configuration; the collector's *defaults* equal these
//! caps, and an operator may configure its own (see the README's variable table).

pub mod limits;
pub mod paths;
pub mod signature;

pub use limits::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES};
pub use signature::{
    Message, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, Scheme, TIMESTAMP_HEADER, decode_mac,
    sign, sign_v2,
};

use base64::Engine as _;

/// The `Authorization` header value that presents `write_key`: `Basic base64(key + ":")`,
/// as Segment's SDKs send it (the password part is empty).
pub fn basic_authorization(write_key: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{write_key}:"))
    )
}

/// The write key from `Authorization: Basic base64(key:)` (password ignored), if any.
pub fn key_from_basic_auth(header: &str) -> Option<String> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    (!user.is_empty()).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_authorization_round_trips() {
        // Segment's form, byte for byte: base64("key123:") = a2V5MTIzOg==
        assert_eq!(basic_authorization("key123"), "Basic a2V5MTIzOg==");
        for key in ["key123", "wk_live_0123", "with:colon?", "ünï"] {
            let header = basic_authorization(key);
            let back = key_from_basic_auth(&header);
            // A key with a colon loses what follows it: the password separator wins.
            let want = key.split(':').next().map(str::to_string);
            assert_eq!(back, want, "{key}");
        }
    }

    #[test]
    fn basic_auth_extraction() {
        assert_eq!(
            key_from_basic_auth("Basic a2V5MTIzOg==").as_deref(),
            Some("key123")
        );
        // base64("key123") without colon
        assert_eq!(
            key_from_basic_auth("basic a2V5MTIz").as_deref(),
            Some("key123")
        );
        assert_eq!(key_from_basic_auth("Bearer a2V5MTIzOg=="), None);
        assert_eq!(key_from_basic_auth("Basic !!!"), None);
        assert_eq!(key_from_basic_auth("Basic Og=="), None); // ":" only
        assert_eq!(key_from_basic_auth(""), None);
    }
}
