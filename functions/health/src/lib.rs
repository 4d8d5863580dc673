//! Health function: `GET /health` (dependency checks with latency) and `GET /livez`
//! (no dependency calls). Behaviour lives in `ingest_core::health`; this crate holds the
//! platform adapters.

pub use ingest_core::health::is_health_path;

/// Cloudflare Workers adapter.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod workers {
    use ingest_core::health::{HealthPlan, finish, plan};
    use platform::workers as w;
    use worker::{Env, Request, Response};

    /// Answer a health request.
    pub async fn handle(req: &Request, env: &Env) -> worker::Result<Response> {
        let reply = match plan(req.method().as_ref(), &req.path()) {
            HealthPlan::Respond(r) => r,
            HealthPlan::Probe(call) => match w::config(env) {
                Err(e) => ingest_core::collector::config_error_reply(&e, None),
                Ok(cfg) => {
                    let started = worker::Date::now().as_millis();
                    let outcome = w::upstash(cfg, &call).await;
                    let elapsed = worker::Date::now().as_millis().saturating_sub(started);
                    finish(outcome, elapsed as f64)
                }
            },
        };
        w::response(reply)
    }
}
