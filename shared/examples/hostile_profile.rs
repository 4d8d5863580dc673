//! Worst-case requests through the planner: peak heap (a counting allocator) and CPU time
//! per KB of inflated body, for the closing note and the README. Run natively:
//! `cargo run --release -p ingest-core --example hostile_profile`.
//! The same file builds against older versions of the core (it uses only `plan`), so
//! before/after figures come from one program.
#![allow(missing_docs, clippy::unwrap_used, clippy::panic, clippy::expect_used)]
#![allow(
    unsafe_code,
    reason = "a counting global allocator: the only way to see peak heap"
)]

use flate2::{Compression, write::GzEncoder};
use ingest_core::Config;
use ingest_core::collector::{Call, Incoming, Plan, Random, plan};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let live = LIVE.fetch_add(new - l.size(), Relaxed) + new - l.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Relaxed);
        }
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Seq(u64);
impl Random for Seq {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
            *b = (self.0 >> 56) as u8;
        }
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tiny(n: usize) -> String {
    vec![r#"{"type":"track","event":"e","userId":"u"}"#; n].join(",")
}

fn wide_event(keys: usize) -> String {
    let props: Vec<String> = (0..keys).map(|i| format!("\"k{i}\":1")).collect();
    let ctx: Vec<String> = (0..keys / 2).map(|i| format!("\"c{i}\":1")).collect();
    format!(
        r#"{{"type":"track","event":"e","userId":"u",{},"context":{{{}}}}}"#,
        props.join(","),
        ctx.join(",")
    )
}

fn cases() -> Vec<(&'static str, Vec<u8>, bool)> {
    let ctx = format!(r#"{{"pad":"{}"}}"#, "x".repeat(30_000));
    let wide = wide_event(1_800);
    let batch_ctx: Vec<String> = (0..1_300).map(|i| format!("\"b{i}\":1")).collect();
    let legit_event = r#"{"type":"track","event":"Order Completed","userId":"user-42","messageId":"MID","timestamp":"2026-11-27T10:00:00.000Z","properties":{"revenue":42.5,"currency":"EUR","products":[{"id":"p1","price":21.25}]},"context":{"library":{"name":"analytics-node","version":"3.1.0"}}}"#;
    let legit_n = |ev: &str, n: usize| -> String {
        let v: Vec<String> = (0..n)
            .map(|i| ev.replace("MID", &format!("m-{i}")))
            .collect();
        v.join(",")
    };
    vec![
        (
            "batch context x 10,000 tiny events (gzip)",
            gzip(format!(r#"{{"context":{ctx},"batch":[{}]}}"#, tiny(10_000)).as_bytes()),
            true,
        ),
        (
            "250,000 invalid events {\"batch\":[1,1,...]}",
            format!(r#"{{"batch":[{}1]}}"#, "1,".repeat(250_000)).into_bytes(),
            false,
        ),
        (
            "15 events x 2,700 keys, batch context 1,300 keys",
            format!(
                r#"{{"context":{{{}}},"batch":[{}]}}"#,
                batch_ctx.join(","),
                vec![wide.as_str(); 15].join(",")
            )
            .into_bytes(),
            false,
        ),
        (
            "1 valid + 4,999 invalid events",
            format!(r#"{{"batch":[{},{}1]}}"#, tiny(1), "1,".repeat(4_998)).into_bytes(),
            false,
        ),
        (
            "5,000 smallest valid events",
            format!(r#"{{"batch":[{}]}}"#, tiny(5_000)).into_bytes(),
            false,
        ),
        (
            "real SDK batch: 1,500 analytics-node events",
            format!(r#"{{"batch":[{}]}}"#, legit_n(legit_event, 1_500)).into_bytes(),
            false,
        ),
        (
            "real SDK batch: 100 analytics-node events",
            format!(r#"{{"batch":[{}]}}"#, legit_n(legit_event, 100)).into_bytes(),
            false,
        ),
    ]
}

fn main() {
    let cfg = Config::from_lookup(|k| match k {
        "ALLOWED_WRITE_KEYS" => Some("bench_key".into()),
        "REDIS_URL" => Some("http://127.0.0.1:1".into()),
        "REDIS_TOKEN" => Some("t".into()),
        _ => None,
    })
    .unwrap();
    println!(
        "| case | wire bytes | inflated bytes | outcome | command bytes | peak heap | peak / inflated | CPU ms | µs per inflated KB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, body, gz) in cases() {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", "Basic YmVuY2hfa2V5Og==".parse().unwrap());
        if gz {
            headers.insert("content-encoding", "gzip".parse().unwrap());
        }
        let inflated = if gz {
            let mut d = flate2::read::GzDecoder::new(&body[..]);
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut d, &mut out).unwrap();
            out.len()
        } else {
            body.len()
        };
        let req = Incoming {
            method: "POST",
            path: "/v1/batch",
            headers: &headers,
            body: &body,
            peer_ip: Some("203.0.113.9".parse().unwrap()),
            geo: None,
            now_ms: 1_764_237_600_000,
        };
        let mut metrics = ingest_core::metrics::Metrics::default();
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let started = Instant::now();
        let p = plan(&cfg, &req, &mut Seq(1), &mut metrics);
        let cpu = started.elapsed();
        let peak = PEAK.load(Relaxed) - base;
        let (outcome, command) = match &p {
            Plan::Respond(r, _) => (format!("{}", r.status), r.body.len()),
            Plan::Call {
                call: Call::Redis(c),
                ..
            } => ("call".to_string(), c.call().body.len()),
            Plan::Call {
                call: Call::ClickHouse(r),
                ..
            } => ("insert".to_string(), r.body.len()),
        };
        drop(p);
        let ms = cpu.as_secs_f64() * 1000.0;
        println!(
            "| {name} | {} | {inflated} | {outcome} | {command} | {:.1} MB | {:.1}x | {ms:.1} | {:.1} |",
            body.len(),
            peak as f64 / 1e6,
            peak as f64 / inflated as f64,
            ms * 1000.0 / (inflated as f64 / 1024.0)
        );
    }
}
