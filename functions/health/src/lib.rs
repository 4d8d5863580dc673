//! Health function: `GET /health` (dependency checks with latency and the stream backlog),
//! `GET /metrics` (Prometheus text) and `GET /livez` (no dependency calls). Behaviour lives
//! in `ingest_core::health`; this crate holds the platform adapters.

pub use ingest_core::health::is_health_path;

/// Cloudflare Workers adapter.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod workers {
    use ingest_core::drain::Io;
    use ingest_core::health::{HealthPlan, finish, plan};
    use platform::workers as w;
    use worker::{Env, Request, Response};

    /// Answer a health request.
    pub async fn handle(req: &Request, env: &Env) -> worker::Result<Response> {
        let (cfg, dcfg) = match (w::config(env), w::drain_config(env)) {
            (Ok(c), Ok(d)) => (c, d),
            (Err(e), _) | (_, Err(e)) => {
                return w::response(ingest_core::collector::config_error_reply(&e, None));
            }
        };
        let group = dcfg.map_or("processors", |d| d.group.as_str());
        let reply = match plan(
            req.method().as_ref(),
            &req.path(),
            &cfg.stream_key,
            group,
            dcfg.map(|d| &d.target),
        ) {
            HealthPlan::Respond(r) => r,
            HealthPlan::Probe(probes) => {
                let io = w::WorkerIo { cfg };
                let t0 = w::now_ms();
                let redis = io.redis(&probes.redis).await;
                let t1 = w::now_ms();
                let ch = match &probes.clickhouse {
                    Some(r) => Some((io.clickhouse(r).await, (w::now_ms() - t1) as f64)),
                    None => None,
                };
                finish(&probes, (redis, (t1 - t0) as f64), ch, w::now_ms())
            }
        };
        w::response(reply)
    }
}
