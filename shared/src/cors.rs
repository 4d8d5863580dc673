//! CORS policy from `ALLOWED_ORIGINS`: which browser origins may send events, the
//! preflight answer, and the headers every response carries. Origins are parsed into
//! scheme, host and port and compared as such, never as strings.

use crate::reply::Reply;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host part of an origin or of a `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name: lower case, dot-separated labels of `a-z 0-9 - _`, no empty label,
    /// no trailing dot, last label not all digits.
    Name(String),
    /// A dotted-quad IPv4 address or a bracketed IPv6 address.
    Ip(IpAddr),
}

impl Host {
    /// Whether the host is this machine: `localhost`, 127.0.0.0/8 or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        match self {
            Self::Name(n) => n == "localhost",
            Self::Ip(ip) => ip.is_loopback(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n),
            Self::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Self::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// `host[:port]`, as in a serialized origin or a `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// The host.
    pub host: Host,
    /// The port, if one was written.
    pub port: Option<u16>,
}

/// Longest `host[:port]` accepted.
const MAX_AUTHORITY_LEN: usize = 255;

impl Authority {
    /// Parse `host[:port]`: a DNS name, a dotted-quad IPv4 address or a bracketed IPv6
    /// address, then optionally `:` and 1 to 5 digits (1–65535); at most 255 characters.
    /// Anything else (userinfo, path, query, empty port, spaces, non-ASCII) is refused;
    /// the error says why.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() {
            return Err("has no host");
        }
        if s.len() > MAX_AUTHORITY_LEN {
            return Err("is longer than 255 characters");
        }
        if s.contains('@') {
            return Err("contains userinfo (@)");
        }
        if s.contains('/') {
            return Err("contains a path (/)");
        }
        if s.contains(['?', '#']) {
            return Err("contains a query or fragment (? or #)");
        }
        let (host, port) = match s.strip_prefix('[') {
            Some(rest) => {
                let (inner, after) = rest
                    .split_once(']')
                    .ok_or("has an IPv6 address without a closing ]")?;
                let ip: Ipv6Addr = inner.parse().map_err(|_| "has an invalid IPv6 address")?;
                let port = match after {
                    "" => None,
                    p => Some(
                        p.strip_prefix(':')
                            .ok_or("has text after the IPv6 address")?,
                    ),
                };
                (Host::Ip(IpAddr::V6(ip)), port)
            }
            None => {
                let (name, port) = match s.split_once(':') {
                    Some((n, p)) => (n, Some(p)),
                    None => (s, None),
                };
                (parse_host(name)?, port)
            }
        };
        let port = port.map(parse_port).transpose()?;
        Ok(Self { host, port })
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

/// A DNS name or a dotted-quad IPv4 address (not bracketed IPv6).
fn parse_host(s: &str) -> Result<Host, &'static str> {
    const NOT_A_HOST: &str = "has a host that is not a DNS name or an IP address";
    if s.is_empty() {
        return Err("has no host");
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let name = s.to_ascii_lowercase();
    let labels_ok = name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    // A last label of digits only is an (abbreviated) IPv4 address to a browser.
    let last_numeric = name
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if !labels_ok || last_numeric {
        return Err(NOT_A_HOST);
    }
    Ok(Host::Name(name))
}

fn parse_port(p: &str) -> Result<u16, &'static str> {
    const BAD_PORT: &str = "has an invalid port (1 to 65535, digits only)";
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BAD_PORT);
    }
    p.parse::<u16>().ok().filter(|&n| n != 0).ok_or(BAD_PORT)
}

/// `scheme://rest`: the scheme (lower case, RFC 3986 grammar) and the rest.
fn split_scheme(s: &str) -> Result<(String, &str), &'static str> {
    let (scheme, rest) = s.split_once("://").ok_or("has no scheme (like https://)")?;
    let mut bytes = scheme.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid {
        return Err("has an invalid scheme");
    }
    Ok((scheme.to_ascii_lowercase(), rest))
}

/// The port a browser leaves out of the origin for this scheme.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

fn without_default_port(scheme: &str, port: Option<u16>) -> Option<u16> {
    port.filter(|&p| Some(p) != default_port(scheme))
}

/// A serialized origin, `scheme://host[:port]`, with the scheme's default port dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: Host,
    port: Option<u16>,
}

impl Origin {
    fn parse(s: &str) -> Result<Self, &'static str> {
        let (scheme, rest) = split_scheme(s)?;
        let Authority { host, port } = Authority::parse(rest)?;
        let port = without_default_port(&scheme, port);
        Ok(Self { scheme, host, port })
    }
}

/// A `scheme://*.suffix[:port]` entry: any host of one or more whole labels under
/// `suffix`, with the same scheme and port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wildcard {
    scheme: String,
    /// The DNS name under which hosts match, without the leading dot.
    suffix: String,
    port: Option<u16>,
}

impl Wildcard {
    fn parse(scheme: String, pattern: &str) -> Result<Self, &'static str> {
        let Authority { host, port } = Authority::parse(pattern)?;
        let Host::Name(suffix) = host else {
            return Err("has a wildcard over an IP address; write *.<domain name>");
        };
        if !suffix.contains('.') && suffix != "localhost" {
            return Err(
                "has a wildcard over a single label; name at least two labels (https://*.example.com)",
            );
        }
        let port = without_default_port(&scheme, port);
        Ok(Self {
            scheme,
            suffix,
            port,
        })
    }

    fn matches(&self, o: &Origin) -> bool {
        let Host::Name(name) = &o.host else {
            return false;
        };
        o.scheme == self.scheme
            && o.port == self.port
            && name
                .strip_suffix(self.suffix.as_str())
                .and_then(|sub| sub.strip_suffix('.'))
                .is_some_and(|sub| !sub.is_empty())
    }
}

/// Allowed origins: `*`, `null`, exact origins, or `https://*.example.com` subdomain
/// patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    /// `*`: every syntactically valid origin (never `null`).
    any: bool,
    /// `null` was listed explicitly (sandboxed iframes, `file:` pages).
    null: bool,
    exact: Vec<Origin>,
    wildcard: Vec<Wildcard>,
}

impl Origins {
    /// Parse a comma-separated list of `*`, `null`, `scheme://host[:port]` and
    /// `scheme://*.domain[:port]` entries (case-insensitive; one trailing `/` tolerated;
    /// a scheme's default port is the same as none). The error names the first bad entry.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut o = Self {
            any: false,
            null: false,
            exact: Vec::new(),
            wildcard: Vec::new(),
        };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry == "*" {
                o.any = true;
            } else if entry.eq_ignore_ascii_case("null") {
                o.null = true;
            } else {
                o.add(entry).map_err(|why| {
                    format!(
                        "entry {entry:?} {why}; expected scheme://host[:port] \
                         (https://example.com, https://*.example.com), * or null"
                    )
                })?;
            }
        }
        Ok(o)
    }

    fn add(&mut self, entry: &str) -> Result<(), &'static str> {
        let entry = entry.strip_suffix('/').unwrap_or(entry);
        let (scheme, rest) = split_scheme(entry)?;
        let (pattern, wild) = match rest.strip_prefix("*.") {
            Some(p) => (p, true),
            None => (rest, false),
        };
        if pattern.contains('*') {
            return Err("has a * that is not the whole first label (https://*.example.com)");
        }
        if wild {
            self.wildcard.push(Wildcard::parse(scheme, pattern)?);
        } else {
            let Authority { host, port } = Authority::parse(pattern)?;
            let port = without_default_port(&scheme, port);
            self.exact.push(Origin { scheme, host, port });
        }
        Ok(())
    }

    /// Whether a browser origin may call the collector. An `Origin` value that is not a
    /// serialized origin (`scheme://host[:port]`: no path, userinfo, query or fragment) is
    /// never allowed; `null` only when listed, even with `*`.
    pub fn allows(&self, origin: &str) -> bool {
        if origin == "null" {
            return self.null;
        }
        let Ok(o) = Origin::parse(origin) else {
            return false;
        };
        self.any || self.exact.contains(&o) || self.wildcard.iter().any(|w| w.matches(&o))
    }

    /// Add the CORS headers for an allowed origin to a reply: `Access-Control-Allow-Origin`
    /// is `*` under `*`, else the origin itself; `Vary: Origin` always. Never
    /// `Access-Control-Allow-Credentials`: the collector needs no cookies.
    pub fn decorate(&self, origin: Option<&str>, reply: &mut Reply) {
        reply.set_header("vary", "Origin".into());
        if let Some(o) = origin.filter(|o| self.allows(o)) {
            let value = if self.any && o != "null" { "*" } else { o };
            reply.set_header("access-control-allow-origin", value.to_string());
        }
    }

    /// The answer to an `OPTIONS` preflight: 204 with the allow headers, or 403.
    pub fn preflight(&self, origin: Option<&str>, requested_headers: Option<&str>) -> Reply {
        match origin {
            Some(o) if self.allows(o) => {
                let mut r = Reply::empty(204);
                self.decorate(Some(o), &mut r);
                r.set_header("access-control-allow-methods", "POST, GET, OPTIONS".into());
                r.set_header(
                    "access-control-allow-headers",
                    requested_headers
                        .filter(|h| h.len() < 1024)
                        .unwrap_or("Content-Type, Authorization, Content-Encoding")
                        .to_string(),
                );
                r.set_header("access-control-max-age", "86400".into());
                r
            }
            Some(o) => crate::error::IngestError::OriginNotAllowed(o.to_string()).to_reply(),
            // A preflight without Origin is not from a browser; answer it harmlessly.
            None => Reply::empty(204),
        }
    }
}

#[cfg(test)]
mod tests {
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
}
