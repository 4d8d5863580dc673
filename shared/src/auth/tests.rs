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
    let secret = |k: &KeyId| {
        let s = secrets.secret_for(k);
        s.map(|s| secrecy::ExposeSecret::expose_secret(s).to_string())
    };
    assert_eq!(secret(&k1).as_deref(), Some("s3cret"));
    assert_eq!(
        secret(&keys.verify("k2").unwrap()).as_deref(),
        Some("other")
    );
    assert_eq!(secret(&keys.verify("k3").unwrap()), None);
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
    let v = |sig: &str, ts: &str, req: Signed<'_>| verify_signature("k", Some(sig), Some(ts), req);
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
