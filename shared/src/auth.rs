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
pub struct KeyId(String);

impl KeyId {
    /// First 16 hex digits of the key's SHA-256: safe for logs, Redis keys and ClickHouse.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
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
        bool::from(found).then(|| KeyId(hex(d.get(..8).unwrap_or(&d))))
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
