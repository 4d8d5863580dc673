//! Write keys: parsing `ALLOWED_WRITE_KEYS` (plaintext or `sha256:<hex>`), extracting
//! the key a client presents, and checking it in constant time; the collector's policy
//! for request signatures (the signatures themselves are in [`ingest_protocol`]).

use ingest_protocol::{Message, Scheme};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use ingest_protocol::{
    SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS, TIMESTAMP_HEADER, key_from_basic_auth, sign,
    sign_v2,
};

/// The set of accepted write keys, held only as SHA-256 digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteKeys {
    digests: Vec<[u8; 32]>,
}

/// A write key that passed the check, identified without revealing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyId(String, [u8; 32]);

impl KeyId {
    /// First 16 hex digits of the key's SHA-256: safe for logs, Redis keys and ClickHouse.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Exactly 64 hex digits, either case.
fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok().map(|()| out)
}

impl WriteKeys {
    /// Parse a comma-separated list; entries are plaintext keys or `sha256:<64 hex>`.
    /// The error names the position of a bad entry, never its value.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut digests = Vec::new();
        for (i, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            match entry.strip_prefix("sha256:") {
                Some(h) => digests.push(parse_hex32(h).ok_or_else(|| {
                    format!(
                        "entry {} is `sha256:` but not followed by 64 hex digits",
                        i + 1
                    )
                })?),
                None => digests.push(digest(entry)),
            }
        }
        if digests.is_empty() {
            return Err("no write keys given".into());
        }
        Ok(Self { digests })
    }

    /// Check a presented key against every configured key without early exit.
    pub fn verify(&self, presented: &str) -> Option<KeyId> {
        let d = digest(presented);
        let mut found = subtle::Choice::from(0u8);
        for known in &self.digests {
            found |= known.ct_eq(&d);
        }
        bool::from(found).then(|| KeyId(hex::encode(d.get(..8).unwrap_or(&d)), d))
    }
}

/// Per-key request-signing secrets from `SIGNING_SECRETS`: comma list of
/// `<write key or sha256:hex>=<secret>`. A key listed here must sign every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningSecrets {
    by_digest: Vec<([u8; 32], String)>,
}

impl SigningSecrets {
    /// Parse the list; errors name the entry's position, never its content.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut by_digest = Vec::new();
        for (i, entry) in list.split(',').map(str::trim).enumerate() {
            if entry.is_empty() {
                continue;
            }
            let (key, secret) = entry
                .split_once('=')
                .filter(|(k, s)| !k.is_empty() && !s.is_empty())
                .ok_or_else(|| format!("entry {} must be <write key>=<secret>", i + 1))?;
            let digest = match key.strip_prefix("sha256:") {
                Some(h) => parse_hex32(h)
                    .ok_or_else(|| format!("entry {}: sha256: needs 64 hex digits", i + 1))?,
                None => self::digest(key),
            };
            by_digest.push((digest, secret.to_string()));
        }
        Ok(Self { by_digest })
    }

    /// The secret a key must sign with, if any.
    pub fn secret_for(&self, key: &KeyId) -> Option<&str> {
        self.by_digest
            .iter()
            .find(|(d, _)| *d == key.1)
            .map(|(_, s)| s.as_str())
    }
}

/// What a signature is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Request method, upper case.
    pub method: &'a str,
    /// URL path without the query.
    pub path: &'a str,
    /// The body exactly as received (before any inflation).
    pub body: &'a [u8],
    /// The collector's clock, Unix seconds.
    pub now_s: i64,
    /// v1 signatures are accepted until this time, Unix seconds (`SIGNATURE_V1_UNTIL`).
    pub v1_until_s: i64,
}

/// Which signature scheme a request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// The deprecated `sha256=` form.
    V1,
    /// The `v2=` form: method, path, timestamp and body. Carries the MAC's bytes: the
    /// single-use nonce is derived from them, never from the header's spelling.
    V2([u8; 32]),
}

/// Check a request's signature headers against `secret` (constant-time MAC comparison,
/// overflow-safe clock arithmetic). A verified v2 signature must also be used only once:
/// the caller refuses a repeat inside the window (the ingest script's `SET NX`).
pub fn verify_signature(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    req: Signed<'_>,
) -> Result<SignatureVersion, String> {
    let sig = signature
        .ok_or("missing X-Signature header (this write key requires signed requests)")?
        .trim();
    let ts_text = timestamp
        .ok_or("missing X-Signature-Timestamp header")?
        .trim();
    let ts: i64 = ts_text
        .parse()
        .map_err(|_| "X-Signature-Timestamp must be Unix seconds".to_string())?;
    if req.now_s.abs_diff(ts) > SIGNATURE_TOLERANCE_SECONDS.unsigned_abs() {
        return Err(format!(
            "X-Signature-Timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} s from the collector's clock"
        ));
    }
    let (scheme, hex_mac) = Scheme::split(sig)
        .ok_or("X-Signature must be v2=<hex> (or the deprecated sha256=<hex>)")?;
    if scheme == Scheme::V1 && req.now_s > req.v1_until_s {
        return Err("X-Signature v1 (sha256=) is no longer accepted: sign with v2 (method, path, timestamp and body)".into());
    }
    let given =
        ingest_protocol::decode_mac(hex_mac).ok_or("X-Signature must carry 64 hex digits")?;
    // The timestamp is signed as sent, not as parsed.
    let message = Message {
        method: req.method,
        path: req.path,
        timestamp: ts_text,
        body: req.body,
    };
    if !message.verify(scheme, secret, &given) {
        return Err("X-Signature does not match the request".into());
    }
    Ok(match scheme {
        Scheme::V1 => SignatureVersion::V1,
        Scheme::V2 => SignatureVersion::V2(given),
    })
}

/// Whether an `Authorization` header carries `Bearer <token>`, compared in constant time
/// (over digests, so the token's length does not leak either).
pub fn bearer_matches(token: &str, authorization: Option<&str>) -> bool {
    let given = authorization
        .map(str::trim)
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, t)| t.trim());
    !token.is_empty() && bool::from(digest(token).ct_eq(&digest(given)))
}

/// The `sha256:<hex>` form of a key, for putting in deployed configuration.
pub fn hashed_entry(key: &str) -> String {
    format!("sha256:{}", hex::encode(digest(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_and_hashed_entries_both_verify() {
        let keys = WriteKeys::parse(&format!("alpha, {}", hashed_entry("beta"))).unwrap();
        assert!(keys.verify("alpha").is_some());
        assert!(keys.verify("beta").is_some());
        assert!(keys.verify("gamma").is_none());
        assert!(keys.verify("").is_none());
    }

    #[test]
    fn key_id_is_stable_and_not_the_key() {
        let keys = WriteKeys::parse("alpha").unwrap();
        let id = keys.verify("alpha").unwrap();
        assert_eq!(id.as_str().len(), 16);
        assert!(!id.as_str().contains("alpha"));
        assert_eq!(keys.verify("alpha").unwrap(), id);
    }

    #[test]
    fn bad_hash_entry_is_reported_by_position() {
        let err = WriteKeys::parse("ok,sha256:nothex").unwrap_err();
        assert!(err.contains("entry 2"), "{err}");
        assert!(!err.contains("nothex"));
        assert!(WriteKeys::parse(" , ").is_err());
    }

    #[test]
    fn signatures_verify_and_reject_tampering_and_replay() {
        let secrets =
            SigningSecrets::parse(&format!("k1=s3cret, {}=other", hashed_entry("k2"))).unwrap();
        let keys = WriteKeys::parse("k1,k2,k3").unwrap();
        let k1 = keys.verify("k1").unwrap();
        assert_eq!(secrets.secret_for(&k1), Some("s3cret"));
        assert_eq!(
            secrets.secret_for(&keys.verify("k2").unwrap()),
            Some("other")
        );
        assert_eq!(secrets.secret_for(&keys.verify("k3").unwrap()), None);
        let at = |body: &'static [u8], now_s: i64| Signed {
            method: "POST",
            path: "/v1/batch",
            body,
            now_s,
            v1_until_s: i64::MAX,
        };
        let v = |sig: &str, ts: Option<&str>, req: Signed<'_>| {
            verify_signature("s3cret", Some(sig), ts, req)
        };
        let sig = sign("s3cret", 1000, b"{}");
        assert!(sig.starts_with("sha256=") && sig.len() == 71);
        assert_eq!(
            v(&sig, Some("1000"), at(b"{}", 1100)),
            Ok(SignatureVersion::V1)
        );
        assert!(v(&sig, Some("1000"), at(b"{ }", 1100)).is_err());
        assert!(v(&sig, Some("1000"), at(b"{}", 1400)).is_err());
        assert!(verify_signature("s3cret", None, Some("1000"), at(b"{}", 1000)).is_err());
        assert!(v(&sig, None, at(b"{}", 1000)).is_err());
        assert!(SigningSecrets::parse("nokey").is_err());
        // v1 is refused after its deprecation date
        let late = Signed {
            v1_until_s: 999,
            ..at(b"{}", 1000)
        };
        assert!(v(&sig, Some("1000"), late).unwrap_err().contains("v2"));
    }

    #[test]
    fn v2_signatures_cover_method_and_path_and_survive_hostile_clocks() {
        let sig = sign_v2("k", "POST", "/v1/batch", 1000, b"{}");
        assert!(sig.starts_with("v2=") && sig.len() == 67);
        let req = Signed {
            method: "POST",
            path: "/v1/batch",
            body: b"{}",
            now_s: 1000,
            v1_until_s: 0,
        };
        let v =
            |sig: &str, ts: &str, req: Signed<'_>| verify_signature("k", Some(sig), Some(ts), req);
        assert!(matches!(v(&sig, "1000", req), Ok(SignatureVersion::V2(_))));
        assert!(v(&sig.to_ascii_uppercase().replace("V2=", "v2="), "1000", req).is_ok());
        assert!(v(&format!("{sig}0"), "1000", req).is_err());
        assert!(
            v(
                &sig,
                "1000",
                Signed {
                    path: "/v1/track",
                    ..req
                }
            )
            .is_err()
        );
        assert!(
            v(
                &sig,
                "1000",
                Signed {
                    method: "PUT",
                    ..req
                }
            )
            .is_err()
        );
        assert!(v(&sig, "1001", req).is_err());
        assert!(v("v2=zz", "1000", req).is_err());
        assert!(v("v3=00", "1000", req).is_err());
        // i64 extremes on either side give a precise error, never an overflow
        for (ts, now) in [
            (i64::MIN, 1000),
            (i64::MAX, -1000),
            (1000, i64::MIN),
            (0, i64::MAX),
        ] {
            let r = v(&sig, &ts.to_string(), Signed { now_s: now, ..req });
            assert!(r.unwrap_err().contains("from the collector's clock"));
        }
    }

    /// Signatures as the collector accepted them before the protocol crate: these bytes
    /// are deployed in senders, so they must never change. (Computed independently with
    /// Python's `hmac`.)
    const BODY: &[u8] = br#"{"batch":[{"type":"track","event":"A","userId":"u"}]}"#;
    const V1: &str = "sha256=a615cd9e76f528f7df71ea5c4414273e83ff1cad8096f8c3ca4fbd7e2885766f";
    const V2: &str = "v2=f7de2734ce63ed949ba84a0afe416561f7a44518fac5bce85f6298362974bdae";

    #[test]
    fn deployed_signatures_still_sign_and_verify_byte_for_byte() {
        assert_eq!(sign("s3cret", 1_700_000_000, BODY), V1);
        assert_eq!(
            sign_v2("s3cret", "POST", "/v1/batch", 1_700_000_000, BODY),
            V2
        );
        let req = Signed {
            method: "POST",
            path: "/v1/batch",
            body: BODY,
            now_s: 1_700_000_000,
            v1_until_s: i64::MAX,
        };
        let v = |sig: &str| verify_signature("s3cret", Some(sig), Some("1700000000"), req);
        assert_eq!(v(V1), Ok(SignatureVersion::V1));
        let Ok(SignatureVersion::V2(mac)) = v(V2) else {
            panic!("v2 vector refused")
        };
        assert_eq!(hex::encode(mac), V2.trim_start_matches("v2="));
        // The same MAC in upper case verifies, with the same bytes (hence the same nonce).
        assert_eq!(v(&V2.to_ascii_uppercase().replace("V2=", "v2=")), v(V2));
        // Surrounding whitespace is trimmed, as before.
        assert_eq!(v(&format!("  {V2} ")), v(V2));
    }

    #[test]
    fn malformed_signature_hex_is_refused_precisely() {
        let req = Signed {
            method: "POST",
            path: "/v1/batch",
            body: BODY,
            now_s: 1_700_000_000,
            v1_until_s: i64::MAX,
        };
        let v = |sig: &str| verify_signature("s3cret", Some(sig), Some("1700000000"), req);
        let hex_part = V2.trim_start_matches("v2=");
        // A pair "0x" re-spelled "+x" (which `u8::from_str_radix` would accept) is not hex.
        let zero = (0..32)
            .find(|i| hex_part.as_bytes()[i * 2] == b'0')
            .unwrap();
        let mut plus = format!("v2={hex_part}");
        plus.replace_range(3 + zero * 2..4 + zero * 2, "+");
        let bad_hex = [
            format!("v2={}", hex_part.get(..62).unwrap()), // too short
            format!("v2={hex_part}00"),                    // too long
            format!("v2={hex_part}0"),                     // odd length
            format!("v2={}g", hex_part.get(..63).unwrap()), // not hex
            format!("v2={}", hex_part.replace('a', " ")),  // spaces inside
            String::from("v2="),                           // empty
        ];
        for sig in &bad_hex {
            assert_eq!(
                v(sig),
                Err("X-Signature must carry 64 hex digits".into()),
                "{sig}"
            );
        }
        assert_eq!(v(&plus), Err("X-Signature must carry 64 hex digits".into()));
        // Right length, right alphabet, wrong MAC.
        let mut flipped = hex_part.to_string();
        flipped.replace_range(..1, if hex_part.starts_with('f') { "e" } else { "f" });
        assert_eq!(
            v(&format!("v2={flipped}")),
            Err("X-Signature does not match the request".into())
        );
        // v1 hex under the v2 prefix and vice versa: the MACs differ.
        assert!(v(&V1.replace("sha256=", "v2=")).is_err());
        assert!(v(&V2.replace("v2=", "sha256=")).is_err());
        // Prefixes are case-sensitive.
        assert!(
            v(&V2.replace("v2=", "V2="))
                .unwrap_err()
                .contains("must be v2=")
        );
        assert!(
            v(&V1.replace("sha256=", "SHA256="))
                .unwrap_err()
                .contains("must be v2=")
        );
    }

    #[test]
    fn bearer_tokens_compare_whole() {
        assert!(bearer_matches("t0k", Some("Bearer t0k")));
        assert!(bearer_matches("t0k", Some(" bearer  t0k ")));
        for bad in [
            None,
            Some("Bearer t0"),
            Some("Bearer t0kk"),
            Some("Basic t0k"),
            Some("t0k"),
            Some(""),
        ] {
            assert!(!bearer_matches("t0k", bad), "{bad:?}");
        }
        assert!(!bearer_matches("", Some("Bearer ")));
    }
}
