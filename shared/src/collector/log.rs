//! The request's log line.

use crate::config::LogLevel;

/// One structured log line per request (no bodies, keys or full IPs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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

    /// The JSON text of the line, with the request's duration.
    pub fn to_json(&self, duration_ms: f64) -> String {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            msg: &'static str,
            #[serde(flatten)]
            line: &'a LogLine,
            duration_ms: f64,
        }
        let line = Line {
            msg: "request",
            line: self,
            duration_ms: (duration_ms * 100.0).round() / 100.0,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_one_json_object_with_the_duration_last() {
        let mut l = LogLine::new("ab12".into(), "batch");
        l.status = 503;
        l.error = Some("backend_unavailable");
        let v: serde_json::Value = serde_json::from_str(&l.to_json(12.345)).unwrap();
        assert_eq!(v["msg"], "request");
        assert_eq!(v["request_id"], "ab12");
        assert_eq!(v["status"], 503);
        assert_eq!(v["key_id"], serde_json::Value::Null);
        assert_eq!(v["duration_ms"], 12.35);
        assert!(l.enabled(LogLevel::Error));
        assert!(!LogLine::new("x".into(), "batch").enabled(LogLevel::Warn));
    }
}
