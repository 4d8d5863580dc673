//! Processor entry points that are libraries: the Spin component, an HTTP-triggered drain
//! (`POST /drain`) for a scheduler to call (Spin's cron trigger, a SpinKube CronJob, or
//! any HTTP client). The native binary is `src/main.rs`; the Workers cron lives in the
//! collector's Worker. All of them run `ingest_core::drain`.

/// Fermyon Spin / WASI HTTP component.
#[cfg(target_os = "wasi")]
#[allow(
    unsafe_code,
    reason = "spin-sdk's #[http_component] generates the component's export glue"
)]
mod spin {
    use ingest_core::drain::{DrainConfig, drain_scheduled};
    use ingest_core::{Reply, enrich::json_str};
    use platform::spin as s;
    use spin_sdk::http::{Request, Response};
    use spin_sdk::http_component;

    fn error(status: u16, message: &str) -> Response {
        s::response(Reply::json(
            status,
            format!("{{\"success\":false,\"message\":{}}}", json_str(message)),
        ))
    }

    #[http_component]
    async fn handle(req: Request) -> Response {
        if !req.path().trim_end_matches('/').ends_with("/drain") {
            return error(404, "no such route; POST /drain");
        }
        if s::method(&req) != "POST" {
            return error(405, "use POST /drain");
        }
        // A shared secret is required, so the endpoint cannot be used to run up costs.
        let Some(token) = s::lookup("DRAIN_TOKEN").filter(|t| !t.trim().is_empty()) else {
            return error(
                503,
                "DRAIN_TOKEN is not set: the drain route is disabled until it is configured",
            );
        };
        let given = req.header("authorization").and_then(|v| v.as_str());
        if !ingest_core::auth::bearer_matches(token.trim(), given) {
            return error(401, "missing or wrong DRAIN_TOKEN bearer token");
        }
        let (cfg, dcfg) = match (s::config(), DrainConfig::from_lookup(s::lookup)) {
            (Ok(c), Ok(d)) => (c, d),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!(
                    "{{\"msg\":\"configuration error\",\"error\":{}}}",
                    json_str(&e)
                );
                return error(500, &format!("configuration error: {e}"));
            }
        };
        let passes = s::lookup("DRAIN_MAX_PASSES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(20);
        let io = s::SpinIo { cfg: &cfg };
        match drain_scheduled(&io, &dcfg, "spin", passes).await {
            Ok(r) => {
                let body = serde_json::json!({
                    "success": true, "entries": r.entries, "rows": r.rows, "acked": r.acked,
                    "dead_lettered": r.dead_lettered, "trimmed": r.trimmed, "lag_ms": r.oldest_ms,
                });
                println!("{body}");
                s::response(Reply::json(200, body.to_string()))
            }
            Err(e) => {
                eprintln!(
                    "{{\"msg\":\"drain failed\",\"error\":{}}}",
                    json_str(&e.to_string())
                );
                let mut r = Reply::json(
                    503,
                    format!(
                        "{{\"success\":false,\"message\":{}}}",
                        json_str(&e.to_string())
                    ),
                );
                r.set_header("retry-after", "5".into());
                s::response(r)
            }
        }
    }
}
