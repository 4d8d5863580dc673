//! The request's log line.

use crate::config::LogLevel;

/// One structured log line per request (no bodies, keys or full IPs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Random request id, also returned in `x-request-id`.
    pub request_id: String,
    /// Route name, e.g. `batch`, `track`, `preflight`.
    pub route: &'static str,
    /// Final status.
    pub status: u16,
    /// Events accepted.
    pub accepted: usize,
    /// Events rejected.
    pub rejected: usize,
    /// Write key id (hash prefix), once known.
    pub key_id: Option<String>,
    /// Error code for failures.
    pub error: Option<&'static str>,
    /// Detail for server-side failures.
    pub detail: Option<String>,
}

impl LogLine {
    pub(super) fn new(request_id: String, route: &'static str) -> Self {
        Self {
            request_id,
            route,
            status: 0,
            accepted: 0,
            rejected: 0,
            key_id: None,
            error: None,
            detail: None,
        }
    }

    /// Whether this line should be printed at `level`.
    pub fn enabled(&self, level: LogLevel) -> bool {
        let own = match self.status {
            500.. => LogLevel::Error,
            400..=499 if self.status != 404 && self.status != 429 => LogLevel::Warn,
            _ => LogLevel::Info,
        };
        own <= level
    }

    /// The JSON text of the line, with the duration the adapter measured.
    pub fn to_json(&self, duration_ms: f64) -> String {
        serde_json::json!({
            "msg": "request",
            "request_id": self.request_id,
            "route": self.route,
            "status": self.status,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "key_id": self.key_id,
            "error": self.error,
            "detail": self.detail,
            "duration_ms": (duration_ms * 100.0).round() / 100.0,
        })
        .to_string()
    }
}
