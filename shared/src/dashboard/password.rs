//! Password hashes for `DASHBOARD_USERS`: PBKDF2-HMAC-SHA256 (RFC 8018) written with the
//! `hmac` and `sha2` crates the core already has, salted and iterated, stored as
//! `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`. Verification is constant
//! time (`subtle`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// Iterations of new hashes. A login costs this many HMAC pairs: about 0.1 s of CPU in
/// wasm, which Workers' paid plan allows and which makes guessing costly; the rate limit
/// does the rest.
pub const ITERATIONS: u32 = 100_000;
/// Fewest iterations a configured hash may have.
pub const MIN_ITERATIONS: u32 = 10_000;
/// Most iterations a configured hash may have (bounds a login's CPU).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// A parsed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

fn pbkdf2(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let Ok(prf) = Hmac::<Sha256>::new_from_slice(password) else {
        return [0; 32];
    };
    let mut u = prf.clone();
    u.update(salt);
    u.update(&1u32.to_be_bytes());
    let mut block: [u8; 32] = u.finalize().into_bytes().into();
    let mut out = block;
    for _ in 1..iterations {
        let mut m = prf.clone();
        m.update(&block);
        block = m.finalize().into_bytes().into();
        for (o, b) in out.iter_mut().zip(block) {
            *o ^= b;
        }
    }
    out
}

impl PasswordHash {
    /// Hash `password` with a 16-byte `salt`.
    pub fn new(password: &str, salt: [u8; 16], iterations: u32) -> Self {
        Self {
            iterations,
            salt: salt.to_vec(),
            hash: pbkdf2(password.as_bytes(), &salt, iterations).to_vec(),
        }
    }

    /// Parse the stored form; the error says what is wrong, never the hash.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split('$');
        let (Some("pbkdf2-sha256"), Some(it), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err("is not <scheme>$<iterations>$<salt>$<hash> with scheme pbkdf2-sha256 (`dashboard-admin hash-password` prints one)".into());
        };
        let iterations: u32 = it
            .parse()
            .ok()
            .filter(|n| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(n))
            .ok_or_else(|| format!("iterations must be {MIN_ITERATIONS}..={MAX_ITERATIONS}"))?;
        let salt = B64
            .decode(salt)
            .map_err(|_| "salt is not base64url".to_string())?;
        let hash = B64
            .decode(hash)
            .map_err(|_| "hash is not base64url".to_string())?;
        if salt.len() < 8 || hash.len() != 32 {
            return Err("salt must be ≥ 8 bytes and hash 32 bytes".into());
        }
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` matches, in constant time (`subtle`).
    pub fn verify(&self, password: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let derived = pbkdf2(password.as_bytes(), &self.salt, self.iterations);
        bool::from(derived[..].ct_eq(&self.hash[..]))
    }
}

impl std::fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pbkdf2-sha256${}${}${}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(&self.hash)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_7914_pbkdf2_sha256_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1), first 32 bytes.
        let dk = pbkdf2(b"passwd", b"salt", 1);
        assert_eq!(
            hex::encode(dk),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = PasswordHash::new("correct horse", [3; 16], MIN_ITERATIONS);
        let parsed = PasswordHash::parse(&h.to_string()).unwrap();
        assert!(parsed.verify("correct horse"));
        assert!(!parsed.verify("correct horsf"));
        assert!(!parsed.verify(""));
    }

    #[test]
    fn bad_stored_forms_are_refused() {
        for s in [
            "",
            "plaintext",
            "pbkdf2-sha256$10$c2FsdHNhbHQ$aGFzaA",
            "pbkdf2-sha1$100000$c2FsdHNhbHQ$aGFzaA",
            "pbkdf2-sha256$100000$***$aGFzaA",
            "pbkdf2-sha256$100000$c2FsdHNhbHQ$aGFzaA",
        ] {
            assert!(PasswordHash::parse(s).is_err(), "{s}");
        }
    }
}
