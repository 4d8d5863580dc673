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
#[derive(Debug, Clone, Default)]
pub struct SigningSecrets {
    by_digest: Vec<([u8; 32], secrecy::SecretString)>,
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
            by_digest.push((digest, secret.into()));
        }
        Ok(Self { by_digest })
    }

    /// The secret a key must sign with, if any.
    pub fn secret_for(&self, key: &KeyId) -> Option<&secrecy::SecretString> {
        self.by_digest
            .iter()
            .find(|(d, _)| *d == key.1)
            .map(|(_, s)| s)
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
mod tests;
