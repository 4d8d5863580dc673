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
    use ingest_core::drain::{DrainConfig, ProcessorConfig, Schedule, drain_once};
    use platform::native::{Native, env};
    use platform::now_ms;
    use std::process::ExitCode;
    use std::time::Duration;

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
        let run = match ProcessorConfig::from_lookup(env) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("processor: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let native = match Native::from_env(cfg.flush_interval_ms) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("processor: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let io = native.io();
        let consumer = run.consumer.unwrap_or_else(|| {
            format!(
                "native-{}-{}",
                env("HOSTNAME").unwrap_or_else(|| "host".into()),
                std::process::id()
            )
        });
        log(
            "processor started",
            serde_json::json!({
                "consumer": consumer, "stream": cfg.stream, "shards": cfg.shards, "group": cfg.group,
                "batch_size": cfg.batch_size,
            }),
        );
        // A signal ends the loop between passes, never inside one.
        let (tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown().await;
            let _ = tx.send(true);
        });
        // One loop per shard (STREAM_SHARDS), each with its own schedule: a blocking read
        // on one shard never holds up another's backlog.
        let shards = cfg.per_shard();
        futures_util::future::join_all(
            shards
                .iter()
                .map(|shard| drain_loop(&io, shard, &consumer, stop.clone())),
        )
        .await;
        log("processor stopped", serde_json::json!({}));
        ExitCode::SUCCESS
    }

    /// Drain one shard's stream until `stop` turns true.
    async fn drain_loop<I: ingest_core::drain::Io>(
        io: &I,
        cfg: &DrainConfig,
        consumer: &str,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut schedule = Schedule::new(cfg);
        loop {
            if *stop.borrow() {
                break;
            }
            let started = now_ms();
            let pass = schedule.next_pass(started);
            let outcome = drain_once(io, cfg, consumer, pass, now_ms).await;
            let pause = schedule.after(&outcome, started, now_ms());
            match &outcome {
                Ok(r) if r.entries > 0 => {
                    let mut line = r.log_value("drained");
                    if let Some(obj) = line.as_object_mut() {
                        obj.insert("stream".into(), cfg.stream.clone().into());
                    }
                    println!("{line}");
                }
                Ok(_) => {}
                Err(e) => println!(
                    "{}",
                    serde_json::json!({
                        "msg": "drain failed, will retry", "stream": cfg.stream,
                        "error": e.to_string(), "retry_in_ms": pause,
                    })
                ),
            }
            if pause > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(pause)) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }

    /// `processor replay`: see [`ingest_core::replay`]; walks every shard's dead letters.
    pub async fn replay(args: &[String]) -> ExitCode {
        use ingest_core::replay::{Range, valid_bound};
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
        let streams = match ingest_core::config::shard_streams(env) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("processor replay: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let native = match Native::from_env(0) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("processor replay: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
        let io = native.io();
        let verb = if range.dry_run {
            "would_replay"
        } else {
            "replayed"
        };
        // Each shard's dead letters go back into that shard's stream.
        let mut code = ExitCode::SUCCESS;
        for stream in &streams {
            let outcome = ingest_core::replay::run(&io, stream, range.clone(), |r| {
                log(
                    "dead letter",
                    serde_json::json!({ "stream": stream, "id": r.id, "reason": r.reason, "outcome": r.outcome }),
                )
            })
            .await;
            match outcome {
                Ok(t) => log(
                    "replay done",
                    serde_json::json!({ "stream": stream, verb: t.replayed, "skipped": t.skipped }),
                ),
                Err(e) => {
                    eprintln!("processor replay: {stream}: Redis {e}");
                    code = ExitCode::from(1);
                }
            }
        }
        code
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
