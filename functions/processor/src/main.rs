//! Native processor: a long-running drain loop. `cargo run -p processor` with REDIS_URL,
//! REDIS_TOKEN and CLICKHOUSE_* in the environment. Stops cleanly on SIGINT/SIGTERM after
//! the pass in progress (nothing acknowledged that ClickHouse did not confirm).
#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => native::run().await,
        Some("replay") => native::replay(args.get(1..).unwrap_or_default()).await,
        Some("-h" | "--help" | "help") => {
            use std::io::Write as _;
            // A closed stdout (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            std::process::ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("processor: unknown command {other:?}\n\n{USAGE}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Command-line help.
#[cfg(not(target_arch = "wasm32"))]
const USAGE: &str = "usage:
  processor                 drain the stream into ClickHouse until SIGINT/SIGTERM
  processor replay [--dry-run] [--from ID] [--to ID] [--count N]
                            move dead letters (<stream>:invalid) back into the stream once
                            their cause is fixed; ids are stream ids (default - .. +),
                            N records per call (default 100); idempotent

environment: REDIS_URL, REDIS_TOKEN, REDIS_STREAM_KEY; the drain also CLICKHOUSE_URL,
CLICKHOUSE_USER, CLICKHOUSE_PASSWORD and the other variables in the README";

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

    /// `processor replay`: see [`ingest_core::replay`].
    pub async fn replay(args: &[String]) -> ExitCode {
        use ingest_core::drain::Io as _;
        use ingest_core::replay::{Range, call, parse, valid_bound};
        let mut range = Range {
            from: "-".into(),
            to: "+".into(),
            count: 100,
            dry_run: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))
            };
            let parsed = match a.as_str() {
                "--dry-run" => {
                    range.dry_run = true;
                    Ok(())
                }
                "--from" => value("--from").map(|v| range.from = v),
                "--to" => value("--to").map(|v| range.to = v),
                "--count" => value("--count").and_then(|v| {
                    v.parse::<usize>()
                        .ok()
                        .filter(|n| (1..=10_000).contains(n))
                        .map(|n| range.count = n)
                        .ok_or_else(|| format!("--count must be 1 to 10000, got {v:?}"))
                }),
                other => Err(format!("unknown option {other:?}")),
            };
            if let Err(e) = parsed {
                eprintln!("processor replay: {e}\n\n{}", super::USAGE);
                return ExitCode::from(2);
            }
        }
        for (name, bound) in [("--from", &range.from), ("--to", &range.to)] {
            if !valid_bound(bound) {
                eprintln!(
                    "processor replay: {name} must be -, +, <ms> or <ms>-<seq>, got {bound:?}"
                );
                return ExitCode::from(2);
            }
        }
        let stream = env("REDIS_STREAM_KEY")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "analytics_events".into());
        let io = match Backends::from_env(0) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("processor replay: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        // Pin an open upper bound to the newest dead letter now: an entry that is
        // dead-lettered again while the cause persists is not picked up in the same run.
        if range.to == "+" {
            let dlq = format!("{stream}:invalid");
            let last =
                ingest_core::redis::command(&["XREVRANGE", dlq.as_str(), "+", "-", "COUNT", "1"]);
            let newest =
                io.redis(&last)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|(status, body)| {
                        ingest_core::redis::parse_result(status, &body)
                            .map_err(|e| format!("{e:?}"))
                    });
            match newest {
                Ok(v) => match v.get(0).and_then(|e| e.get(0)).and_then(|id| id.as_str()) {
                    Some(id) => range.to = id.to_string(),
                    None => {
                        log(
                            "replay done",
                            serde_json::json!({ "stream": stream, "replayed": 0, "skipped": 0 }),
                        );
                        return ExitCode::SUCCESS;
                    }
                },
                Err(e) => {
                    eprintln!("processor replay: Redis: {e}");
                    return ExitCode::from(1);
                }
            }
        }
        let (mut replayed, mut skipped) = (0usize, 0usize);
        loop {
            let outcome = io.redis(&call(&stream, &range)).await;
            let result = outcome
                .map_err(|e| e.to_string())
                .and_then(|(status, body)| {
                    ingest_core::redis::parse_result(status, &body).map_err(|e| format!("{e:?}"))
                });
            let records = match result {
                Ok(v) => parse(&v),
                Err(e) => {
                    eprintln!("processor replay: Redis: {e}");
                    return ExitCode::from(1);
                }
            };
            for r in &records {
                if r.outcome.starts_with("skipped") {
                    skipped += 1;
                } else {
                    replayed += 1;
                }
                log(
                    "dead letter",
                    serde_json::json!({ "id": r.id, "reason": r.reason, "outcome": r.outcome }),
                );
            }
            // Skipped records stay: continue after the last one read, not from the start.
            match records.last() {
                Some(last) if records.len() >= range.count && !range.dry_run => {
                    range.from = format!("({}", last.id);
                }
                _ => break,
            }
        }
        let verb = if range.dry_run {
            "would_replay"
        } else {
            "replayed"
        };
        log(
            "replay done",
            serde_json::json!({ "stream": stream, verb: replayed, "skipped": skipped }),
        );
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
