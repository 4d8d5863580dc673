//! The collector's request planning against the naive floor: parsing the same body into
//! a `serde_json::Value` and writing it back out (`from_slice` + `to_string`). Three
//! workloads (a 1-event batch, a 100-event batch, the largest batch of the same events
//! under 500,000 bytes); per workload the best of 5 timed rounds of N iterations, N chosen
//! so a round takes at least 0.5 s. One `ratio:` line per workload (the 500 KB one ends
//! with `, plan <ms> ms`); `workload:` lines give each body's size and event count:
//!
//! `ratio: <name>: plan <x> µs/request (<y> µs/event), floor <z> µs/request, ratio <x/z>`
//!
//! Both sides are built with the same profile (`[profile.release]`: opt-level "z"), so the
//! ratio compares code, not flags. Natively: `cargo run --release -p ingest-core --example ratio`. In WASM (the same
//! code the Spin component runs, before wasm-opt):
//! `cargo build --release -p ingest-core --example ratio --target wasm32-wasip1` then
//! `wasmtime run target/wasm32-wasip1/release/examples/ratio.wasm`.
//!
//! `ratio steps` (`wasmtime run …/ratio.wasm steps`) instead times the sub-steps of
//! planning the 100-event batch one by one (`step:` lines, bench/ratio.md).
//! An optional number argument sets the minimum round in seconds (default 0.5).
#![allow(missing_docs, clippy::unwrap_used, clippy::panic, clippy::expect_used)]

#[path = "../benches/workload.rs"]
mod workload;

use ingest_core::enrich::{BatchInfo, Edge, enrich};
use ingest_core::event::RawObject;
use ingest_core::validate::check;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::{Duration, Instant};
use workload::{Counter, batch, config, plan_batch};

/// Largest body of the big workload (Segment's batch limit is 500 KB).
const BIG_LIMIT: usize = 500_000;
/// Timed rounds per measurement; the best one counts.
const ROUNDS: usize = 5;

/// Seconds per iteration of `f`: warm up and find N such that N iterations take at least
/// `min_round` (the search itself is the warm-up), then the best of [`ROUNDS`] rounds.
fn per_iter(min_round: Duration, mut f: impl FnMut() -> usize) -> (f64, u64) {
    let mut n: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            black_box(f());
        }
        let e = t.elapsed();
        if e >= min_round {
            break;
        }
        let scale = if e.is_zero() {
            10.0
        } else {
            (min_round.as_secs_f64() / e.as_secs_f64() * 1.1).clamp(1.2, 10.0)
        };
        n = ((n as f64) * scale).ceil() as u64;
    }
    // Warm rounds can run faster than the search's last (first touches of fresh memory,
    // WASM memory growth): when the best round came in under `min_round`, N grows and
    // the rounds run again, so every figure is the best of rounds of at least `min_round`.
    loop {
        n += n / 10;
        let best = (0..ROUNDS)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..n {
                    black_box(f());
                }
                t.elapsed()
            })
            .min()
            .unwrap_or_default();
        if best >= min_round {
            return (best.as_secs_f64() / n as f64, n);
        }
        n = ((n as f64) * min_round.as_secs_f64() / best.as_secs_f64().max(1e-9)).ceil() as u64;
    }
}

/// The naive floor: the body into a `serde_json::Value` and back out as text.
fn floor(body: &[u8]) -> usize {
    let v: serde_json::Value = serde_json::from_slice(black_box(body)).unwrap();
    serde_json::to_string(&v).unwrap().len()
}

/// The number of events of [`batch`]'s shape that fit under [`BIG_LIMIT`] bytes.
fn big_batch() -> (usize, String) {
    let per_event = batch(100).len() / 100;
    let mut n = BIG_LIMIT / per_event;
    while batch(n).len() >= BIG_LIMIT {
        n -= 1;
    }
    while batch(n + 1).len() < BIG_LIMIT {
        n += 1;
    }
    (n, batch(n))
}

fn target() -> &'static str {
    if cfg!(target_family = "wasm") {
        "wasm32"
    } else {
        std::env::consts::ARCH
    }
}

fn ratios(min_round: Duration) {
    let cfg = config();
    let headers = http::HeaderMap::new();
    let (big_n, big) = big_batch();
    let workloads = [
        ("1-event", 1, batch(1)),
        ("100-event", 100, batch(100)),
        ("500KB", big_n, big),
    ];
    println!(
        "ratio-setup: target {}, best of {ROUNDS} rounds of >= {:.1} s each",
        target(),
        min_round.as_secs_f64()
    );
    for (name, events, body) in &workloads {
        let mut rng = Counter(1);
        let call = plan_batch(&cfg, &headers, body, &mut rng);
        println!(
            "workload: {name}: {events} events, {} bytes, Upstash command {call} bytes",
            body.len()
        );
    }
    for (name, events, body) in &workloads {
        let mut rng = Counter(1);
        let (plan_s, plan_n) = per_iter(min_round, || {
            plan_batch(&cfg, &headers, black_box(body), &mut rng)
        });
        let (floor_s, floor_n) = per_iter(min_round, || floor(body.as_bytes()));
        let ms = if *events > 100 {
            format!(", plan {:.2} ms", plan_s * 1e3)
        } else {
            String::new()
        };
        println!(
            "ratio: {name}: plan {:.2} µs/request ({:.3} µs/event), floor {:.2} µs/request, ratio {:.2}{ms}",
            plan_s * 1e6,
            plan_s * 1e6 / *events as f64,
            floor_s * 1e6,
            plan_s / floor_s,
        );
        println!("rounds: {name}: plan N {plan_n}, floor N {floor_n}");
    }
}

/// The top level of a body as the collector reads it (a copy of the private
/// `collector::envelope::Envelope`).
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Envelope<'a> {
    #[serde(borrow, rename = "writeKey", default)]
    write_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    batch: Option<&'a RawValue>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
    #[serde(borrow, rename = "sentAt", default)]
    sent_at: Option<&'a RawValue>,
}

/// Time the sub-steps of planning the 100-event batch, each on its own with its inputs
/// prepared beforehand, through the core's public functions (the planner's private glue
/// is the remainder).
fn steps(min_round: Duration) {
    let cfg = config();
    let headers = http::HeaderMap::new();
    let body = batch(100);
    let events = 100.0;
    println!(
        "step-setup: target {}, 100-event batch ({} bytes), best of {ROUNDS} rounds of >= {:.1} s",
        target(),
        body.len(),
        min_round.as_secs_f64()
    );

    // Inputs of each step, made once.
    let env: Envelope<'_> = serde_json::from_str(&body).unwrap();
    let list: Vec<&RawValue> = serde_json::from_str(env.batch.unwrap().get()).unwrap();
    let objs: Vec<RawObject<'_>> = list
        .iter()
        .map(|r| RawObject::from_raw(r).unwrap())
        .collect();
    let checked: Vec<_> = objs
        .iter()
        .zip(&list)
        .map(|(o, r)| check(o, None, r.get().len(), cfg.max_event_bytes).unwrap())
        .collect();
    let info = BatchInfo {
        context: None,
        sent_at_ms: ingest_core::timestamp::parse_ms("2026-11-25T10:00:01.000Z"),
    };
    let edge = Edge {
        now_ms: 1_795_000_000_000,
        ip: Some("203.0.113.9".parse().unwrap()),
        anonymize_ip: false,
        geo: None,
        user_agent: None,
    };
    let enriched: Vec<String> = objs
        .iter()
        .zip(&checked)
        .zip(&list)
        .map(|((o, c), r)| enrich(o, c, &info, &edge, "unused", r.get().len()))
        .collect();
    let enriched_bytes: usize = enriched.iter().map(String::len).sum();
    let contexts: Vec<&RawValue> = objs.iter().map(|o| o.get("context").unwrap()).collect();

    let time = |name: &'static str, f: &mut dyn FnMut() -> usize| {
        let (s, _) = per_iter(min_round, f);
        println!(
            "step: {name}: {:.2} µs/request ({:.3} µs/event)",
            s * 1e6,
            s * 1e6 / events
        );
        s
    };

    let mut rng = Counter(1);
    let plan = time("plan (whole)", &mut || {
        plan_batch(&cfg, &headers, black_box(&body), &mut rng)
    });
    let fl = time("floor (whole)", &mut || floor(body.as_bytes()));
    time("floor: from_slice::<Value>", &mut || {
        let v: serde_json::Value = serde_json::from_slice(black_box(body.as_bytes())).unwrap();
        v.as_object().map_or(0, |o| o.len())
    });
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    time("floor: to_string(&Value)", &mut || {
        serde_json::to_string(black_box(&value)).unwrap().len()
    });
    time("validate UTF-8 (str::from_utf8)", &mut || {
        std::str::from_utf8(black_box(body.as_bytes()))
            .unwrap()
            .len()
    });
    let s1 = time("1 envelope: 4 members as RawValue", &mut || {
        let e: Envelope<'_> = serde_json::from_str(black_box(&body)).unwrap();
        e.batch.map_or(0, |b| b.get().len())
    });
    let s2 = time("2 batch: list of RawValue events", &mut || {
        let l: Vec<&RawValue> = serde_json::from_str(black_box(env.batch.unwrap().get())).unwrap();
        l.len()
    });
    let s3 = time("3 events: RawObject members", &mut || {
        list.iter()
            .map(|r| RawObject::from_raw(black_box(r)).unwrap().members.len())
            .sum()
    });
    let s4 = time("4 validate::check", &mut || {
        objs.iter()
            .zip(&list)
            .map(|(o, r)| {
                let c = check(black_box(o), None, r.get().len(), cfg.max_event_bytes).unwrap();
                c.message_id.map_or(0, |m| m.len())
            })
            .sum()
    });
    let s5 = time("5 enrich::enrich", &mut || {
        objs.iter()
            .zip(&checked)
            .zip(&list)
            .map(|((o, c), r)| enrich(black_box(o), c, &info, &edge, "unused", r.get().len()).len())
            .sum()
    });
    let s6 = time("6 escape into the command", &mut || {
        let mut w =
            ingest_core::redis::CommandWriter::with_capacity(body.len() + body.len() / 2 + 4096);
        w.begin_arg();
        for (i, ev) in enriched.iter().enumerate() {
            w.piece(if i == 0 { "[" } else { "," });
            w.piece(black_box(ev));
        }
        w.piece("]");
        w.end_arg();
        w.finish().body.len()
    });
    let s7 = time("7 SHA-256 of the messageIds", &mut || {
        let mut h = Sha256::new();
        h.update(b"0123456789abcdef");
        for c in &checked {
            let m = c.message_id.as_deref().unwrap_or_default();
            h.update((m.len() as u64).to_le_bytes());
            h.update(black_box(m).as_bytes());
        }
        h.finalize().first().copied().unwrap_or_default() as usize
    });
    let s8 = time("8 write-key SHA-256 (auth)", &mut || {
        cfg.write_keys.verify(black_box("bench_key")).is_some() as usize
    });
    // The events argument as written, for the copy that makes the call from it (since
    // group commit, a request's member is copied into the call's body: `Member::call`).
    let command = {
        let mut w = ingest_core::redis::CommandWriter::with_capacity(0);
        w.begin_arg();
        for ev in &enriched {
            w.piece(ev);
        }
        w.end_arg();
        w.finish().body
    };
    let s9 = time("9 copy the events into the call body", &mut || {
        let mut b = String::with_capacity(command.len() + 256);
        b.push_str("[\"EVALSHA\",");
        b.push_str(black_box(&command));
        b.len()
    });
    println!(
        "step: sum of 1-9: {:.2} µs/request; plan minus the sum (the planner's own glue, copies, allocation): {:.2} µs",
        (s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9) * 1e6,
        (plan - (s1 + s2 + s3 + s4 + s5 + s6 + s7 + s8 + s9)) * 1e6
    );
    // Inside steps 4 and 5: the timestamps (1 parsed per event, 4 formatted) and the
    // event's own context parsed again to merge the edge's fields.
    time("  in 4: timestamp::parse_ms x 1 per event", &mut || {
        (0..100)
            .map(|_| {
                ingest_core::timestamp::parse_ms(black_box("2026-11-25T10:00:00.042Z"))
                    .unwrap_or_default() as usize
            })
            .sum()
    });
    time("  in 5: timestamp::format_ms x 4 per event", &mut || {
        (0..400)
            .map(|i| ingest_core::timestamp::format_ms(black_box(1_795_000_000_000 + i)).len())
            .sum()
    });
    time("  in 5: the event's context parsed again", &mut || {
        contexts
            .iter()
            .map(|c| RawObject::from_raw(black_box(c)).unwrap().members.len())
            .sum()
    });
    println!(
        "step: enriched events {enriched_bytes} bytes ({} per event); plan / floor {:.2}",
        enriched_bytes / 100,
        plan / fl
    );
}

fn main() {
    let mut mode = "ratio";
    let mut min_round = Duration::from_millis(500);
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "steps" => mode = "steps",
            s => match s.parse::<f64>() {
                Ok(secs) if secs > 0.0 => min_round = Duration::from_secs_f64(secs),
                _ => {
                    eprintln!("usage: ratio [steps] [minimum seconds per round, default 0.5]");
                    std::process::exit(2);
                }
            },
        }
    }
    if mode == "steps" {
        steps(min_round);
    } else {
        ratios(min_round);
    }
}
