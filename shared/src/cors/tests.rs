use super::*;

const LIST: &str = "https://app.example.com, https://*.example.net,https://*.shop.io:8443,\
                    http://localhost:3000/,http://[::1]:8080,http://127.0.0.1:18800";

#[test]
fn origin_matching_table() {
    let o = Origins::parse(LIST).unwrap();
    for (origin, want) in [
        // exact entries compare scheme, host and port
        ("https://app.example.com", true),
        ("HTTPS://APP.EXAMPLE.COM", true),
        ("https://app.example.com:443", true),
        ("http://app.example.com", false),
        ("https://app.example.com:8443", false),
        ("https://evil.example.com", false),
        ("https://app.example.com.evil.net", false),
        // wildcards cover whole DNS labels under the suffix, same scheme and port
        ("https://a.example.net", true),
        ("https://a.b.example.net", true),
        ("https://xn--80ak6aa92e.example.net", true),
        ("https://example.net", false),
        ("https://evilexample.net", false),
        ("https://a.example.net.evil.net", false),
        ("http://a.example.net", false),
        ("https://a.example.net:8443", false),
        ("https://evil.com/.example.net", false),
        ("https://evil.com?.example.net", false),
        ("https://evil.com#.example.net", false),
        ("https://evil.com@a.example.net", false),
        ("https://a.example.net@evil.com", false),
        ("https://.example.net", false),
        ("https://a..example.net", false),
        ("https://*.example.net", false),
        ("https://a.example.net.", false),
        ("https://a%2eexample.net", false),
        ("https://a.shop.io:8443", true),
        ("https://a.shop.io", false),
        // not a serialized origin: never allowed
        ("https://app.example.com/", false),
        ("https://app.example.com/path", false),
        ("https://app.example.com:", false),
        ("https://app.example.com:99999", false),
        ("app.example.com", false),
        ("", false),
        ("null", false),
        ("NULL", false),
        // ports and IP literals
        ("http://localhost:3000", true),
        ("http://localhost:3001", false),
        ("http://localhost", false),
        ("http://[::1]:8080", true),
        ("http://[0:0:0:0:0:0:0:1]:8080", true),
        ("http://::1:8080", false),
        ("http://127.0.0.1:18800", true),
        ("http://127.0.0.1.evil.net:18800", false),
    ] {
        assert_eq!(o.allows(origin), want, "{origin}");
    }
}

#[test]
fn star_allows_every_serialized_origin_but_not_null_or_garbage() {
    let star = Origins::parse("*").unwrap();
    for (origin, want) in [
        ("https://x.y", true),
        ("http://127.0.0.1:8080", true),
        ("chrome-extension://abcdefghijklmnop", true),
        ("null", false),
        ("https://x.y/path", false),
        ("https://user@x.y", false),
        ("javascript:alert(1)", false),
        ("", false),
    ] {
        assert_eq!(star.allows(origin), want, "{origin}");
    }
    let with_null = Origins::parse("*, null").unwrap();
    assert!(with_null.allows("null"));
    assert!(with_null.allows("https://x.y"));
    let only_null = Origins::parse("null").unwrap();
    assert!(only_null.allows("null"));
    assert!(!only_null.allows("https://x.y"));
    assert!(!Origins::parse("").unwrap().allows("https://x.y"));
}

#[test]
fn configuration_errors_name_the_bad_entry() {
    for (list, bad, why) in [
        ("example.com", "example.com", "scheme"),
        (
            "https://ok.example,https://bad.example/x",
            "https://bad.example/x",
            "path",
        ),
        ("https://", "https://", "host"),
        ("https://u@a.example", "https://u@a.example", "userinfo"),
        ("https://a.example?x=1", "https://a.example?x=1", "query"),
        ("https://a.example:99999", "https://a.example:99999", "port"),
        ("https://a.example:0", "https://a.example:0", "port"),
        ("https://a.example:", "https://a.example:", "port"),
        ("1https://a.example", "1https://a.example", "scheme"),
        ("https://a b.example", "https://a b.example", "host"),
        ("https://a.*.example", "https://a.*.example", "first label"),
        (
            "https://*.*.example.com",
            "https://*.*.example.com",
            "first label",
        ),
        (
            "https://*example.com",
            "https://*example.com",
            "first label",
        ),
        ("https://*.com", "https://*.com", "two labels"),
        ("https://*.10.0.0.1", "https://*.10.0.0.1", "domain name"),
        ("https://*.[::1]", "https://*.[::1]", "domain name"),
    ] {
        let err = Origins::parse(list).unwrap_err();
        assert!(err.contains(&format!("{bad:?}")), "{list}: {err}");
        assert!(err.contains(why), "{list}: {err}");
        assert!(!err.contains("ok.example"), "{list}: {err}");
    }
    assert!(Origins::parse("http://*.localhost:3000").is_ok());
}

#[test]
fn replies_never_carry_credentials() {
    let listed = Origins::parse("https://ok.example").unwrap();
    let star = Origins::parse("*").unwrap();
    for (o, origin) in [
        (&listed, Some("https://ok.example")),
        (&listed, Some("https://bad.example")),
        (&listed, None),
        (&star, Some("https://any.example")),
        (&star, Some("null")),
    ] {
        let mut r = Reply::empty(200);
        o.decorate(origin, &mut r);
        let p = o.preflight(origin, None);
        for reply in [&r, &p] {
            assert_eq!(
                reply.header("access-control-allow-credentials"),
                None,
                "{origin:?}"
            );
        }
    }
}

#[test]
fn star_answers_with_a_literal_star_and_listed_origins_are_reflected() {
    let mut r = Reply::empty(200);
    Origins::parse("*")
        .unwrap()
        .decorate(Some("https://any.example"), &mut r);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    let mut r = Reply::empty(200);
    Origins::parse("https://*.ok.example")
        .unwrap()
        .decorate(Some("https://a.ok.example"), &mut r);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://a.ok.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));

    let mut r = Reply::empty(200);
    Origins::parse("null, https://ok.example")
        .unwrap()
        .decorate(Some("null"), &mut r);
    assert_eq!(r.header("access-control-allow-origin"), Some("null"));
}

#[test]
fn null_origin_is_refused_unless_listed() {
    let star = Origins::parse("*").unwrap();
    let p = star.preflight(Some("null"), None);
    assert_eq!(p.status, 403);
    assert_eq!(p.header("access-control-allow-origin"), None);
    let mut r = Reply::empty(200);
    star.decorate(Some("null"), &mut r);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let listed = Origins::parse("*,null").unwrap();
    assert_eq!(listed.preflight(Some("null"), None).status, 204);
}

#[test]
fn preflight_from_allowed_and_disallowed_origin() {
    let o = Origins::parse("https://ok.example").unwrap();
    let ok = o.preflight(Some("https://ok.example"), Some("content-type"));
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://ok.example")
    );
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(ok.header("vary"), Some("Origin"));
    let bad = o.preflight(Some("https://bad.example"), None);
    assert_eq!(bad.status, 403);
    assert_eq!(bad.header("access-control-allow-origin"), None);
}

#[test]
fn authority_table() {
    let long = format!("{}.example", "a".repeat(250));
    for (input, want) in [
        ("example.com", Some("example.com")),
        ("Example.COM:8080", Some("example.com:8080")),
        ("a_b.internal", Some("a_b.internal")),
        ("127.0.0.1:8787", Some("127.0.0.1:8787")),
        ("[::1]:8787", Some("[::1]:8787")),
        ("[0:0:0:0:0:0:0:1]", Some("[::1]")),
        ("", None),
        ("evil.example/x", None),
        ("u@evil.example", None),
        ("evil.example?x", None),
        ("evil.example:", None),
        ("evil.example:+80", None),
        ("evil.example:65536", None),
        ("evil.example:1:2", None),
        ("[::1", None),
        ("[::1]x", None),
        ("[fe80::1%25eth0]", None),
        ("::1", None),
        ("1.2.3", None),
        ("a..b", None),
        ("a.b.", None),
        ("é.example", None),
        ("a b", None),
        (long.as_str(), None),
    ] {
        let got = Authority::parse(input).map(|a| a.to_string()).ok();
        assert_eq!(got.as_deref(), want, "{input:?}");
    }
}

#[test]
fn loopback_hosts() {
    for (input, want) in [
        ("localhost", true),
        ("LOCALHOST:3000", true),
        ("127.0.0.1", true),
        ("127.200.1.1:80", true),
        ("[::1]:8080", true),
        ("localhost.evil.example", false),
        ("127.evil.example", false),
        ("128.0.0.1", false),
        ("[::2]", false),
    ] {
        let a = Authority::parse(input).unwrap();
        assert_eq!(a.host.is_loopback(), want, "{input}");
    }
}

proptest::proptest! {
    #[test]
    fn any_text_is_allowed_or_refused_never_a_panic(s in "\\PC{0,80}") {
        let _ = Origins::parse(LIST).unwrap().allows(&s);
        let _ = Origins::parse(&s);
    }

    #[test]
    fn a_parsed_authority_prints_as_itself(s in "[a-zA-Z0-9.:\\[\\]_-]{0,40}") {
        if let Ok(a) = Authority::parse(&s) {
            proptest::prop_assert_eq!(Authority::parse(&a.to_string()), Ok(a));
        }
    }
}
