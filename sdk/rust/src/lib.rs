//! Rust client for the edge ingestion service (and any Segment HTTP API endpoint).
//!
//! Events are queued in memory and sent in batches to `POST {endpoint}/v1/batch`: when
//! `flush_at` events are waiting, every `flush_interval`, on [`Client::flush`] and on
//! [`Client::close`]. Batches stay under the collector's caps ([`MAX_BATCH_BYTES`],
//! [`MAX_BATCH_EVENTS`], both from [`ingest_protocol`], as the collector's are), are
//! gzipped, and are retried with exponential backoff and jitter on network errors, 5xx and 429 (honouring
//! `Retry-After`), never on other 4xx. Every event gets its `messageId` when queued, so a
//! retried batch is recognised by the collector. The queue is bounded: when full, the
//! oldest event is dropped and counted ([`Client::dropped`]); queuing never blocks.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ingest_sdk::Error> {
//! use ingest_sdk::{Client, Event};
//! let client = Client::builder("WRITE_KEY", "https://ingest.example.com").build()?;
//! client.enqueue(Event::track("Signed Up").user_id("user-1").property("plan", "pro"))?;
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! Works natively (tokio; a background task flushes on the interval) and in the browser
//! (wasm32-unknown-unknown; `feature = "browser"` adds the wasm-bindgen `IngestClient`).

#[cfg(all(target_arch = "wasm32", feature = "browser"))]
mod browser;
mod builder;
mod error;
mod event;
mod rt;

pub use builder::ClientBuilder;
use builder::Settings;
pub use error::Error;
pub use event::Event;

use ingest_protocol::{SIGNATURE_HEADER, TIMESTAMP_HEADER, paths};
use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request the collector accepts by default, in bytes of JSON (after gzip
/// inflation): [`ingest_protocol::MAX_REQUEST_BYTES`].
pub const MAX_BATCH_BYTES: usize = ingest_protocol::MAX_REQUEST_BYTES;
pub use ingest_protocol::{MAX_BATCH_EVENTS, MAX_EVENT_BYTES};

pub(crate) struct Inner {
    pub(crate) s: Settings,
    pub(crate) http: reqwest::Client,
    pub(crate) queue: Mutex<VecDeque<String>>,
    pub(crate) dropped: AtomicU64,
    pub(crate) sent: AtomicU64,
    /// One batch in flight at a time keeps order and bounds memory.
    pub(crate) sending: futures_util::lock::Mutex<()>,
}

/// A handle to the queue; cheap to clone and share.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.s.endpoint)
            .field("queued", &self.queued())
            .finish()
    }
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        let t = rt::now_ms().to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = t.get(i % 8).copied().unwrap_or(0) ^ (i as u8).wrapping_mul(37);
        }
    }
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (the epoch if out of range).
fn format_ms(ms: i64) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|dt| dt.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

fn iso_now() -> String {
    format_ms(rt::now_ms())
}

impl Client {
    /// Start building a client for `endpoint` (the collector's base URL).
    pub fn builder(write_key: &str, endpoint: &str) -> ClientBuilder {
        ClientBuilder {
            s: Settings {
                write_key: write_key.to_string(),
                endpoint: endpoint.trim_end_matches('/').to_string(),
                flush_at: 100,
                flush_interval: Duration::from_secs(10),
                max_queue: 10_000,
                max_retries: 5,
                gzip: true,
                signing_secret: None,
                timeout: Duration::from_secs(15),
            },
        }
    }

    /// Queue an event (never blocks). Fills in `messageId`, `timestamp` and the library
    /// context; checks the identity and size rules the collector applies.
    pub fn enqueue(&self, event: Event) -> Result<(), Error> {
        let mut body = event.body;
        let has = |b: &serde_json::Map<String, serde_json::Value>, k: &str| {
            b.get(k)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !has(&body, "userId") && !has(&body, "anonymousId") {
            return Err(Error::Invalid("userId or anonymousId is required".into()));
        }
        let kind = body
            .get("type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        if kind == "alias" && !has(&body, "userId") {
            return Err(Error::Invalid("userId is required for alias".into()));
        }
        if !has(&body, "messageId") {
            body.insert("messageId".into(), uuid_v4().into());
        }
        if !has(&body, "timestamp") {
            body.insert("timestamp".into(), iso_now().into());
        }
        let ctx = body
            .entry("context")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(c) = ctx.as_object_mut() {
            c.entry("library").or_insert_with(|| serde_json::json!({"name": "ingest-sdk-rust", "version": env!("CARGO_PKG_VERSION")}));
        }
        let text = serde_json::Value::Object(body).to_string();
        if text.len() > MAX_EVENT_BYTES {
            return Err(Error::Invalid(format!(
                "event is {} bytes, over {MAX_EVENT_BYTES}",
                text.len()
            )));
        }
        let full = {
            let mut q = self.inner.queue.lock().unwrap_or_else(|e| e.into_inner());
            while q.len() >= self.inner.s.max_queue {
                q.pop_front();
                self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(text);
            q.len() >= self.inner.s.flush_at
        };
        if full {
            rt::spawn_flush(Arc::clone(&self.inner));
        }
        Ok(())
    }

    /// Shorthand for [`Client::enqueue`] of a track event.
    pub fn track(&self, user_id: &str, event: &str) -> Result<(), Error> {
        self.enqueue(Event::track(event).user_id(user_id))
    }

    /// Send everything queued now. Returns the number of events the collector accepted.
    pub async fn flush(&self) -> Result<u64, Error> {
        flush(&self.inner).await
    }

    /// Flush and stop: what could not be delivered is reported as an error.
    pub async fn close(self) -> Result<u64, Error> {
        flush(&self.inner).await
    }

    /// Events waiting in memory.
    pub fn queued(&self) -> usize {
        self.inner.queue.lock().map_or(0, |q| q.len())
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Events delivered so far.
    pub fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }
}

/// Take the next batch: at most `flush_at` events and `MAX_BATCH_BYTES` of JSON.
fn next_batch(inner: &Inner) -> Vec<String> {
    let mut q = inner.queue.lock().unwrap_or_else(|e| e.into_inner());
    let mut batch = Vec::new();
    let mut size = 64;
    while let Some(front) = q.front() {
        if batch.len() >= inner.s.flush_at
            || (size + front.len() + 1 > MAX_BATCH_BYTES && !batch.is_empty())
        {
            break;
        }
        size += front.len() + 1;
        if let Some(e) = q.pop_front() {
            batch.push(e);
        }
    }
    batch
}

fn requeue(inner: &Inner, batch: Vec<String>) {
    let mut q = inner.queue.lock().unwrap_or_else(|e| e.into_inner());
    for e in batch.into_iter().rev() {
        q.push_front(e);
    }
    while q.len() > inner.s.max_queue {
        q.pop_front();
        inner.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

pub(crate) async fn flush(inner: &Arc<Inner>) -> Result<u64, Error> {
    let _guard = inner.sending.lock().await;
    let mut accepted = 0;
    loop {
        let batch = next_batch(inner);
        if batch.is_empty() {
            return Ok(accepted);
        }
        let n = batch.len() as u64;
        match send(inner, &batch).await {
            Ok(()) => {
                accepted += n;
                inner.sent.fetch_add(n, Ordering::Relaxed);
            }
            Err(e @ Error::Unavailable(_)) => {
                requeue(inner, batch);
                return Err(e);
            }
            Err(e) => return Err(e),
        }
    }
}

fn body_of(batch: &[String]) -> String {
    format!(
        "{{\"batch\":[{}],\"sentAt\":\"{}\"}}",
        batch.join(","),
        iso_now()
    )
}

/// Delay before retry `attempt` (0-based): equal jitter, half of `min(100 ms * 2^attempt,
/// 10 s)` plus a random part up to the other half.
pub fn backoff(attempt: u32, random: u64) -> Duration {
    let cap = 100u64.saturating_mul(1u64 << attempt.min(16)).min(10_000);
    Duration::from_millis(cap / 2 + random % (cap / 2 + 1))
}

async fn send(inner: &Inner, batch: &[String]) -> Result<(), Error> {
    let json = body_of(batch);
    let (bytes, encoding) = if inner.s.gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let gz = e.write_all(json.as_bytes()).and_then(|()| e.finish());
        match gz {
            Ok(b) => (b, Some("gzip")),
            Err(_) => (json.into_bytes(), None),
        }
    } else {
        (json.into_bytes(), None)
    };
    let auth = ingest_protocol::basic_authorization(&inner.s.write_key);
    let url = format!("{}{}", inner.s.endpoint, paths::BATCH);
    let path = url_path(&url);
    let mut last = String::new();
    for attempt in 0..=inner.s.max_retries {
        let mut req = inner
            .http
            .post(&url)
            .header("authorization", &auth)
            .header("content-type", "application/json")
            .body(bytes.clone());
        if let Some(enc) = encoding {
            req = req.header("content-encoding", enc);
        }
        if let Some(secret) = &inner.s.signing_secret {
            let ts = rt::now_ms() / 1000;
            req = req
                .header(TIMESTAMP_HEADER, ts.to_string())
                .header(SIGNATURE_HEADER, sign_v2(secret, "POST", &path, ts, &bytes));
        }
        let wait = match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                if (200..300).contains(&status) {
                    return Ok(());
                }
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(|s| Duration::from_secs(s.min(60)));
                let body = resp.text().await.unwrap_or_default();
                if status != 429 && status < 500 {
                    return Err(Error::Rejected { status, body });
                }
                last = format!("HTTP {status}: {body}");
                retry_after
            }
            Err(e) => {
                last = e.to_string();
                None
            }
        };
        if attempt == inner.s.max_retries {
            break;
        }
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        let delay = wait.unwrap_or_else(|| backoff(attempt, u64::from_le_bytes(r)));
        rt::sleep(delay).await;
    }
    Err(Error::Unavailable(last))
}

/// The request signatures (v2, and the deprecated v1) from [`ingest_protocol`], which the
/// collector verifies with the same code: client and server cannot drift apart.
pub use ingest_protocol::{sign, sign_v2};

/// The path of an absolute URL as it goes on the wire (what the collector sees and a v2
/// signature covers): percent-encoded where the URL needs it, without query or fragment.
fn url_path(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| "/".into(), |u| u.path().to_string())
}

#[cfg(test)]
mod tests;
