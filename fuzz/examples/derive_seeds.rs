//! Derive the `stream_entry` and `row` seeds from the `plan` seeds (real SDK requests):
//! plan each request with the real planner, and write the stream entry the collector would
//! append (XREADGROUP shape) and each enriched event it would store.
//!
//! `cargo +nightly run --manifest-path fuzz/Cargo.toml --example derive_seeds`
//! (from the repository root; overwrites `fuzz/seeds/{stream_entry,row}/sdk-*`).

use ingest_core::Config;
use ingest_core::collector::{Call, Incoming, Plan, Random, plan};
use ingest_core::metrics::Metrics;
use ingest_fuzz::RawRequest;
use std::fs;
use std::io::Write as _;

struct Counter(u8);
impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = Config::from_lookup(|k| {
        Some(match k {
            "ALLOWED_WRITE_KEYS" => "wk_test,wk_signed".into(),
            "REDIS_URL" => "http://127.0.0.1:1".into(),
            "REDIS_TOKEN" => "t".into(),
            "ALLOWED_ORIGINS" => "https://app.example".into(),
            _ => return None,
        })
    })?;
    let mut names: Vec<_> = fs::read_dir("fuzz/seeds/plan")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    for path in names {
        let data = fs::read(&path)?;
        let Some(mut req) = RawRequest::parse(&data) else {
            continue;
        };
        if req.flag("repeat").is_some() {
            continue; // the same events as the seed it repeats
        }
        let zipped;
        if req.flag("gzip").is_some() {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(req.body)?;
            zipped = e.finish()?;
            req.body = &zipped;
            req.headers
                .insert("content-encoding", http::HeaderValue::from_static("gzip"));
        }
        let incoming = Incoming {
            method: req.method,
            path: req.path,
            headers: &req.headers,
            body: req.body,
            peer_ip: Some([203, 0, 113, 7].into()),
            geo: None,
            now_ms: 1_764_260_400_500,
        };
        let Plan::Call {
            call: Call::Redis(call),
            ..
        } = plan(&cfg, &incoming, &mut Counter(0), &mut Metrics::default())
        else {
            continue;
        };
        let view = ingest_core::redis::ingest::IngestView::parse(&call.call()).ok_or("not an ingest call")?;
        let m = view.first();
        let (events, count, key_id, rid) = (m.events(), m.accepted(), m.write_key(), m.request_id());
        if events.is_empty() {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("x");
        let entry = serde_json::json!([[
            "1764260400500-0",
            [
                "v",
                "1",
                "n",
                count,
                "wk",
                key_id,
                "rid",
                rid,
                "at",
                "1764260400500",
                "events",
                events
            ]
        ]]);
        fs::write(
            format!("fuzz/seeds/stream_entry/sdk-{name}"),
            entry.to_string(),
        )?;
        let list: Vec<&serde_json::value::RawValue> = serde_json::from_str(events)?;
        for (i, ev) in list.iter().enumerate() {
            fs::write(format!("fuzz/seeds/row/sdk-{name}-{i}"), ev.get())?;
        }
        println!("{name}: {count} events");
    }
    Ok(())
}
