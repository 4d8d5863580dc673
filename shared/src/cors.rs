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
mod tests;
