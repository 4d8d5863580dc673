//! Dashboard function: the Dashboard API and its web page. Behaviour lives in
//! `ingest_core::dashboard`; this crate embeds the page's bundled assets and holds the
//! platform entry points, which only convert requests and replies.
//!
//! On Cloudflare Workers it is a Worker script of its own (`functions/dashboard/wrangler.toml`),
//! so `JWT_SECRET` and the reader's password never reach the collector, and the collector's
//! wasm stays as small as it was. On Spin it is the `dashboard` component.

// spin-sdk's #[http_component] generates the component's export glue (unsafe).
#![cfg_attr(
    target_os = "wasi",
    allow(unsafe_code, reason = "spin-sdk export glue")
)]

use ingest_core::dashboard::Assets;

/// The page's script and stylesheet, bundled by `build.rs` (esbuild, uPlot included).
pub static ASSETS: Assets = Assets {
    script: include_str!(concat!(env!("OUT_DIR"), "/app.js")),
    style: include_str!(concat!(env!("OUT_DIR"), "/app.css")),
};

/// One JSON log line per request: route, status, duration.
pub fn log_line(method: &str, path: &str, status: u16, ms: i64) -> String {
    use ingest_core::enrich::json_str;
    format!(
        "{{\"fn\":\"dashboard\",\"method\":{},\"route\":{},\"status\":{status},\"duration_ms\":{ms}}}",
        json_str(method),
        json_str(&path.chars().take(64).collect::<String>())
    )
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod workers {
    use ingest_core::dashboard::{Cache, DashboardConfig, Incoming, routes::MAX_BODY, serve};
    use ingest_core::io::Backends;
    use platform::workers as w;
    use std::sync::OnceLock;
    use worker::{Context, Env, Request, Response, event};

    static CONFIG: OnceLock<DashboardConfig> = OnceLock::new();

    fn config(env: &Env) -> Result<&'static DashboardConfig, String> {
        if let Some(c) = CONFIG.get() {
            return Ok(c);
        }
        let parsed = DashboardConfig::from_lookup(|name| w::lookup(env, name))?;
        Ok(CONFIG.get_or_init(|| parsed))
    }

    /// The Workers Cache API (this data center's cache).
    struct EdgeCache;

    impl Cache for EdgeCache {
        async fn get(&self, key: &str) -> Option<String> {
            let mut hit = worker::Cache::default().get(key, false).await.ok()??;
            hit.text().await.ok()
        }
        async fn put(&self, key: &str, body: &str, ttl_s: u32) {
            let Ok(resp) = Response::ok(body) else { return };
            let headers = worker::Headers::new();
            let _ = headers.set("cache-control", &format!("public, max-age={ttl_s}"));
            let _ = worker::Cache::default()
                .put(key, resp.with_headers(headers))
                .await;
        }
    }

    #[event(fetch)]
    async fn fetch(mut req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
        let started = platform::now_ms();
        let cfg = match config(&env) {
            Ok(c) => c,
            Err(e) => {
                worker::console_error!("{}", crate::log_line("-", "configuration error", 500, 0));
                let err = ingest_core::dashboard::error::DashError::Config(e);
                return w::response(err.to_reply());
            }
        };
        let url = req.url()?;
        let headers = w::headers(&req);
        let method = req.method();
        let body = if method == worker::Method::Post {
            w::read_capped(&mut req, MAX_BODY).await
        } else {
            Vec::new()
        };
        let client = headers
            .get("cf-connecting-ip")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown")
            .to_string();
        let incoming = Incoming {
            method: method.as_ref(),
            path: url.path(),
            query: url.query().unwrap_or_default(),
            headers: &headers,
            body: &body,
            client: &client,
            now_ms: started,
        };
        let reply = serve(
            cfg,
            &crate::ASSETS,
            &incoming,
            &Backends {
                http: w::Fetcher,
                redis_url: &cfg.redis_url,
                redis_token: &cfg.redis_token,
            },
            &EdgeCache,
            &mut platform::SystemRandom,
        )
        .await;
        let line = crate::log_line(
            method.as_ref(),
            url.path(),
            reply.status,
            platform::now_ms() - started,
        );
        let error = reply.status >= 500;
        w::log(Some(ingest_core::serve::Log { error, line }));
        w::response(reply)
    }
}

/// Fermyon Spin / WASI HTTP entry.
#[cfg(target_os = "wasi")]
mod spin {
    use ingest_core::dashboard::{DashboardConfig, Incoming, NoCache, routes::MAX_BODY, serve};
    use ingest_core::io::Backends;
    use platform::spin as s;
    use spin_sdk::http::{IncomingRequest, Method, Response};
    use spin_sdk::http_component;

    #[http_component]
    async fn handle(req: IncomingRequest) -> Response {
        let started = platform::now_ms();
        let cfg = match DashboardConfig::from_lookup(s::lookup) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}", crate::log_line("-", "configuration error", 500, 0));
                return s::response(ingest_core::dashboard::error::DashError::Config(e).to_reply());
            }
        };
        let path_query = req.path_with_query().unwrap_or_default();
        let (path, query) = path_query.split_once('?').unwrap_or((&path_query, ""));
        let (path, query) = (path.to_string(), query.to_string());
        let headers = s::headers(&req);
        let method = req.method();
        // The Spin host names the transport peer in spin-client-addr.
        let client = headers
            .get("spin-client-addr")
            .and_then(|v| v.to_str().ok())
            .and_then(ingest_core::identity::parse_addr)
            .map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
        let body = if method == Method::Post {
            s::read_capped(req, MAX_BODY).await
        } else {
            Vec::new()
        };
        let incoming = Incoming {
            method: s::method_name(&method),
            path: &path,
            query: &query,
            headers: &headers,
            body: &body,
            client: &client,
            now_ms: started,
        };
        // An instance serves one request and Spin has no cache API: nothing to reuse.
        let reply = serve(
            &cfg,
            &crate::ASSETS,
            &incoming,
            &Backends {
                http: s::Outbound,
                redis_url: &cfg.redis_url,
                redis_token: &cfg.redis_token,
            },
            &NoCache,
            &mut platform::SystemRandom,
        )
        .await;
        println!(
            "{}",
            crate::log_line(
                incoming.method,
                &path,
                reply.status,
                platform::now_ms() - started
            )
        );
        s::response(reply)
    }
}
