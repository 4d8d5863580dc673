//! Health function: `GET /health` (dependency checks with latency and the stream backlog),
//! `GET /metrics` (Prometheus text) and `GET /livez` (no dependency calls). Behaviour lives
//! in `ingest_core::health::serve`; on Workers the collector's script serves these routes
//! through the same entry, on Spin this crate is their own component.

// spin-sdk's #[http_component] generates the component's export glue (unsafe).
#![cfg_attr(
    target_os = "wasi",
    allow(unsafe_code, reason = "spin-sdk export glue")
)]

pub use ingest_core::health::is_health_path;

/// The Spin health component.
#[cfg(all(target_os = "wasi", feature = "component"))]
mod spin {
    use platform::spin as s;
    use spin_sdk::http::{Request, Response};

    #[spin_sdk::http_component]
    async fn serve(req: Request) -> Response {
        let dep = match s::deployment() {
            Ok(d) => d,
            Err(e) => {
                let none = http::HeaderMap::new();
                return s::failure(ingest_core::serve::config_failure(&e, &none));
            }
        };
        let auth = req.header("authorization").and_then(|v| v.as_str());
        let method = s::method_name(req.method());
        let reply = ingest_core::health::serve(&s::io(&dep), &dep, method, req.path(), auth).await;
        s::response(reply)
    }
}
