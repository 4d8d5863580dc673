//! Collector function: the Segment-compatible ingestion endpoint. Behaviour lives in
//! `ingest_core::collector`; this crate holds the platform entry points.
//!
//! On Cloudflare Workers one script serves the collector routes and the health routes
//! (one deploy, no extra hop); on Spin they are separate components.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod workers {
    use ingest_core::collector::{
        Finished, Incoming, Plan, body_read_cap, config_error_reply, declared_over_limit, finish,
        plan,
    };
    use ingest_core::drain::{drain_after_ack, drain_scheduled};
    use ingest_core::metrics::Metrics;
    use platform::workers as w;
    use worker::{Context, Env, Request, Response, ScheduleContext, ScheduledEvent, event};

    /// Upper bound on drain passes in one invocation (Workers allows 30 s after the response).
    const MAX_PASSES: usize = 20;

    thread_local! {
        /// This isolate's request counters, carried to Redis by the next ingest call.
        static METRICS: std::cell::RefCell<Metrics> = std::cell::RefCell::new(Metrics::default());
    }

    #[event(fetch)]
    async fn fetch(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
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
        let body = if method == worker::Method::Post && !declared_over_limit(cfg, &headers) {
            w::read_capped(&mut req, body_read_cap(cfg)).await
        } else {
            Vec::new()
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
            now_ms: started,
        };
        let mut carried = METRICS.with(|m| std::mem::take(&mut *m.borrow_mut()));
        let Finished {
            reply,
            log: line,
            drain_owner,
            unflushed,
        } = match plan(cfg, &incoming, &mut w::Rng, &mut carried) {
            Plan::Respond(reply, log) => Finished {
                reply,
                log,
                drain_owner: None,
                unflushed: Vec::new(),
            },
            Plan::Call { call, pending } => {
                finish(cfg, pending, call.run(&w::WorkerIo { cfg }).await)
            }
        };
        let duration = (w::now_ms() - started) as f64;
        METRICS.with(|m| {
            let mut m = m.borrow_mut();
            m.restore(carried.take());
            m.restore(unflushed);
            m.record(
                line.route,
                line.status,
                duration,
                line.accepted,
                line.rejected,
            );
        });
        if line.enabled(cfg.log_level) {
            w::log(line.status, &line.to_json(duration));
        }
        // This request took the drain lock: move the stream into ClickHouse after the
        // response is sent, so events are queryable within about FLUSH_INTERVAL_MS.
        if let (Some(owner), Ok(Some(dcfg))) = (drain_owner, w::drain_config(&env)) {
            ctx.wait_until(async move {
                let io = w::WorkerIo { cfg };
                let outcome =
                    drain_after_ack(&io, dcfg, "edge", &owner, cfg.drain_lock_ms, MAX_PASSES).await;
                log_drain("drain after ack", &outcome);
            });
        }
        w::response(reply)
    }

    /// Cron Trigger: the safety net that drains what no request drained (and takes over
    /// entries a dead drainer left pending).
    #[event(scheduled)]
    async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
        match (w::config(&env), w::drain_config(&env)) {
            (Ok(cfg), Ok(Some(dcfg))) if cfg.sink == ingest_core::config::Sink::Redis => {
                let io = w::WorkerIo { cfg };
                let outcome = drain_scheduled(&io, dcfg, "edge-cron", MAX_PASSES).await;
                log_drain("scheduled drain", &outcome);
            }
            (Ok(_), Ok(_)) => worker::console_log!(
                "{{\"msg\":\"scheduled drain skipped: no CLICKHOUSE_URL, or the direct sink is in use\"}}"
            ),
            (Err(e), _) | (_, Err(e)) => worker::console_error!("{}", serde_json_error_line(&e)),
        }
    }

    fn log_drain(
        what: &str,
        outcome: &Result<ingest_core::drain::Report, ingest_core::drain::DrainError>,
    ) {
        use ingest_core::enrich::json_str;
        match outcome {
            Ok(r) if r.entries > 0 => worker::console_log!(
                "{{\"msg\":{},\"entries\":{},\"rows\":{},\"acked\":{},\"dead_lettered\":{},\"lag_ms\":{}}}",
                json_str(what),
                r.entries,
                r.rows,
                r.acked,
                r.dead_lettered,
                r.oldest_ms.unwrap_or(0)
            ),
            Ok(_) => {}
            Err(e) => worker::console_error!(
                "{{\"msg\":{},\"error\":{}}}",
                json_str(what),
                json_str(&e.to_string())
            ),
        }
    }

    fn serde_json_error_line(message: &str) -> String {
        format!(
            "{{\"msg\":\"configuration error\",\"error\":{}}}",
            ingest_core::enrich::json_str(message)
        )
    }
}

/// Fermyon Spin / WASI HTTP entry: the collector routes, and (so one component can serve a
/// plain WASI host alone) the health routes, which spin.toml routes to the health
/// component instead.
#[cfg(target_os = "wasi")]
#[allow(
    unsafe_code,
    reason = "spin-sdk's #[http_component] generates the component's export glue"
)]
mod spin {
    use ingest_core::collector::{
        Finished, Incoming, Plan, body_read_cap, config_error_reply, declared_over_limit, finish,
        plan,
    };
    use platform::spin as s;
    use spin_sdk::http::{IncomingRequest, Method, Response};
    use spin_sdk::http_component;

    /// Takes the request unread, so the body is streamed with a cap (or not read at all
    /// when its declared length is over it).
    #[http_component]
    async fn handle(req: IncomingRequest) -> Response {
        let started = s::now_ms();
        let path = s::incoming_path(&req);
        let method = req.method();
        let headers = s::incoming_headers(&req);
        if health::is_health_path(&path) {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
            return health::spin::handle(s::method_name(&method), &path, auth).await;
        }
        let cfg = match s::config() {
            Ok(c) => c,
            Err(e) => {
                eprintln!(
                    "{{\"msg\":\"configuration error\",\"error\":{}}}",
                    ingest_core::enrich::json_str(&e)
                );
                let origin = headers.get("origin").and_then(|v| v.to_str().ok());
                return s::response(config_error_reply(&e, origin));
            }
        };
        // The Spin host sets spin-client-addr to the transport peer.
        let peer = headers
            .get("spin-client-addr")
            .and_then(|v| v.to_str().ok())
            .and_then(ingest_core::identity::parse_addr);
        // CDN location headers are believed only from a trusted proxy (the CDN itself).
        let geo = peer
            .filter(|p| cfg.trusted_proxies.contains(*p))
            .and_then(|_| ingest_core::enrich::geo_from_headers(&headers));
        let body = if method == Method::Post && !declared_over_limit(&cfg, &headers) {
            s::read_capped(req, body_read_cap(&cfg)).await
        } else {
            Vec::new()
        };
        let incoming = Incoming {
            method: s::method_name(&method),
            path: &path,
            headers: &headers,
            body: &body,
            peer_ip: peer,
            geo: geo.as_ref(),
            now_ms: started,
        };
        // An instance serves one request: no counters to carry (see docs/SPIN.md).
        let mut none = ingest_core::metrics::Metrics::default();
        let Finished { reply, log, .. } = match plan(&cfg, &incoming, &mut s::Rng, &mut none) {
            Plan::Respond(reply, log) => Finished {
                reply,
                log,
                drain_owner: None,
                unflushed: Vec::new(),
            },
            Plan::Call { call, pending } => {
                finish(&cfg, pending, call.run(&s::SpinIo { cfg: &cfg }).await)
            }
        };
        if log.enabled(cfg.log_level) {
            println!("{}", log.to_json((s::now_ms() - started) as f64));
        }
        s::response(reply)
    }
}
