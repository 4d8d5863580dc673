//! Health, sans IO: `/livez` answers without touching a dependency; `/health` asks the
//! adapter to probe Redis (with one script that also reads the stream's backlog) and
//! ClickHouse, and reports status and latency per dependency; `/metrics` renders the same
//! figures as Prometheus text for the alert rules.

use crate::clickhouse::{self, Target};
use crate::io::CallOutcome;
use crate::redis::RestCall;
use crate::reply::Reply;
use crate::stream::{StreamStats, parse_stats, stats_call};

/// Version reported by health endpoints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a health request needs.
#[derive(Debug)]
pub enum HealthPlan {
    /// Answer at once (liveness, 404, 405).
    Respond(Reply),
    /// Make these calls, then pass the outcomes to [`finish`].
    Probe(Probes),
}

/// The dependency calls of `/health` and `/metrics`.
#[derive(Debug)]
pub struct Probes {
    /// Redis: the stream statistics script (also proves Redis answers); none with the
    /// direct ClickHouse sink.
    pub redis: Option<RestCall>,
    /// ClickHouse: the disk-use probe ([`Target::probe`], one query on `system.disks`), when
    /// ClickHouse is configured.
    pub clickhouse: Option<clickhouse::Request>,
    /// Render Prometheus text instead of JSON.
    pub metrics: bool,
}

/// Timed outcome of one probe.
pub type Timed = (CallOutcome, f64);

/// Whether a path belongs to the health function.
pub fn is_health_path(path: &str) -> bool {
    matches!(
        path.trim_end_matches('/'),
        "/health" | "/livez" | "/healthz" | "/metrics"
    )
}

/// Which dependencies a deployment has: with the direct sink only ClickHouse; with the
/// Redis sink the stream (key, shards, consumer group), plus ClickHouse when this
/// deployment drains.
pub fn dependencies<'a>(
    cfg: &'a crate::Config,
    drain: Option<&'a crate::drain::DrainConfig>,
) -> (Option<(&'a str, u16, &'a str)>, Option<&'a Target>) {
    match &cfg.sink {
        crate::config::Sink::ClickHouse(t) => (None, Some(t)),
        crate::config::Sink::Redis => {
            let group = drain.map_or("processors", |d| d.group.as_str());
            (
                Some((cfg.stream_key.as_str(), cfg.stream_shards, group)),
                drain.map(|d| &d.target),
            )
        }
    }
}

/// Whether a caller may use the deep routes (`/health`, `/metrics`), which cost backend
/// calls: only with `Authorization: Bearer <METRICS_TOKEN>`. Without a configured token
/// they are closed; `/livez` is always open and free.
pub fn deep_access(
    token: Option<&secrecy::SecretString>,
    authorization: Option<&str>,
) -> Result<(), &'static str> {
    use secrecy::ExposeSecret as _;
    match token {
        None => Err(
            "METRICS_TOKEN is not set: /health and /metrics are closed (use /livez for liveness)",
        ),
        Some(t) if crate::auth::bearer_matches(t.expose_secret(), authorization) => Ok(()),
        Some(_) => Err("send Authorization: Bearer <METRICS_TOKEN> for /health and /metrics"),
    }
}

/// Decide what a health request needs.
/// `stream` is `(stream key, shards, consumer group)` when Redis is in use.
pub fn plan(
    method: &str,
    path: &str,
    access: Result<(), &str>,
    stream: Option<(&str, u16, &str)>,
    ch: Option<&Target>,
) -> HealthPlan {
    if method != "GET" && method != "HEAD" {
        let mut r = Reply::json(405, r#"{"status":"error","message":"use GET"}"#.into());
        r.set_header("allow", "GET, HEAD".into());
        return HealthPlan::Respond(r);
    }
    let probes = |metrics| {
        if let Err(why) = access {
            let mut r = Reply::json(
                401,
                serde_json::json!({ "status": "error", "message": why }).to_string(),
            );
            r.set_header("www-authenticate", "Bearer".into());
            return HealthPlan::Respond(r);
        }
        HealthPlan::Probe(Probes {
            redis: stream.map(|(s, n, g)| stats_call(s, n, g)),
            clickhouse: ch.map(Target::probe),
            metrics,
        })
    };
    match path.trim_end_matches('/') {
        "/livez" | "/healthz" => HealthPlan::Respond(Reply::json(
            200,
            serde_json::json!({ "status": "ok", "version": VERSION }).to_string(),
        )),
        "/health" => probes(false),
        "/metrics" => probes(true),
        _ => HealthPlan::Respond(Reply::json(
            404,
            r#"{"status":"error","message":"no such route"}"#.into(),
        )),
    }
}

fn round(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// The probe's answer: the share of ClickHouse disk space in use.
fn clickhouse_ok(outcome: &CallOutcome) -> Result<f64, String> {
    match outcome {
        Ok(reply) if reply.status == 200 => reply
            .snippet(200)
            .parse::<f64>()
            .map_err(|_| format!("unexpected probe answer {:?}", reply.snippet(200))),
        Ok(reply) => Err(format!("HTTP {}: {}", reply.status, reply.snippet(200))),
        Err(e) => Err(e.to_string()),
    }
}

/// The health function's entry point: the deployment's dependencies, the caller's access
/// to the deep routes, then the answer (probing the dependencies when the route needs it).
pub async fn serve<I: crate::io::Io>(
    io: &I,
    dep: &crate::serve::Deployment,
    method: &str,
    path: &str,
    authorization: Option<&str>,
) -> Reply {
    let (stream, target) = dependencies(&dep.config, dep.drain.as_ref());
    let access = deep_access(dep.config.metrics_token.as_ref(), authorization);
    match plan(method, path, access, stream, target) {
        HealthPlan::Respond(r) => r,
        HealthPlan::Probe(probes) => run(io, &probes).await,
    }
}

/// Run the probes through the platform's port (Redis, then ClickHouse, each timed) and
/// build the reply.
pub async fn run<I: crate::io::Io>(io: &I, probes: &Probes) -> Reply {
    let t0 = io.now_ms();
    let redis = match &probes.redis {
        Some(call) => Some((io.redis(call).await, (io.now_ms() - t0) as f64)),
        None => None,
    };
    let t1 = io.now_ms();
    let ch = match &probes.clickhouse {
        Some(r) => Some((io.clickhouse(r).await, (io.now_ms() - t1) as f64)),
        None => None,
    };
    finish(probes, redis, ch, io.now_ms())
}

/// Build the `/health` or `/metrics` reply from the probes' outcomes.
pub fn finish(
    probes: &Probes,
    redis: Option<Timed>,
    clickhouse: Option<Timed>,
    now_ms: i64,
) -> Reply {
    let stats = redis.map(|(o, ms)| (parse_stats(o, now_ms).map_err(|e| e.to_string()), ms));
    let ch = clickhouse.map(|(o, ms)| (clickhouse_ok(&o), ms));
    if probes.metrics {
        return metrics(stats.as_ref(), ch.as_ref());
    }
    let check = |r: Result<(), String>, ms: f64| match r {
        Ok(()) => serde_json::json!({ "status": "ok", "latency_ms": round(ms) }),
        Err(e) => serde_json::json!({ "status": "error", "latency_ms": round(ms), "error": e }),
    };
    let mut checks = serde_json::Map::new();
    let mut ok = true;
    if let Some((st, ms)) = &stats {
        ok &= st.is_ok();
        checks.insert(
            "redis".into(),
            check(st.as_ref().map(|_| ()).map_err(Clone::clone), *ms),
        );
    }
    if let Some((r, ms)) = &ch {
        ok &= r.is_ok();
        let mut c = check(r.as_ref().map(|_| ()).map_err(Clone::clone), *ms);
        if let (Ok(ratio), Some(obj)) = (r, c.as_object_mut()) {
            obj.insert("disk_used_ratio".into(), (*ratio).into());
        }
        checks.insert("clickhouse".into(), c);
    }
    let mut body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": VERSION,
        "checks": checks,
    });
    if let (Some((Ok(s), _)), Some(obj)) = (&stats, body.as_object_mut()) {
        obj.insert(
            "stream".into(),
            serde_json::json!({
                "length": s.length,
                "backlog": s.backlog,
                "pending": s.pending,
                "lag_seconds": s.lag_ms as f64 / 1000.0,
                "dead_letters": s.dead_letters,
            }),
        );
    }
    let mut r = Reply::json(if ok { 200 } else { 503 }, body.to_string());
    r.set_header("cache-control", "no-store".into());
    r
}

fn metrics(
    stats: Option<&(Result<StreamStats, String>, f64)>,
    ch: Option<&(Result<f64, String>, f64)>,
) -> Reply {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(1024);
    let mut gauge = |name: &str, help: &str, samples: &[(&str, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    gauge(
        "ingest_build_info",
        "Version of the health function.",
        &[(&format!("{{version=\"{VERSION}\"}}"), 1.0)],
    );
    let mut up = Vec::new();
    let mut lat = Vec::new();
    if let Some((st, ms)) = stats {
        up.push(("{dependency=\"redis\"}", f64::from(u8::from(st.is_ok()))));
        lat.push(("{dependency=\"redis\"}", ms / 1000.0));
    }
    if let Some((r, ms)) = ch {
        up.push((
            "{dependency=\"clickhouse\"}",
            f64::from(u8::from(r.is_ok())),
        ));
        lat.push(("{dependency=\"clickhouse\"}", ms / 1000.0));
    }
    gauge(
        "ingest_dependency_up",
        "1 when the dependency answered the health probe.",
        &up,
    );
    gauge(
        "ingest_dependency_latency_seconds",
        "Latency of the health probe.",
        &lat,
    );
    if let Some((Ok(ratio), _)) = ch {
        gauge(
            "ingest_clickhouse_disk_used_ratio",
            "Share of ClickHouse disk space in use (system.disks).",
            &[("", *ratio)],
        );
    }
    if let Some((Ok(s), _)) = stats {
        gauge(
            "ingest_stream_length",
            "Entries in the Redis stream (acknowledged ones are trimmed).",
            &[("", s.length as f64)],
        );
        gauge(
            "ingest_stream_backlog",
            "Entries not yet stored in ClickHouse (undelivered + pending).",
            &[("", s.backlog as f64)],
        );
        gauge(
            "ingest_stream_pending",
            "Entries delivered to the processors but not yet acknowledged.",
            &[("", s.pending as f64)],
        );
        gauge(
            "ingest_processor_lag_seconds",
            "Age of the oldest entry not yet stored in ClickHouse.",
            &[("", s.lag_ms as f64 / 1000.0)],
        );
        gauge(
            "ingest_dead_letter_length",
            "Entries in the dead-letter stream.",
            &[("", s.dead_letters as f64)],
        );
    }
    if let Some((Ok(s), _)) = stats {
        out.push_str(&crate::metrics::render(&s.counters));
    }
    let mut r = Reply::json(200, out);
    r.set_header("content-type", "text/plain; version=0.0.4".into());
    r.set_header("cache-control", "no-store".into());
    r
}

#[cfg(test)]
mod tests;
