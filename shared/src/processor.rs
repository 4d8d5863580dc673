//! The processor's entry points on the platforms that trigger the drain from outside: `POST /internal/drain` (Spin's processor component, for a scheduler to call)
//! and the Workers Cron Trigger.

use crate::Reply;
use crate::config::Sink;
use crate::drain::{ProcessorConfig, drain_scheduled};
use crate::io::Io;
use crate::serve::{Deployment, Log};

/// Seconds a caller should wait before retrying a failed drain.
const RETRY_AFTER_S: &str = "5";

fn error(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        serde_json::json!({ "success": false, "message": message }).to_string(),
    )
}

/// `POST …/drain` with `Authorization: Bearer <DRAIN_TOKEN>`: one scheduled drain of up to
/// `DRAIN_MAX_PASSES` passes through `io_for(deployment)`, answered with its report.
/// Without a configured token the route is closed, so it cannot be used to run up costs.
pub async fn serve<'d, I: Io>(
    dep: Result<&'d Deployment, &str>,
    run: Result<&ProcessorConfig, &str>,
    io_for: impl FnOnce(&'d Deployment) -> I,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> (Reply, Option<Log>) {
    if !path.trim_end_matches('/').ends_with("/drain") {
        return (error(404, "no such route; POST /drain"), None);
    }
    if method != "POST" {
        return (error(405, "use POST /drain"), None);
    }
    let run = match run {
        Ok(run) => run,
        Err(e) => return config_error(e),
    };
    let Some(token) = &run.drain_token else {
        let why = "DRAIN_TOKEN is not set: the drain route is disabled until it is configured";
        return (error(503, why), None);
    };
    let token = secrecy::ExposeSecret::expose_secret(token);
    if !crate::auth::bearer_matches(token, authorization) {
        return (
            error(401, "missing or wrong DRAIN_TOKEN bearer token"),
            None,
        );
    }
    let (dep, drain) = match dep.map(|d| (d, d.drain.as_ref())) {
        Ok((dep, Some(drain))) => (dep, drain),
        Ok((_, None)) => return config_error("CLICKHOUSE_URL is not set"),
        Err(e) => return config_error(e),
    };
    let consumer = run.consumer.as_deref().unwrap_or("spin");
    match drain_scheduled(&io_for(dep), drain, consumer, run.max_passes).await {
        Ok(r) => {
            let body = serde_json::json!({
                "success": true, "entries": r.entries, "rows": r.rows, "acked": r.acked,
                "dead_lettered": r.dead_lettered, "trimmed": r.trimmed, "lag_ms": r.oldest_ms,
            })
            .to_string();
            (Reply::json(200, body.clone()), Some(Log::info(body)))
        }
        Err(e) => {
            let mut r = error(503, &e.to_string());
            r.set_header("retry-after", RETRY_AFTER_S.into());
            (r, Some(Log::error(e.log_line("drain failed"))))
        }
    }
}

fn config_error(message: &str) -> (Reply, Option<Log>) {
    let line = serde_json::json!({ "msg": "configuration error", "error": message });
    (
        error(500, &format!("configuration error: {message}")),
        Some(Log::error(line.to_string())),
    )
}

/// The Workers Cron Trigger: the safety net that drains what no request drained (and takes
/// over entries a dead drainer left pending). Skipped, with a line saying why, when the
/// deployment does not drain.
pub async fn scheduled<I: Io>(io: &I, dep: &Deployment, max_passes: usize) -> Option<Log> {
    let drain = match (&dep.config.sink, &dep.drain) {
        (Sink::Redis, Some(d)) => d,
        _ => {
            let why = "scheduled drain skipped: no CLICKHOUSE_URL, or the direct sink is in use";
            return Some(Log::info(serde_json::json!({ "msg": why }).to_string()));
        }
    };
    match drain_scheduled(io, drain, "edge-cron", max_passes).await {
        Ok(r) if r.entries > 0 => Some(Log::info(r.log_line("scheduled drain"))),
        Ok(_) => None,
        Err(e) => Some(Log::error(e.log_line("scheduled drain"))),
    }
}
