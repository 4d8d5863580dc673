//! Cloudflare Workers glue (the `worker` crate).
//!
//! Platform limits that matter here: 128 MB memory per isolate; 10 ms CPU per request on
//! the free plan (50 ms+ on paid); 100 MB request bodies (our cap is far lower); an
//! isolate serves many requests, so configuration is parsed once and cached; a panic
//! loses every in-flight request of the isolate, so nothing here may panic. Workers does
//! not inflate `Content-Encoding: gzip` request bodies: the core does.

use ingest_core::enrich::Geo;
use ingest_core::io::{Backends, CallOutcome, Http, TransportError};
use ingest_core::serve::{Deployment, Log};
use ingest_core::{Reply, io::HttpReply};
use std::sync::OnceLock;
use std::time::Duration;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Response};

/// Upper bound on one backend round trip before the request is answered 503.
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(10);

static DEPLOYMENT: OnceLock<Deployment> = OnceLock::new();

/// A variable from `[vars]`, else a secret.
pub fn lookup(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|v| v.to_string()))
        .ok()
}

/// The deployment's configuration from `[vars]` and secrets, parsed on first use and
/// cached for the isolate's life. A bad configuration is not cached, so a fixed deploy
/// recovers.
pub fn deployment(env: &Env) -> Result<&'static Deployment, String> {
    if let Some(d) = DEPLOYMENT.get() {
        return Ok(d);
    }
    let parsed = Deployment::from_lookup(|name| lookup(env, name), true)?;
    Ok(DEPLOYMENT.get_or_init(|| parsed))
}

/// HTTP through `fetch`, each call bounded by [`BACKEND_TIMEOUT`].
#[derive(Debug, Clone, Copy)]
pub struct Fetcher;

impl Http for Fetcher {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> CallOutcome {
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
            Ok(HttpReply::new(resp.status_code(), body))
        };
        let timeout = worker::Delay::from(BACKEND_TIMEOUT);
        futures_util::pin_mut!(send);
        match futures_util::future::select(send, timeout).await {
            futures_util::future::Either::Left((outcome, _)) => outcome,
            futures_util::future::Either::Right(_) => {
                Err(TransportError::Timeout(BACKEND_TIMEOUT.as_secs()))
            }
        }
    }

    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }

    async fn sleep(&self, ms: u64) {
        worker::Delay::from(Duration::from_millis(ms)).await;
    }
}

/// The port for this deployment.
pub fn io(dep: &Deployment) -> Backends<'_, Fetcher> {
    dep.backends(Fetcher)
}

/// The request headers as an `http::HeaderMap`.
pub fn headers(req: &Request) -> http::HeaderMap {
    crate::header_map(req.headers().entries())
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

/// Read the body up to `cap` bytes.
pub async fn read_capped(req: &mut Request, cap: usize) -> Vec<u8> {
    match req.stream() {
        Ok(stream) => crate::read_capped(stream, cap).await,
        Err(_) => Vec::new(),
    }
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

/// Log a configuration failure and answer it.
pub fn failure((reply, line): (Reply, Log)) -> worker::Result<Response> {
    log(Some(line));
    response(reply)
}

/// Print a log line at its console level.
pub fn log(line: Option<Log>) {
    match line {
        Some(Log { error: true, line }) => worker::console_error!("{line}"),
        Some(Log { error: false, line }) => worker::console_log!("{line}"),
        None => {}
    }
}
