//! Request signatures: `X-Signature` carries an HMAC-SHA256 over the request, keyed with
//! the write key's signing secret; `X-Signature-Timestamp` carries the signing time.
//!
//! * **v2** (current): `v2=<hex HMAC(secret, "v2\n" METHOD "\n" path "\n" timestamp "\n"
//!   body)>`. `path` is the URL path without the query, `body` the bytes as sent (gzipped
//!   if the request is), `timestamp` the header's text exactly.
//! * **v1** (deprecated: it covers neither method nor path): `sha256=<hex HMAC(secret,
//!   timestamp "." body)>`.
//!
//! The hex is 64 digits of either case. The collector's policy (the clock tolerance, the
//! end of v1, single use of a v2 signature) lives in `ingest_core::auth`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Header carrying the signature: `v2=<hex>` (see [`sign_v2`]), or the deprecated
/// `sha256=<hex>` of [`sign`].
pub const SIGNATURE_HEADER: &str = "x-signature";
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// How far a signature's timestamp may be from the collector's clock, in seconds.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// A signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `sha256=`: timestamp and body (deprecated).
    V1,
    /// `v2=`: method, path, timestamp and body.
    V2,
}

impl Scheme {
    /// The header value's prefix (case-sensitive).
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::V1 => "sha256=",
            Self::V2 => "v2=",
        }
    }

    /// Split a header value into its scheme and the hex after the prefix; `None` for an
    /// unknown prefix. The value is not trimmed here.
    pub fn split(value: &str) -> Option<(Self, &str)> {
        [Self::V2, Self::V1]
            .into_iter()
            .find_map(|s| value.strip_prefix(s.prefix()).map(|hex| (s, hex)))
    }
}

/// What a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Request method, upper case (v2 only).
    pub method: &'a str,
    /// URL path without the query (v2 only).
    pub path: &'a str,
    /// `X-Signature-Timestamp` exactly as sent (Unix seconds in decimal).
    pub timestamp: &'a str,
    /// The body exactly as sent (before any inflation).
    pub body: &'a [u8],
}

impl Message<'_> {
    /// Feed the string to sign to `f`, piece by piece (no copy of the body).
    fn feed(&self, scheme: Scheme, mut f: impl FnMut(&[u8])) {
        match scheme {
            Scheme::V1 => {
                for part in [self.timestamp.as_bytes(), b".", self.body] {
                    f(part);
                }
            }
            Scheme::V2 => {
                for part in [
                    b"v2\n",
                    self.method.as_bytes(),
                    b"\n",
                    self.path.as_bytes(),
                    b"\n",
                    self.timestamp.as_bytes(),
                    b"\n",
                    self.body,
                ] {
                    f(part);
                }
            }
        }
    }

    /// The bytes the MAC is computed over (for documentation and other implementations;
    /// signing and verifying never build it).
    pub fn string_to_sign(&self, scheme: Scheme) -> Vec<u8> {
        let mut out = Vec::new();
        self.feed(scheme, |p| out.extend_from_slice(p));
        out
    }

    fn hmac(&self, scheme: Scheme, secret: &str) -> Option<Hmac<Sha256>> {
        // HMAC takes keys of any length, so this never fails; no panic path either way.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).ok()?;
        self.feed(scheme, |p| mac.update(p));
        Some(mac)
    }

    /// The MAC's 32 bytes.
    pub fn mac(&self, scheme: Scheme, secret: &str) -> Option<[u8; 32]> {
        self.hmac(scheme, secret)
            .map(|m| m.finalize().into_bytes().into())
    }

    /// The header value: the scheme's prefix and the MAC in lower-case hex.
    pub fn sign(&self, scheme: Scheme, secret: &str) -> String {
        self.mac(scheme, secret).map_or_else(String::new, |m| {
            format!("{}{}", scheme.prefix(), hex::encode(m))
        })
    }

    /// Whether `given` is this message's MAC under `secret`, compared in constant time
    /// ([`Mac::verify_slice`]; a `given` of another length is refused).
    pub fn verify(&self, scheme: Scheme, secret: &str, given: &[u8]) -> bool {
        self.hmac(scheme, secret)
            .is_some_and(|m| m.verify_slice(given).is_ok())
    }
}

/// Exactly 64 hex digits (either case) to 32 bytes; anything else (a sign, spaces,
/// another length) is refused, so one MAC has exactly one byte value.
pub fn decode_mac(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex, &mut out).ok().map(|()| out)
}

/// Signature v1 (deprecated): `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    Message {
        method: "",
        path: "",
        timestamp: &ts,
        body,
    }
    .sign(Scheme::V1, secret)
}

/// Signature v2: `v2=<hex HMAC-SHA256(secret, "v2\n<METHOD>\n<path>\n<timestamp>\n<body>")>`.
/// `path` is the URL path without the query, as the collector receives it.
pub fn sign_v2(secret: &str, method: &str, path: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    Message {
        method,
        path,
        timestamp: &ts,
        body,
    }
    .sign(Scheme::V2, secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors the collector accepted before this crate existed (computed independently
    // with Python's `hmac`): deployed senders produce these bytes, so they never change.
    const BODY: &[u8] = br#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    const V1: &str = "sha256=a615cd9e76f528f7df71ea5c4414273e83ff1cad8096f8c3ca4fbd7e2885766f";
    const V2: &str = "v2=f7de2734ce63ed949ba84a0afe416561f7a44518fac5bce85f6298362974bdae";

    fn msg(timestamp: &str) -> Message<'_> {
        Message {
            method: "POST",
            path: "/v1/batch",
            timestamp,
            body: BODY,
        }
    }

    #[test]
    fn v1_and_v2_vectors_are_pinned_byte_for_byte() {
        assert_eq!(sign("s3cret", 1_700_000_000, BODY), V1);
        assert_eq!(
            sign_v2("s3cret", "POST", "/v1/batch", 1_700_000_000, BODY),
            V2
        );
        // Edge cases: empty secret, empty body, negative time, every byte value.
        assert_eq!(
            sign("", 0, b""),
            "sha256=b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3"
        );
        assert_eq!(
            sign_v2("", "POST", "/", 0, b""),
            "v2=f5facf491b942b7ad72f1e6f0b3173d00d029d8500b986b20ac47597eb14a35d"
        );
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(
            sign_v2("k", "POST", "/v1/batch", -5, &all),
            "v2=240dc8aa7e1bcf0e54015651f8d97de0ebff990c0c5ae861059eec02acbf0440"
        );
    }

    #[test]
    fn strings_to_sign_are_as_documented() {
        let m = msg("1700000000");
        let mut v1 = b"1700000000.".to_vec();
        v1.extend_from_slice(BODY);
        assert_eq!(m.string_to_sign(Scheme::V1), v1);
        let mut v2 = b"v2\nPOST\n/v1/batch\n1700000000\n".to_vec();
        v2.extend_from_slice(BODY);
        assert_eq!(m.string_to_sign(Scheme::V2), v2);
        // The MAC is over exactly that string.
        for scheme in [Scheme::V1, Scheme::V2] {
            let mut h = <Hmac<Sha256> as KeyInit>::new_from_slice(b"s3cret").unwrap();
            h.update(&m.string_to_sign(scheme));
            let want: [u8; 32] = h.finalize().into_bytes().into();
            assert_eq!(m.mac(scheme, "s3cret"), Some(want));
        }
    }

    #[test]
    fn the_timestamp_is_signed_as_sent_not_as_parsed() {
        // "+1700000000" and "01700000000" parse to the same number but sign differently.
        let mac = msg("1700000000").mac(Scheme::V2, "s3cret").unwrap();
        assert!(msg("1700000000").verify(Scheme::V2, "s3cret", &mac));
        assert!(!msg("+1700000000").verify(Scheme::V2, "s3cret", &mac));
        assert!(!msg("01700000000").verify(Scheme::V2, "s3cret", &mac));
    }

    #[test]
    fn verify_refuses_other_lengths_secrets_and_messages() {
        let m = msg("1700000000");
        let mac = m.mac(Scheme::V2, "s3cret").unwrap();
        assert!(m.verify(Scheme::V2, "s3cret", &mac));
        // wrong length: a prefix of the right MAC, or the MAC plus a byte
        assert!(!m.verify(Scheme::V2, "s3cret", &mac[..31]));
        assert!(!m.verify(Scheme::V2, "s3cret", &[]));
        let mut long = mac.to_vec();
        long.push(0);
        assert!(!m.verify(Scheme::V2, "s3cret", &long));
        // wrong secret, scheme, method, path, body
        assert!(!m.verify(Scheme::V2, "s3cres", &mac));
        assert!(!m.verify(Scheme::V1, "s3cret", &mac));
        for other in [
            Message { method: "PUT", ..m },
            Message {
                path: "/v1/track",
                ..m
            },
            Message { body: b"{}", ..m },
        ] {
            assert!(!other.verify(Scheme::V2, "s3cret", &mac), "{other:?}");
        }
    }

    #[test]
    fn schemes_split_on_their_exact_prefix() {
        assert_eq!(Scheme::split("v2=ab"), Some((Scheme::V2, "ab")));
        assert_eq!(Scheme::split("sha256=ab"), Some((Scheme::V1, "ab")));
        assert_eq!(Scheme::split("v2="), Some((Scheme::V2, "")));
        for bad in ["V2=ab", "SHA256=ab", " v2=ab", "v3=ab", "ab", ""] {
            assert_eq!(Scheme::split(bad), None, "{bad}");
        }
    }

    #[test]
    fn mac_hex_has_one_spelling_per_case() {
        let hex = V2.trim_start_matches("v2=");
        let mac = decode_mac(hex).unwrap();
        assert_eq!(decode_mac(&hex.to_ascii_uppercase()), Some(mac));
        assert_eq!(hex::encode(mac), hex);
        // A pair "0x" re-spelled "+x" (which `u8::from_str_radix` accepts) is not hex.
        let zero = (0..32).find(|i| hex.as_bytes()[i * 2] == b'0').unwrap();
        let mut plus = hex.to_string();
        plus.replace_range(zero * 2..zero * 2 + 1, "+");
        for bad in [
            plus.as_str(),
            &hex[..62],
            &hex[..63],
            &format!("{hex}0"),
            &format!("{hex}00"),
            &format!(" {}", &hex[1..]),
            &format!("{}g", &hex[..63]),
            "",
        ] {
            assert_eq!(decode_mac(bad), None, "{bad:?}");
        }
    }
}
