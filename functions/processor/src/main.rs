//! Native processor: a long-running drain loop. `cargo run -p processor` with REDIS_URL,
//! REDIS_TOKEN and CLICKHOUSE_* in the environment. Stops cleanly on SIGINT/SIGTERM after
//! the pass in progress (nothing acknowledged that ClickHouse did not confirm).
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    native::run().await
}

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use ingest_core::drain::{DrainConfig, Pass, drain_once};
    use platform::native::{Backends, env, now_ms};
    use std::process::ExitCode;
    use std::time::{Duration, Instant};

    fn log(msg: &str, mut fields: serde_json::Value) {
        if let Some(obj) = fields.as_object_mut() {
            obj.insert("msg".into(), msg.into());
        }
        println!("{fields}");
    }

    pub async fn run() -> ExitCode {
        let cfg = match DrainConfig::from_lookup(env) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("processor: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let io = match Backends::from_env(cfg.flush_interval_ms) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("processor: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let consumer = env("PROCESSOR_CONSUMER").unwrap_or_else(|| {
            format!(
                "native-{}-{}",
                env("HOSTNAME").unwrap_or_else(|| "host".into()),
                std::process::id()
            )
        });
        log(
            "processor started",
            serde_json::json!({
                "consumer": consumer, "stream": cfg.stream, "group": cfg.group, "batch_size": cfg.batch_size,
            }),
        );
        // A signal ends the loop between passes, never inside one.
        let (tx, mut stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown().await;
            let _ = tx.send(true);
        });
        let mut backoff = Duration::from_millis(250);
        let mut last_reclaim: Option<Instant> = None;
        let flush = Duration::from_millis(cfg.flush_interval_ms);
        // Start by re-reading our own unacknowledged entries (a restart after a crash).
        let mut own_pending = true;
        loop {
            let started = Instant::now();
            let reclaim = last_reclaim
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(cfg.claim_idle_ms / 2));
            if reclaim {
                last_reclaim = Some(Instant::now());
            }
            if *stop.borrow() {
                break;
            }
            let pass = Pass {
                block_ms: Some(cfg.flush_interval_ms),
                reclaim,
                own_pending,
            };
            let outcome = drain_once(&io, &cfg, &consumer, pass, now_ms).await;
            // After a failure our entries stay pending: retry them before reading new ones.
            own_pending = match &outcome {
                Ok(r) => own_pending && r.entries > 0,
                Err(_) => true,
            };
            let pause = match outcome {
                Ok(r) if r.entries > 0 => {
                    backoff = Duration::from_millis(250);
                    log(
                        "drained",
                        serde_json::json!({
                            "entries": r.entries, "rows": r.rows, "acked": r.acked,
                            "dead_lettered": r.dead_lettered, "trimmed": r.trimmed,
                            "lag_ms": r.oldest_ms.unwrap_or(0),
                            "duration_ms": started.elapsed().as_millis() as u64,
                        }),
                    );
                    // A full batch means a backlog: go on at once. Otherwise keep to about
                    // one insert per FLUSH_INTERVAL_MS, so ClickHouse gets few, large parts.
                    if r.entries >= cfg.batch_size {
                        Duration::ZERO
                    } else {
                        flush.saturating_sub(started.elapsed())
                    }
                }
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    log(
                        "drain failed, will retry",
                        serde_json::json!({
                            "error": e.to_string(), "retry_in_ms": backoff.as_millis() as u64,
                        }),
                    );
                    let b = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    b
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => break,
                }
            }
        }
        log("processor stopped", serde_json::json!({}));
        ExitCode::SUCCESS
    }

    async fn shutdown() {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
}
