//! Fermyon Spin / WASI HTTP glue (spin-sdk 5.2, `wasi:http@0.2`).
//!
//! Platform limits that matter here: an instance lives for one request (configuration is
//! parsed per request: it is cheap); outbound hosts must be listed in spin.toml
//! (`allowed_outbound_hosts`); nothing runs after the response is returned, so there is no
//! drain after ack (the processor component, run on a schedule, does it); there is no
//! `request.cf`, so geo comes from CDN headers. Configuration: Spin variables when built
//! with the `spin-variables` feature, then the environment (`wasmtime serve --env`).

use ingest_core::clickhouse;
use ingest_core::io::{CallOutcome, Io, Random};
use ingest_core::redis::RestCall;
use ingest_core::{Config, Reply};
use spin_sdk::http::{IncomingRequest, Method, Request, Response};

/// Look a configuration value up: Spin variables (lower-cased names, as Spin requires),
/// then the environment.
pub fn lookup(name: &str) -> Option<String> {
    #[cfg(feature = "spin-variables")]
    if let Ok(v) = spin_sdk::variables::get(&name.to_ascii_lowercase()) {
        if !v.is_empty() {
            return Some(v);
        }
    }
    std::env::var(name).ok()
}

/// The collector configuration. Nothing runs after a Spin response, so the drain after
/// ack is always off here (the processor component drains).
pub fn config() -> Result<Config, String> {
    let mut cfg = Config::from_lookup(lookup)?;
    cfg.drain_lock_ms = 0;
    Ok(cfg)
}

/// Randomness from `wasi:random`.
pub struct Rng;

impl Random for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        if getrandom::fill(buf).is_err() {
            let t = now_ms().to_le_bytes();
            for (i, b) in buf.iter_mut().enumerate() {
                *b = t.get(i % t.len()).copied().unwrap_or(0) ^ (i as u8);
            }
        }
    }
}

/// Current time, Unix ms (`wasi:clocks`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The headers of a streamed request as an `http::HeaderMap`, with `Host` restored from
/// the authority (wasi:http carries it outside the headers).
pub fn incoming_headers(req: &IncomingRequest) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in req.headers().entries() {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(k.as_bytes()),
            http::header::HeaderValue::from_bytes(&v),
        ) {
            map.append(name, value);
        }
    }
    if !map.contains_key("host") {
        let authority = req.authority().unwrap_or_default();
        if let Ok(value) = http::header::HeaderValue::from_str(&authority) {
            map.insert(http::header::HOST, value);
        }
    }
    map
}

/// The path of a streamed request, without the query.
pub fn incoming_path(req: &IncomingRequest) -> String {
    let pq = req.path_with_query().unwrap_or_default();
    pq.split('?').next().unwrap_or_default().to_string()
}

/// Read a request body, stopping at `cap` bytes (see
/// `ingest_core::collector::body_read_cap`; a body declared larger is not read at all).
pub async fn read_capped(req: IncomingRequest, cap: usize) -> Vec<u8> {
    use futures_util::StreamExt as _;
    let mut body = Vec::new();
    let mut stream = std::pin::pin!(req.into_body_stream());
    while let Some(Ok(chunk)) = stream.next().await {
        if ingest_core::payload::append_capped(&mut body, &chunk, cap) {
            break;
        }
    }
    body
}

/// Method name of a request (buffered or streamed).
pub fn method_name(m: &Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Options => "OPTIONS",
        Method::Head => "HEAD",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        _ => "OTHER",
    }
}

/// Method name.
pub fn method(req: &Request) -> &'static str {
    method_name(req.method())
}

/// Convert the core's reply.
pub fn response(reply: Reply) -> Response {
    let mut b = Response::builder();
    b.status(reply.status);
    for (k, v) in &reply.headers {
        b.header(*k, v.as_str());
    }
    b.body(reply.body.into_bytes()).build()
}

/// Upper bound on each phase of a backend call (connect, first byte, between bytes): the
/// same 10 s Workers gives an Upstash round trip, so a stuck backend gives a 503, not a
/// hung instance.
pub const BACKEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `POST url` with headers and body through `wasi:http/outgoing-handler`, with
/// [`BACKEND_TIMEOUT`] as request options. An instance serves one request, so waiting
/// on the host's pollables blocks nothing else.
pub async fn post(url: &str, headers: &[(&'static str, String)], body: &str) -> CallOutcome {
    post_with_deadline(url, headers, body.as_bytes(), BACKEND_TIMEOUT)
}

fn post_with_deadline(
    url: &str,
    headers: &[(&'static str, String)],
    body: &[u8],
    timeout: std::time::Duration,
) -> CallOutcome {
    use spin_sdk::wit::wasi::http0_2_0::{outgoing_handler, types as wt};
    let err = |what: &str, e: &dyn std::fmt::Debug| format!("{what}: {e:?}");
    let (scheme, rest) = match url.split_once("://") {
        Some(("https", r)) => (wt::Scheme::Https, r),
        Some(("http", r)) => (wt::Scheme::Http, r),
        _ => return Err(format!("not an http(s) URL: {url}").into()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let fields = wt::Fields::new();
    for (k, v) in headers {
        fields
            .append(k, v.as_bytes())
            .map_err(|e| err("header", &e))?;
    }
    let req = wt::OutgoingRequest::new(fields);
    let set = [
        req.set_method(&wt::Method::Post),
        req.set_scheme(Some(&scheme)),
        req.set_authority(Some(authority)),
        req.set_path_with_query(Some(path)),
    ];
    if set.iter().any(Result::is_err) {
        return Err(format!("cannot address {url}").into());
    }
    let ns = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let options = wt::RequestOptions::new();
    let _ = options.set_connect_timeout(Some(ns));
    let _ = options.set_first_byte_timeout(Some(ns));
    let _ = options.set_between_bytes_timeout(Some(ns));
    let out_body = req.body().map_err(|e| err("request body", &e))?;
    let pending =
        outgoing_handler::handle(req, Some(options)).map_err(|e| err("outbound request", &e))?;
    {
        let stream = out_body.write().map_err(|e| err("request body", &e))?;
        for chunk in body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| err("sending the body", &e))?;
        }
    }
    wt::OutgoingBody::finish(out_body, None).map_err(|e| err("sending the body", &e))?;
    let response = loop {
        match pending.get() {
            Some(r) => break r,
            None => pending.subscribe().block(),
        }
    };
    let response = response
        .map_err(|e| err("response", &e))?
        .map_err(|e| err("backend call", &e))?;
    let status = response.status();
    let incoming = response.consume().map_err(|e| err("response body", &e))?;
    let mut bytes = Vec::new();
    {
        let stream = incoming.stream().map_err(|e| err("response body", &e))?;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(::wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(err("reading the response", &e).into()),
            }
        }
    }
    Ok(ingest_core::io::HttpReply::new(status, bytes))
}

/// One Upstash REST call.
pub async fn upstash(cfg: &Config, call: &RestCall) -> CallOutcome {
    let (url, headers) = call.http(&cfg.redis_url, &cfg.redis_token);
    post(&url, &headers, &call.body).await
}

/// The drain port on Spin.
pub struct SpinIo<'a> {
    /// Collector configuration (Upstash URL and token).
    pub cfg: &'a Config,
}

impl Io for SpinIo<'_> {
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
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}
