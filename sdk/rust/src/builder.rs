//! Client settings and their builder.

use crate::{Client, Error, Inner, MAX_BATCH_EVENTS, rt};
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Client settings; see [`ClientBuilder`] for the defaults.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) write_key: String,
    pub(crate) endpoint: String,
    pub(crate) flush_at: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_queue: usize,
    pub(crate) max_retries: u32,
    pub(crate) gzip: bool,
    pub(crate) signing_secret: Option<String>,
    pub(crate) timeout: Duration,
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) s: Settings,
}

impl ClientBuilder {
    /// Events per batch (default 100; at most the collector's per-request limit of
    /// 5,000, which it refuses past with 413).
    pub fn flush_at(mut self, n: usize) -> Self {
        self.s.flush_at = n.clamp(1, MAX_BATCH_EVENTS);
        self
    }
    /// Send whatever is queued at least this often (default 10 s).
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.s.flush_interval = d;
        self
    }
    /// Most events kept in memory; the oldest are dropped beyond it (default 10,000).
    pub fn max_queue(mut self, n: usize) -> Self {
        self.s.max_queue = n.max(1);
        self
    }
    /// Attempts after the first for one batch (default 5).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.s.max_retries = n;
        self
    }
    /// Gzip request bodies (default on).
    pub fn gzip(mut self, on: bool) -> Self {
        self.s.gzip = on;
        self
    }
    /// Sign every request with this secret (`X-Signature`), for write keys the collector
    /// has in `SIGNING_SECRETS`. Server-side senders only: never ship a secret to browsers.
    pub fn signing_secret(mut self, secret: &str) -> Self {
        self.s.signing_secret = Some(secret.to_string());
        self
    }
    /// Per-request timeout (default 15 s; native only, browsers apply their own).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.s.timeout = d;
        self
    }

    /// Build the client. Natively, inside a tokio runtime, this also starts the interval
    /// flusher; in the browser it starts on the page's event loop.
    pub fn build(self) -> Result<Client, Error> {
        let s = self.s;
        if s.write_key.is_empty() {
            return Err(Error::Config("write key is empty".into()));
        }
        if !(s.endpoint.starts_with("http://") || s.endpoint.starts_with("https://"))
            || reqwest::Url::parse(&s.endpoint).is_err()
        {
            return Err(Error::Config(format!(
                "endpoint must be an http(s) URL, got {:?}",
                s.endpoint
            )));
        }
        let http = rt::http_client(s.timeout).map_err(Error::Config)?;
        let inner = Arc::new(Inner {
            s,
            http,
            queue: Mutex::new(VecDeque::new()),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            sending: futures_util::lock::Mutex::new(()),
        });
        rt::start_interval(Arc::downgrade(&inner));
        Ok(Client { inner })
    }
}
