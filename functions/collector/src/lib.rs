//! Collector function: the Segment-compatible ingestion endpoint. Behaviour lives in
//! `ingest_core::collector`; this crate holds the platform entry points.
//!
//! On Cloudflare Workers one script serves the collector routes and the health routes
//! (one deploy, no extra hop); on Spin they are separate components.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod workers {
    use ingest_core::collector::{Incoming, Plan, config_error_reply, finish, plan};
    use platform::workers as w;
    use worker::{Context, Env, Request, Response, event};

    #[event(fetch)]
    async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
        let started = w::now_ms();
        let path = req.path();
        if health::is_health_path(&path) {
            return health::workers::handle(&req, &env).await;
        }
        let headers = w::header_map(req.headers());
        let cfg = match w::config(&env) {
            Ok(c) => c,
            Err(e) => {
                let origin = headers.get("origin").and_then(|v| v.to_str().ok());
                worker::console_error!("{}", serde_json_error_line(&e));
                return w::response(config_error_reply(&e, origin));
            }
        };
        let method = req.method();
        let body = if method == worker::Method::Post {
            req.bytes().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        let geo = w::geo(&req);
        let incoming = Incoming {
            method: method.as_ref(),
            path: &path,
            headers: &headers,
            body: &body,
            peer_ip: None,
            geo: geo.as_ref(),
            now_ms: started,
        };
        let (reply, line) = match plan(cfg, &incoming, &mut w::Rng) {
            Plan::Respond(reply, line) => (reply, line),
            Plan::Call { call, pending } => finish(cfg, pending, w::upstash(cfg, &call).await),
        };
        if line.enabled(cfg.log_level) {
            w::log(line.status, &line.to_json((w::now_ms() - started) as f64));
        }
        w::response(reply)
    }

    fn serde_json_error_line(message: &str) -> String {
        format!(
            "{{\"msg\":\"configuration error\",\"error\":{}}}",
            ingest_core::enrich::json_str(message)
        )
    }
}
