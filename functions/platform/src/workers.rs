//! Cloudflare Workers glue (the `worker` crate).
//!
//! Platform limits that matter here: 128 MB memory per isolate; 10 ms CPU per request on
//! the free plan (50 ms+ on paid); 100 MB request bodies (our cap is far lower); an
//! isolate serves many requests, so configuration is parsed once and cached; a panic
//! loses every in-flight request of the isolate, so nothing here may panic. Workers does
//! not inflate `Content-Encoding: gzip` request bodies: the core does.

use ingest_core::clickhouse;
use ingest_core::drain::DrainConfig;
use ingest_core::enrich::Geo;
use ingest_core::io::{CallOutcome, Io, Random};
use ingest_core::redis::RestCall;
use ingest_core::{Config, Reply};
use std::sync::OnceLock;
use std::time::Duration;
use worker::{Date, Env, Fetch, Headers, Method, Request, RequestInit, Response};

/// Upper bound on one Upstash round trip before the request is answered 503.
pub const UPSTASH_TIMEOUT: Duration = Duration::from_secs(10);

static CONFIG: OnceLock<Config> = OnceLock::new();
static DRAIN: OnceLock<Option<DrainConfig>> = OnceLock::new();

fn lookup(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
}

/// The configuration from `[vars]` and secrets, parsed on first use and cached for the
/// isolate's life. A bad configuration is not cached, so a fixed deploy recovers.
pub fn config(env: &Env) -> Result<&'static Config, String> {
    if let Some(c) = CONFIG.get() {
        return Ok(c);
    }
    let parsed = Config::from_lookup(|name| lookup(env, name))?;
    Ok(CONFIG.get_or_init(|| parsed))
}

/// The processor configuration, when `CLICKHOUSE_URL` is set (`Ok(None)` otherwise).
pub fn drain_config(env: &Env) -> Result<Option<&'static DrainConfig>, String> {
    if let Some(c) = DRAIN.get() {
        return Ok(c.as_ref());
    }
    let parsed = match lookup(env, "CLICKHOUSE_URL").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(_) => Some(DrainConfig::from_lookup(|name| lookup(env, name))?),
    };
    Ok(DRAIN.get_or_init(|| parsed).as_ref())
}

/// The drain port on Workers: `fetch` to Upstash and ClickHouse, `Date.now()`, timers.
pub struct WorkerIo {
    /// Collector configuration (Upstash URL and token).
    pub cfg: &'static Config,
}

impl Io for WorkerIo {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        upstash(self.cfg, call).await
    }

    async fn clickhouse(&self, req: &clickhouse::Request) -> CallOutcome {
        post(&req.url, &req.headers, &req.body).await
    }

    fn now_ms(&self) -> i64 {
        now_ms()
    }

    async fn sleep(&self, ms: u64) {
        worker::Delay::from(Duration::from_millis(ms)).await;
    }
}

/// Randomness from the platform CSPRNG (`crypto.getRandomValues`).
pub struct Rng;

impl Random for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            // crypto.getRandomValues cannot fail for small buffers; fall back to the clock
            // rather than panic, ids stay unique enough for a request id.
            let t = Date::now().as_millis().to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b = t.get(i % t.len()).copied().unwrap_or(0) ^ (i as u8);
            }
        }
    }
}

/// Current time, Unix ms.
pub fn now_ms() -> i64 {
    i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX)
}

/// Read a request body as a stream, stopping at `cap` bytes (see
/// `ingest_core::collector::body_read_cap`; a body declared larger is not read at all).
pub async fn read_capped(req: &mut Request, cap: usize) -> Vec<u8> {
    use futures_util::StreamExt as _;
    let mut body = Vec::new();
    let Ok(mut stream) = req.stream() else {
        return body;
    };
    while let Some(Ok(chunk)) = stream.next().await {
        if ingest_core::payload::append_capped(&mut body, &chunk, cap) {
            break;
        }
    }
    body
}

/// Copy the request headers into an `http::HeaderMap` (invalid ones are skipped).
pub fn header_map(headers: &Headers) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers.entries() {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(k.as_bytes()),
            http::header::HeaderValue::from_str(&v),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// Geo data from `request.cf`.
pub fn geo(req: &Request) -> Option<Geo> {
    let cf = req.cf()?;
    let (lat, lon) = cf.coordinates().map_or((None, None), |(a, b)| {
        (Some(a.to_string()), Some(b.to_string()))
    });
    let tz = cf.timezone_name();
    Some(Geo {
        country: cf.country(),
        region: cf.region(),
        city: cf.city(),
        timezone: (!tz.is_empty()).then_some(tz),
        latitude: lat,
        longitude: lon,
        asn: cf.asn(),
    })
}

/// Convert the core's reply into a Workers response.
pub fn response(reply: Reply) -> worker::Result<Response> {
    let headers = Headers::new();
    for (k, v) in &reply.headers {
        headers.set(k, v)?;
    }
    let resp = if reply.body.is_empty() {
        Response::empty()?
    } else {
        Response::ok(reply.body)?
    };
    Ok(resp.with_status(reply.status).with_headers(headers))
}

/// Perform one Upstash REST call, bounded by [`UPSTASH_TIMEOUT`].
pub async fn upstash(cfg: &Config, call: &RestCall) -> CallOutcome {
    let (url, headers) = call.http(&cfg.redis_url, &cfg.redis_token);
    post(&url, &headers, &call.body).await
}

/// `POST url` with headers and body, bounded by [`UPSTASH_TIMEOUT`].
pub async fn post(url: &str, headers: &[(&'static str, String)], body: &str) -> CallOutcome {
    let send = async {
        let h = Headers::new();
        for (k, v) in headers {
            h.set(k, v).map_err(|e| e.to_string())?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(h)
            .with_body(Some(body.into()));
        let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
        let mut resp = Fetch::Request(req)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok(ingest_core::io::HttpReply::new(resp.status_code(), body))
    };
    let timeout = worker::Delay::from(UPSTASH_TIMEOUT);
    futures_util::pin_mut!(send);
    match futures_util::future::select(send, timeout).await {
        futures_util::future::Either::Left((outcome, _)) => outcome,
        futures_util::future::Either::Right(_) => Err(ingest_core::io::TransportError::Timeout(
            UPSTASH_TIMEOUT.as_secs(),
        )),
    }
}

/// Print a log line at the right console level.
pub fn log(status: u16, line: &str) {
    if status >= 500 {
        worker::console_error!("{line}");
    } else {
        worker::console_log!("{line}");
    }
}
