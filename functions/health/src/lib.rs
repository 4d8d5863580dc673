//! Health function: `GET /health` (dependency checks with latency and the stream backlog),
//! `GET /metrics` (Prometheus text) and `GET /livez` (no dependency calls). Behaviour lives
//! in `ingest_core::health`; this crate holds the platform adapters.

pub use ingest_core::health::is_health_path;

/// Cloudflare Workers adapter.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod workers {
    use ingest_core::health::{HealthPlan, deep_access, dependencies, plan, run};
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
        // Direct sink: ClickHouse only. Redis sink: the stream, plus ClickHouse if drained here.
        let (stream, target) = dependencies(cfg, dcfg);
        let auth = req.headers().get("authorization").ok().flatten();
        let access = deep_access(cfg.metrics_token.as_deref(), auth.as_deref());
        let reply = match plan(req.method().as_ref(), &req.path(), access, stream, target) {
            HealthPlan::Respond(r) => r,
            HealthPlan::Probe(probes) => run(&w::WorkerIo { cfg }, &probes).await,
        };
        w::response(reply)
    }
}

/// Fermyon Spin / WASI HTTP adapter. Built as its own component, it serves the health
/// routes; the collector component also calls [`spin::handle`] for them.
#[cfg(target_os = "wasi")]
pub mod spin {
    use ingest_core::drain::DrainConfig;
    use ingest_core::health::{HealthPlan, deep_access, dependencies, plan, run};
    use platform::spin as s;
    use spin_sdk::http::Response;

    /// Answer a health request (the routes read the method, the path and, for the deep
    /// routes, the `Authorization` header).
    pub async fn handle(method: &str, path: &str, authorization: Option<&str>) -> Response {
        let cfg = match s::config() {
            Ok(c) => c,
            Err(e) => return s::response(ingest_core::collector::config_error_reply(&e, None)),
        };
        let dcfg = match s::lookup("CLICKHOUSE_URL").filter(|v| !v.trim().is_empty()) {
            None => None,
            Some(_) => match DrainConfig::from_lookup(s::lookup) {
                Ok(d) => Some(d),
                Err(e) => return s::response(ingest_core::collector::config_error_reply(&e, None)),
            },
        };
        let (stream, target) = dependencies(&cfg, dcfg.as_ref());
        let access = deep_access(cfg.metrics_token.as_deref(), authorization);
        let reply = match plan(method, path, access, stream, target) {
            HealthPlan::Respond(r) => r,
            HealthPlan::Probe(probes) => run(&s::SpinIo { cfg: &cfg }, &probes).await,
        };
        s::response(reply)
    }

    /// The health component's own entry point.
    #[cfg(feature = "component")]
    #[allow(
        unsafe_code,
        reason = "spin-sdk's #[http_component] generates the component's export glue"
    )]
    mod entry {
        use spin_sdk::http::{Request, Response};

        #[spin_sdk::http_component]
        async fn serve(req: Request) -> Response {
            let auth = req.header("authorization").and_then(|v| v.as_str());
            super::handle(platform::spin::method(&req), req.path(), auth).await
        }
    }
}
