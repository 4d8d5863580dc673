//! Fermyon Spin / WASI HTTP glue (spin-sdk 5.2, `wasi:http@0.2`).
//!
//! Platform limits that matter here: an instance lives for one request (configuration is
//! parsed per request: it is cheap); outbound hosts must be listed in spin.toml
//! (`allowed_outbound_hosts`); nothing runs after the response is returned, so there is no
//! drain after ack (the processor component, run on a schedule, does it); there is no
//! `request.cf`, so geo comes from CDN headers. Configuration: Spin variables when built
//! with the `spin-variables` feature, then the environment (`wasmtime serve --env`).

use ingest_core::Reply;
use ingest_core::io::{Backends, CallOutcome, Http, HttpReply};
use ingest_core::serve::{Deployment, Log};
use spin_sdk::http::{IncomingRequest, Method, Response};

/// Look a configuration value up: Spin variables (lower-cased names, as Spin requires),
/// then the environment.
pub fn lookup(name: &str) -> Option<String> {
    #[cfg(feature = "spin-variables")]
    if let Ok(v) = spin_sdk::variables::get(&name.to_ascii_lowercase())
        && !v.is_empty()
    {
        return Some(v);
    }
    std::env::var(name).ok()
}

/// The deployment's configuration. Nothing runs after a Spin response, so the drain after
/// ack is off here (the processor component drains).
pub fn deployment() -> Result<Deployment, String> {
    Deployment::from_lookup(lookup, false)
}

/// HTTP through `wasi:http/outgoing-handler`, each phase bounded by [`BACKEND_TIMEOUT`].
#[derive(Debug, Clone, Copy)]
pub struct Outbound;

impl Http for Outbound {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> CallOutcome {
        post_with_deadline(url, headers, body.as_bytes(), BACKEND_TIMEOUT)
    }

    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }

    async fn sleep(&self, ms: u64) {
        // An instance serves one request: blocking it blocks nothing else.
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// The port for this deployment.
pub fn io(dep: &Deployment) -> Backends<'_, Outbound> {
    dep.backends(Outbound)
}

/// The headers of a streamed request as an `http::HeaderMap`, with `Host` restored from
/// the authority (wasi:http carries it outside the headers).
pub fn headers(req: &IncomingRequest) -> http::HeaderMap {
    let mut map = crate::header_map(req.headers().entries());
    if !map.contains_key("host") {
        let authority = req.authority().unwrap_or_default();
        if let Ok(value) = http::header::HeaderValue::from_str(&authority) {
            map.insert(http::header::HOST, value);
        }
    }
    map
}

/// The path of a streamed request, without the query.
pub fn path(req: &IncomingRequest) -> String {
    let pq = req.path_with_query().unwrap_or_default();
    pq.split('?').next().unwrap_or_default().to_string()
}

/// Read the body up to `cap` bytes.
pub async fn read_capped(req: IncomingRequest, cap: usize) -> Vec<u8> {
    crate::read_capped(req.into_body_stream(), cap).await
}

/// Method name.
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

/// Convert the core's reply.
pub fn response(reply: Reply) -> Response {
    let mut b = Response::builder();
    b.status(reply.status);
    for (k, v) in &reply.headers {
        b.header(*k, v.as_str());
    }
    b.body(reply.body.into_bytes()).build()
}

/// Log a configuration failure and answer it.
pub fn failure((reply, line): (Reply, Log)) -> Response {
    log(Some(line));
    response(reply)
}

/// Print a log line (stderr for errors).
pub fn log(line: Option<Log>) {
    match line {
        Some(Log { error: true, line }) => eprintln!("{line}"),
        Some(Log { error: false, line }) => println!("{line}"),
        None => {}
    }
}

/// Upper bound on each phase of a backend call (connect, first byte, between bytes): the
/// same 10 s Workers gives an Upstash round trip, so a stuck backend gives a 503, not a
/// hung instance.
pub const BACKEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `POST url` with `timeout` as the request options of every phase. An instance serves
/// one request, so waiting on the host's pollables blocks nothing else.
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
    Ok(HttpReply::new(status, bytes))
}
