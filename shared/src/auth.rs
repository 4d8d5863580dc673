//! Write keys: parsing `ALLOWED_WRITE_KEYS` (plaintext or `sha256:<hex>`), extracting
//! the key a client presents, and checking it in constant time.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

/// Lower-case hex of `bytes` (ids, digests, signatures).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
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
                Some(h) => digests.push(parse_hex32(&h.to_ascii_lowercase()).ok_or_else(|| {
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
        bool::from(found).then(|| KeyId(hex(d.get(..8).unwrap_or(&d)), d))
    }
}

/// Per-key request-signing secrets from `SIGNING_SECRETS`: comma list of
/// `<write key or sha256:hex>=<secret>`. A key listed here must sign every request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningSecrets {
    by_digest: Vec<([u8; 32], String)>,
}

/// Header carrying `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "x-signature";
/// Header carrying the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// How far a signature's timestamp may be from the collector's clock.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

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
                Some(h) => parse_hex32(&h.to_ascii_lowercase())
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

/// HMAC-SHA256 signature value (`sha256=<hex>`) of `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    // HMAC takes keys of any length, so this never fails; an empty value never verifies.
    let Ok(mut mac) = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// Check a request's signature headers against `secret` at `now_s` (constant time).
pub fn verify_signature(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now_s: i64,
) -> Result<(), String> {
    let sig =
        signature.ok_or("missing X-Signature header (this write key requires signed requests)")?;
    let ts: i64 = timestamp
        .ok_or("missing X-Signature-Timestamp header")?
        .trim()
        .parse()
        .map_err(|_| "X-Signature-Timestamp must be Unix seconds".to_string())?;
    if (now_s - ts).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(format!(
            "X-Signature-Timestamp is more than {SIGNATURE_TOLERANCE_SECONDS} s from the collector's clock"
        ));
    }
    let want = sign(secret, ts, body);
    if bool::from(want.as_bytes().ct_eq(sig.trim().as_bytes())) {
        Ok(())
    } else {
        Err("X-Signature does not match the body".into())
    }
}

/// The `sha256:<hex>` form of a key, for putting in deployed configuration.
pub fn hashed_entry(key: &str) -> String {
    format!("sha256:{}", hex(&digest(key)))
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
        let sig = sign("s3cret", 1000, b"{}");
        assert!(sig.starts_with("sha256=") && sig.len() == 71);
        assert!(verify_signature("s3cret", Some(&sig), Some("1000"), b"{}", 1100).is_ok());
        assert!(verify_signature("s3cret", Some(&sig), Some("1000"), b"{ }", 1100).is_err());
        assert!(verify_signature("s3cret", Some(&sig), Some("1000"), b"{}", 1400).is_err());
        assert!(verify_signature("s3cret", None, Some("1000"), b"{}", 1000).is_err());
        assert!(verify_signature("s3cret", Some(&sig), None, b"{}", 1000).is_err());
        assert!(SigningSecrets::parse("nokey").is_err());
    }

    #[test]
    fn basic_auth_extraction() {
        // base64("key123:") = a2V5MTIzOg==
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
    }
}
