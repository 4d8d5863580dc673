//! The one error type of the collector boundary: every way a request can fail, with the
//! HTTP status and JSON body it maps to, decided in one place.

use crate::reply::Reply;

/// Why a collector request was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestError {
    /// The body is not JSON of the expected shape (names what was wrong).
    Malformed(String),
    /// Every event of the request was invalid; the rejects explain each one.
    AllInvalid(crate::validate::Rejects),
    /// No write key in `Authorization` nor in the body.
    MissingWriteKey,
    /// A write key was given but is not in `ALLOWED_WRITE_KEYS`.
    UnknownWriteKey,
    /// The key requires signed requests and the signature is missing, stale or wrong.
    InvalidSignature(String),
    /// The browser origin is not in `ALLOWED_ORIGINS`.
    OriginNotAllowed(String),
    /// The `Host` header is missing or not a valid `host[:port]` (names why).
    InvalidHost(String),
    /// Body (raw or inflated) larger than the configured cap.
    TooLarge {
        /// The cap that was exceeded, in bytes.
        limit: usize,
    },
    /// The request would grow past its work budget after enrichment (see
    /// [`crate::collector::work_budget`]): too many events, or a batch-level `context`
    /// copied into too many events. Names the field and the limit.
    Expands(String),
    /// `Content-Encoding` other than identity or gzip.
    UnsupportedEncoding(String),
    /// Route exists but not for this method.
    MethodNotAllowed,
    /// No such route.
    NotFound,
    /// Too many requests for this write key and client in the window.
    RateLimited {
        /// Milliseconds until the window resets.
        retry_after_ms: u64,
    },
    /// Redis (or another backend) could not confirm the write: nothing was acknowledged.
    BackendUnavailable(String),
    /// The function's configuration is invalid; names the variable, never a secret value.
    Config(String),
}

impl IngestError {
    /// HTTP status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::AllInvalid(_) | Self::InvalidHost(_) => 400,
            Self::MissingWriteKey | Self::UnknownWriteKey | Self::InvalidSignature(_) => 401,
            Self::OriginNotAllowed(_) => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::TooLarge { .. } | Self::Expands(_) => 413,
            Self::UnsupportedEncoding(_) => 415,
            Self::RateLimited { .. } => 429,
            Self::Config(_) => 500,
            Self::BackendUnavailable(_) => 503,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_body",
            Self::AllInvalid(_) => "invalid_events",
            Self::MissingWriteKey => "missing_write_key",
            Self::UnknownWriteKey => "invalid_write_key",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::OriginNotAllowed(_) => "origin_not_allowed",
            Self::InvalidHost(_) => "invalid_host",
            Self::TooLarge { .. } => "payload_too_large",
            Self::Expands(_) => "batch_too_large",
            Self::UnsupportedEncoding(_) => "unsupported_content_encoding",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::NotFound => "not_found",
            Self::RateLimited { .. } => "rate_limited",
            Self::BackendUnavailable(_) => "backend_unavailable",
            Self::Config(_) => "configuration_error",
        }
    }

    /// Human-readable message (never contains a secret or a full key).
    pub fn message(&self) -> String {
        match self {
            Self::Malformed(m) => m.clone(),
            Self::AllInvalid(r) => format!("all {} events were rejected", r.total()),
            Self::MissingWriteKey => {
                "missing write key: send `Authorization: Basic base64(writeKey:)` or a `writeKey` field".into()
            }
            Self::UnknownWriteKey => "write key is not allowed".into(),
            Self::InvalidSignature(m) | Self::Expands(m) => m.clone(),
            Self::OriginNotAllowed(o) => format!("origin {o:?} is not in ALLOWED_ORIGINS"),
            Self::InvalidHost(m) => m.clone(),
            Self::TooLarge { limit } => format!("body exceeds {limit} bytes"),
            Self::UnsupportedEncoding(e) => {
                format!("Content-Encoding {e:?} is not supported (use gzip or none)")
            }
            Self::MethodNotAllowed => "method not allowed on this route".into(),
            Self::NotFound => "no such route".into(),
            Self::RateLimited { retry_after_ms } => {
                format!("rate limit exceeded, retry in {retry_after_ms} ms")
            }
            Self::BackendUnavailable(m) => format!("event store unavailable: {m}"),
            Self::Config(m) => format!("configuration error: {m}"),
        }
    }

    /// The full HTTP reply for this error (CORS headers are added by the caller).
    pub fn to_reply(&self) -> Reply {
        let mut body = serde_json::json!({
            "success": false,
            "code": self.code(),
            "message": self.message(),
        });
        if let (Self::AllInvalid(rejects), Some(obj)) = (self, body.as_object_mut()) {
            rejects.add_to(obj);
        }
        let mut reply = Reply::json(self.status(), body.to_string());
        match self {
            Self::RateLimited { retry_after_ms } => {
                reply.set_header(
                    "retry-after",
                    retry_after_ms.div_ceil(1000).max(1).to_string(),
                );
            }
            Self::BackendUnavailable(_) => reply.set_header("retry-after", "5".to_string()),
            Self::MethodNotAllowed => reply.set_header("allow", "POST, OPTIONS".to_string()),
            _ => {}
        }
        reply
    }
}

impl std::fmt::Display for IngestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for IngestError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_reply_carries_retry_after_in_whole_seconds() {
        let r = IngestError::RateLimited {
            retry_after_ms: 1500,
        }
        .to_reply();
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some("2"));
    }

    #[test]
    fn backend_unavailable_is_503_with_retry_after() {
        let r = IngestError::BackendUnavailable("x".into()).to_reply();
        assert_eq!(r.status, 503);
        assert!(r.header("retry-after").is_some());
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["code"], "backend_unavailable");
    }
}
