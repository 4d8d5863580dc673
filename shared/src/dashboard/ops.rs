//! Operational routes of the dashboard function, in the pattern of the health function:
//! `/livez` (open, no dependency call), `/health` (JSON, ClickHouse as the reader and
//! Redis, with latency) and `/metrics` (Prometheus text), the last two behind
//! `Authorization: Bearer <METRICS_TOKEN>`.

use super::config::DashboardConfig;
use super::error::DashError;
use super::http_reply;
use crate::Reply;
use crate::io::Io;
use serde_json::json;

/// Whether `path` is one of the operational routes.
pub fn is_ops_path(path: &str) -> bool {
    matches!(path, "/livez" | "/healthz" | "/health" | "/metrics")
}

async fn probe<I: Io>(
    io: &I,
    cfg: &DashboardConfig,
) -> [(&'static str, Result<(), String>, i64); 2] {
    let t0 = io.now_ms();
    let ch = match http_reply(io.clickhouse(&cfg.clickhouse.probe()).await) {
        Ok((200, _)) => Ok(()),
        Ok((s, b)) => Err(format!(
            "HTTP {s}: {}",
            String::from_utf8_lossy(b.get(..200).unwrap_or(&b)).trim()
        )),
        Err(e) => Err(e),
    };
    let t1 = io.now_ms();
    let redis = super::session::redis_result(http_reply(
        io.redis(&crate::redis::command(&["PING"])).await,
    ))
    .map(|_| ())
    .map_err(|e| e.to_reply().body);
    let t2 = io.now_ms();
    [("clickhouse", ch, t1 - t0), ("redis", redis, t2 - t1)]
}

/// Answer an operational route.
pub async fn handle<I: Io>(
    io: &I,
    cfg: &DashboardConfig,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Reply {
    if method != "GET" && method != "HEAD" {
        return DashError::Method("GET, HEAD").to_reply();
    }
    if matches!(path, "/livez" | "/healthz") {
        return Reply::json(
            200,
            json!({"status": "ok", "version": crate::health::VERSION}).to_string(),
        );
    }
    let allowed = cfg
        .metrics_token
        .as_deref()
        .is_some_and(|t| crate::auth::bearer_matches(t, authorization));
    if !allowed {
        let mut r = Reply::json(
            401,
            json!({"error": "token_missing", "message": "send Authorization: Bearer <METRICS_TOKEN> (without METRICS_TOKEN set, /health and /metrics are closed)"}).to_string(),
        );
        r.set_header("www-authenticate", "Bearer".into());
        return r;
    }
    let checks = probe(io, cfg).await;
    let ok = checks.iter().all(|(_, r, _)| r.is_ok());
    let mut r = if path == "/metrics" {
        let mut out = String::from(
            "# HELP dashboard_dependency_up 1 when the dependency answered.\n# TYPE dashboard_dependency_up gauge\n",
        );
        for (name, res, _) in &checks {
            out.push_str(&format!(
                "dashboard_dependency_up{{dependency=\"{name}\"}} {}\n",
                u8::from(res.is_ok())
            ));
        }
        out.push_str("# HELP dashboard_dependency_latency_seconds Latency of the probe.\n# TYPE dashboard_dependency_latency_seconds gauge\n");
        for (name, _, ms) in &checks {
            out.push_str(&format!(
                "dashboard_dependency_latency_seconds{{dependency=\"{name}\"}} {}\n",
                *ms as f64 / 1000.0
            ));
        }
        let mut r = Reply::json(200, out);
        r.set_header("content-type", "text/plain; version=0.0.4".into());
        r
    } else {
        let mut body = serde_json::Map::new();
        for (name, res, ms) in checks {
            body.insert(
                name.into(),
                match res {
                    Ok(()) => json!({"status": "ok", "latency_ms": ms}),
                    Err(e) => json!({"status": "error", "latency_ms": ms, "error": e}),
                },
            );
        }
        Reply::json(
            if ok { 200 } else { 503 },
            json!({"status": if ok { "ok" } else { "degraded" }, "version": crate::health::VERSION, "checks": body}).to_string(),
        )
    };
    r.set_header("cache-control", "no-store".into());
    r
}
