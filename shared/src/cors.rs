//! CORS policy from `ALLOWED_ORIGINS`: which browser origins may send events, the
//! preflight answer, and the headers every response carries.

use crate::reply::Reply;

/// Allowed origins: `*`, exact origins, or `https://*.example.com` subdomain patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    any: bool,
    exact: Vec<String>,
    /// (scheme + "://", ".suffix") pairs from `scheme://*.suffix` entries.
    wildcard: Vec<(String, String)>,
}

impl Origins {
    /// Parse a comma-separated list. Entries are normalised to lower case without a
    /// trailing slash.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut o = Self {
            any: false,
            exact: Vec::new(),
            wildcard: Vec::new(),
        };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let entry = entry.trim_end_matches('/').to_ascii_lowercase();
            if entry == "*" {
                o.any = true;
            } else if let Some((scheme, host)) = entry.split_once("://") {
                if host.is_empty() || scheme.is_empty() {
                    return Err(format!(
                        "{entry:?} is not an origin like https://example.com"
                    ));
                }
                match host.strip_prefix("*.") {
                    Some(suffix) => o
                        .wildcard
                        .push((format!("{scheme}://"), format!(".{suffix}"))),
                    None => o.exact.push(entry),
                }
            } else {
                return Err(format!(
                    "{entry:?} is not an origin like https://example.com"
                ));
            }
        }
        Ok(o)
    }

    /// Whether a browser origin may call the collector.
    pub fn allows(&self, origin: &str) -> bool {
        if self.any {
            return true;
        }
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        self.exact.contains(&origin)
            || self.wildcard.iter().any(|(scheme, suffix)| {
                origin.strip_prefix(scheme.as_str()).is_some_and(|host| {
                    host.ends_with(suffix.as_str()) && host.len() > suffix.len()
                })
            })
    }

    /// Add the CORS headers for an allowed origin to a reply. No-op without an origin.
    pub fn decorate(&self, origin: Option<&str>, reply: &mut Reply) {
        reply.set_header("vary", "Origin".into());
        if let Some(o) = origin.filter(|o| self.allows(o)) {
            reply.set_header("access-control-allow-origin", o.to_string());
            reply.set_header("access-control-allow-credentials", "true".into());
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

    #[test]
    fn origin_matching_table() {
        let o = Origins::parse("https://app.example.com, https://*.shop.io,http://localhost:3000/")
            .unwrap();
        for (origin, want) in [
            ("https://app.example.com", true),
            ("HTTPS://APP.EXAMPLE.COM", true),
            ("http://app.example.com", false),
            ("https://evil.example.com", false),
            ("https://a.shop.io", true),
            ("https://a.b.shop.io", true),
            ("https://shop.io", false),
            ("https://evilshop.io", false),
            ("http://a.shop.io", false),
            ("http://localhost:3000", true),
            ("null", false),
        ] {
            assert_eq!(o.allows(origin), want, "{origin}");
        }
    }

    #[test]
    fn star_allows_everything_and_garbage_is_rejected() {
        assert!(Origins::parse("*").unwrap().allows("https://x.y"));
        assert!(Origins::parse("example.com").is_err());
        assert!(!Origins::parse("").unwrap().allows("https://x.y"));
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
        let bad = o.preflight(Some("https://bad.example"), None);
        assert_eq!(bad.status, 403);
        assert_eq!(bad.header("access-control-allow-origin"), None);
    }
}
