//! Health, sans IO: `/livez` answers without touching a dependency; `/health` asks the
//! adapter to probe each dependency and reports status and latency per dependency.

use crate::redis::{RestCall, command, parse_result};
use crate::reply::Reply;

/// Version reported by health endpoints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a health request needs.
#[derive(Debug)]
pub enum HealthPlan {
    /// Answer at once (liveness, 404, 405).
    Respond(Reply),
    /// Probe Redis with this call, then pass the outcome to [`finish`].
    Probe(RestCall),
}

/// Whether a path belongs to the health function.
pub fn is_health_path(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/health" | "/livez" | "/healthz"
    )
}

/// Decide what a health request needs.
pub fn plan(method: &str, path: &str) -> HealthPlan {
    if method != "GET" && method != "HEAD" {
        let mut r = Reply::json(405, r#"{"status":"error","message":"use GET"}"#.into());
        r.set_header("allow", "GET, HEAD".into());
        return HealthPlan::Respond(r);
    }
    match path.trim_end_matches('/') {
        "/livez" | "/healthz" => HealthPlan::Respond(Reply::json(
            200,
            serde_json::json!({ "status": "ok", "version": VERSION }).to_string(),
        )),
        "/health" => HealthPlan::Probe(command(&["PING"])),
        _ => HealthPlan::Respond(Reply::json(
            404,
            r#"{"status":"error","message":"no such route"}"#.into(),
        )),
    }
}

/// Build the `/health` reply from the Redis probe's outcome and its latency.
pub fn finish(redis: Result<(u16, Vec<u8>), String>, latency_ms: f64) -> Reply {
    let check = match redis.and_then(|(s, b)| parse_result(s, &b).map_err(|e| format!("{e:?}"))) {
        Ok(v) if v == "PONG" => Ok(()),
        Ok(v) => Err(format!("unexpected PING reply {v}")),
        Err(e) => Err(e),
    };
    let latency = (latency_ms * 100.0).round() / 100.0;
    let (ok, redis_json) = match check {
        Ok(()) => (
            true,
            serde_json::json!({ "status": "ok", "latency_ms": latency }),
        ),
        Err(e) => (
            false,
            serde_json::json!({ "status": "error", "latency_ms": latency, "error": e }),
        ),
    };
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": VERSION,
        "checks": { "redis": redis_json },
    });
    let mut r = Reply::json(if ok { 200 } else { 503 }, body.to_string());
    r.set_header("cache-control", "no-store".into());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_needs_no_dependency() {
        assert!(matches!(plan("GET", "/livez"), HealthPlan::Respond(r) if r.status == 200));
        assert!(matches!(plan("GET", "/health"), HealthPlan::Probe(_)));
        assert!(matches!(plan("POST", "/health"), HealthPlan::Respond(r) if r.status == 405));
    }

    #[test]
    fn health_reports_each_dependency() {
        let ok = finish(Ok((200, br#"{"result":"PONG"}"#.to_vec())), 1.234);
        assert_eq!(ok.status, 200);
        let v: serde_json::Value = serde_json::from_str(&ok.body).unwrap();
        assert_eq!(v["checks"]["redis"]["status"], "ok");
        assert_eq!(v["checks"]["redis"]["latency_ms"], 1.23);
        let down = finish(Err("connection refused".into()), 3.0);
        assert_eq!(down.status, 503);
        let v: serde_json::Value = serde_json::from_str(&down.body).unwrap();
        assert_eq!(v["checks"]["redis"]["status"], "error");
        assert_eq!(
            finish(Ok((401, br#"{"error":"Unauthorized"}"#.to_vec())), 1.0).status,
            503
        );
    }
}
