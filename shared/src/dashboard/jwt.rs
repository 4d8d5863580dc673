//! JSON Web Tokens, HS256 only: minting and verifying the dashboard's session tokens.
//! The header's `alg` is pinned (`none` and every other algorithm are refused before the
//! signature is looked at), the signature is checked in constant time
//! (`Mac::verify_slice`), and `exp` / `nbf` / `iat` are checked with a small leeway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_S: i64 = 60;
/// The issuer written into and required of every token.
pub const ISSUER: &str = "edge-ingest-dashboard";

/// What a token says: who, which projects (write-key ids), and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user (or automation) the token was issued to.
    pub sub: String,
    /// Write-key ids (`write_key_id`, 16 hex digits) the token may read.
    pub keys: Vec<String>,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Not before, Unix seconds.
    pub nbf: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Token id (hex), the handle of a logout.
    pub jti: String,
    /// Issuer, always [`ISSUER`].
    pub iss: String,
}

/// Why a token was refused. Each is a 401 with its own code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    Malformed,
    /// `alg` is not `HS256` (`none` included).
    Algorithm(String),
    /// The signature does not match: tampered, or signed with another secret.
    Signature,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` / `iat` lie in the future (beyond the leeway).
    NotYetValid,
    /// Wrong issuer or no project.
    Claims(&'static str),
}

impl TokenError {
    /// Machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::Algorithm(_) => "token_algorithm_not_allowed",
            Self::Signature => "token_signature_invalid",
            Self::Expired => "token_expired",
            Self::NotYetValid => "token_not_yet_valid",
            Self::Claims(_) => "token_claims_invalid",
        }
    }

    /// Human-readable reason.
    pub fn message(&self) -> String {
        match self {
            Self::Malformed => "the token is not a JWT (three base64url parts of JSON)".into(),
            Self::Algorithm(a) => format!("alg {a:?} is not accepted: tokens are HS256"),
            Self::Signature => "the token's signature does not match".into(),
            Self::Expired => "the token has expired: log in again".into(),
            Self::NotYetValid => "the token is not valid yet (nbf/iat in the future)".into(),
            Self::Claims(why) => format!("the token's claims are invalid: {why}"),
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; this cannot fail.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable_mac(),
    }
}

#[expect(clippy::panic, reason = "HMAC accepts keys of every length")]
fn unreachable_mac() -> Hmac<Sha256> {
    panic!("HMAC-SHA256 refused a key")
}

/// Sign `claims` as an HS256 JWT.
pub fn sign(secret: &[u8], claims: &Claims) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mut m = mac(secret);
    m.update(signing_input.as_bytes());
    let sig = B64.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Verify a token at `now_s` (Unix seconds) and return its claims.
pub fn verify(secret: &[u8], token: &str, now_s: i64) -> Result<Claims, TokenError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm(header.alg.chars().take(16).collect()));
    }
    let sig = B64.decode(s).map_err(|_| TokenError::Signature)?;
    let mut m = mac(secret);
    m.update(h.as_bytes());
    m.update(b".");
    m.update(p.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
    let claims: Claims = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(TokenError::Malformed)?;
    if claims.iss != ISSUER {
        return Err(TokenError::Claims("unknown issuer"));
    }
    if claims.keys.is_empty() {
        return Err(TokenError::Claims("no project in keys"));
    }
    if now_s > claims.exp.saturating_add(LEEWAY_S) {
        return Err(TokenError::Expired);
    }
    if claims.nbf > now_s.saturating_add(LEEWAY_S) || claims.iat > now_s.saturating_add(LEEWAY_S) {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

/// Claims for a new token issued at `now_s`, valid `ttl_s` seconds.
pub fn claims(sub: &str, keys: Vec<String>, now_s: i64, ttl_s: i64, jti: [u8; 16]) -> Claims {
    Claims {
        sub: sub.to_string(),
        keys,
        iat: now_s,
        nbf: now_s,
        exp: now_s.saturating_add(ttl_s),
        jti: hex::encode(jti),
        iss: ISSUER.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn token() -> String {
        sign(
            SECRET,
            &claims("alice", vec!["00112233aabbccdd".into()], NOW, 3600, [7; 16]),
        )
    }

    fn forge(header: &str, payload: &Claims, sig: &str) -> String {
        format!(
            "{}.{}.{sig}",
            B64.encode(header),
            B64.encode(serde_json::to_vec(payload).unwrap())
        )
    }

    #[test]
    fn a_token_round_trips() {
        let c = verify(SECRET, &token(), NOW + 10).unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.keys, vec!["00112233aabbccdd".to_string()]);
        assert_eq!(c.exp, NOW + 3600);
    }

    #[test]
    fn a_tampered_payload_or_signature_is_refused() {
        let t = token();
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims("alice", vec!["ffffffffffffffff".into()], NOW, 3600, [7; 16]);
        c.sub = "mallory".into();
        let swapped = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(serde_json::to_vec(&c).unwrap()),
            parts[2]
        );
        assert_eq!(verify(SECRET, &swapped, NOW), Err(TokenError::Signature));
        let mut sig = B64.decode(parts[2]).unwrap();
        sig[0] ^= 1;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], B64.encode(sig));
        assert_eq!(verify(SECRET, &flipped, NOW), Err(TokenError::Signature));
        assert_eq!(
            verify(b"another secret of 32 bytes......", &t, NOW),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let c = claims("alice", vec!["00112233aabbccdd".into()], NOW, 3600, [7; 16]);
        for alg in ["none", "None", "HS512", "RS256", "hs256"] {
            let t = forge(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), &c, "");
            assert!(
                matches!(verify(SECRET, &t, NOW), Err(TokenError::Algorithm(_))),
                "{alg}"
            );
        }
        // alg none with a valid-looking HS256 signature of the same payload
        let t = token();
        let parts: Vec<&str> = t.split('.').collect();
        let none = format!(
            "{}.{}.{}",
            B64.encode(r#"{"alg":"none"}"#),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify(SECRET, &none, NOW),
            Err(TokenError::Algorithm(_))
        ));
    }

    #[test]
    fn expiry_and_not_before_have_a_leeway() {
        let t = token();
        assert!(verify(SECRET, &t, NOW + 3600 + LEEWAY_S).is_ok());
        assert_eq!(
            verify(SECRET, &t, NOW + 3600 + LEEWAY_S + 1),
            Err(TokenError::Expired)
        );
        assert!(verify(SECRET, &t, NOW - LEEWAY_S).is_ok());
        assert_eq!(
            verify(SECRET, &t, NOW - LEEWAY_S - 1),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for t in ["", "a", "a.b", "a.b.c.d", "!!.??.**", "e30.e30.e30"] {
            assert!(verify(SECRET, t, NOW).is_err(), "{t}");
        }
        let c = claims("alice", vec![], NOW, 3600, [7; 16]);
        assert_eq!(
            verify(SECRET, &sign(SECRET, &c), NOW),
            Err(TokenError::Claims("no project in keys"))
        );
    }
}
