//! Collector function: the Segment-compatible ingestion endpoint. Behaviour lives in
//! `ingest_core::collector::serve`; this crate holds the platform entry points, which
//! only convert the request and the response.
//!
//! On Cloudflare Workers one script serves the collector routes and the health routes
//! (one deploy, no extra hop); on Spin they are separate components.

// spin-sdk's #[http_component] generates the component's export glue (unsafe).
#![cfg_attr(
    target_os = "wasi",
    allow(unsafe_code, reason = "spin-sdk export glue")
)]

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod workers {
    use ingest_core::collector::Incoming;
    use ingest_core::collector::serve::{body_cap, drain_after_response, serve};
    use ingest_core::metrics::Metrics;
    use ingest_core::redis::linger::Linger;
    use ingest_core::serve::config_failure;
    use platform::workers as w;
    use worker::{Context, Env, Request, Response, ScheduleContext, ScheduledEvent, event};

    thread_local! {
        /// This isolate's request counters, carried to Redis by the next ingest call.
        static METRICS: std::cell::RefCell<Metrics> = std::cell::RefCell::new(Metrics::default());
        /// This isolate's group commit: its concurrent requests share Upstash calls.
        static LINGER: &'static Linger = Box::leak(Box::default());
    }

    #[event(fetch)]
    async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
        let now_ms = platform::now_ms();
        let headers = w::headers(&req);
        let dep = match w::deployment(&env) {
            Ok(d) => d,
            Err(e) => return w::failure(config_failure(&e, &headers)),
        };
        let (method, path) = (req.method(), req.path());
        let body = match body_cap(dep, method.as_ref(), &path, &headers) {
            Some(cap) => w::read_capped(&mut req, cap).await,
            None => Vec::new(),
        };
        let geo = w::geo(&req);
        let incoming = Incoming {
            method: method.as_ref(),
            path: &path,
            headers: &headers,
            body: &body,
            // Cloudflare's edge sets CF-Connecting-IP (a client cannot forge it through Cloudflare).
            peer_ip: headers
                .get("cf-connecting-ip")
                .and_then(|v| v.to_str().ok())
                .and_then(ingest_core::identity::parse_addr),
            geo: geo.as_ref(),
            now_ms,
        };
        // Detached for the request: of the isolate's concurrent requests one flushes the
        // counters and one offers the drain lock per interval; merged back after.
        let mut metrics = METRICS.with(|m| m.borrow_mut().detach(now_ms));
        let io = w::io(dep);
        let served = serve(
            &io,
            &mut platform::SystemRandom,
            dep,
            &incoming,
            &mut metrics,
            Some(LINGER.with(|l| *l)),
        )
        .await;
        METRICS.with(|m| m.borrow_mut().merge(metrics));
        w::log(served.log);
        if let Some(owner) = served.drain_owner {
            ctx.wait_until(async move {
                w::log(drain_after_response(&w::io(dep), dep, &owner).await);
            });
        }
        w::response(served.reply)
    }

    /// Cron Trigger: the safety net that drains what no request drained.
    #[event(scheduled)]
    async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        match w::deployment(&env) {
            Ok(dep) => {
                let passes = ingest_core::collector::serve::AFTER_RESPONSE_PASSES;
                w::log(ingest_core::processor::scheduled(&w::io(dep), dep, passes).await);
            }
            Err(e) => w::log(Some(config_failure(&e, &http::HeaderMap::new()).1)),
        }
    }
}

/// Fermyon Spin / WASI HTTP entry: the collector routes, and (so one component can serve a
/// plain WASI host alone) the health routes, which spin.toml routes to the health
/// component instead.
#[cfg(target_os = "wasi")]
mod spin {
    use ingest_core::collector::Incoming;
    use ingest_core::collector::serve::{body_cap, serve};
    use ingest_core::serve::config_failure;
    use platform::spin as s;
    use spin_sdk::http::{IncomingRequest, Response};
    use spin_sdk::http_component;

    /// Takes the request unread, so the body is streamed with a cap (or not read at all
    /// when its declared length is over it).
    #[http_component]
    async fn handle(req: IncomingRequest) -> Response {
        let now_ms = platform::now_ms();
        let (path, method, headers) = (s::path(&req), req.method(), s::headers(&req));
        let method = s::method_name(&method);
        let dep = match s::deployment() {
            Ok(d) => d,
            Err(e) => return s::failure(config_failure(&e, &headers)),
        };
        // The Spin host sets spin-client-addr to the transport peer.
        let peer = headers
            .get("spin-client-addr")
            .and_then(|v| v.to_str().ok())
            .and_then(ingest_core::identity::parse_addr);
        // CDN location headers are believed only from a trusted proxy (the CDN itself).
        let geo = peer
            .filter(|p| dep.config.trusted_proxies.contains(*p))
            .and_then(|_| ingest_core::enrich::geo_from_headers(&headers));
        let body = match body_cap(&dep, method, &path, &headers) {
            Some(cap) => s::read_capped(req, cap).await,
            None => Vec::new(),
        };
        let incoming = Incoming {
            method,
            path: &path,
            headers: &headers,
            body: &body,
            peer_ip: peer,
            geo: geo.as_ref(),
            now_ms,
        };
        // An instance serves one request: no counters to carry (see docs/SPIN.md).
        let mut none = ingest_core::metrics::Metrics::default();
        let served = serve(
            &s::io(&dep),
            &mut platform::SystemRandom,
            &dep,
            &incoming,
            &mut none,
            None,
        )
        .await;
        s::log(served.log);
        s::response(served.reply)
    }
}
