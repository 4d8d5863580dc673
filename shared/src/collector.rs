//! The collector, sans IO: [`plan`] turns a request into either a reply or one Upstash
//! REST call; [`finish`] turns that call's outcome into the reply. Adapters only move
//! bytes between the platform and these two functions.

use crate::config::Config;
use crate::enrich::Geo;
use crate::error::IngestError;
use crate::event::Kind;
use crate::reply::Reply;
use crate::validate::Rejects;

use std::net::IpAddr;

mod envelope;
mod finish;
mod ingest;
mod log;
mod request;
pub mod serve;
mod settings;
pub use envelope::MAX_BATCH_EVENTS;
pub use finish::{Answer, Finished, finish, finish_answer};
pub use ingest::work_budget;
pub use log::LogLine;
pub use request::{body_read_cap, declared_over_limit};
pub use settings::settings_key;

pub use crate::io::{CallOutcome, Random};

/// A request as the core sees it.
#[derive(Debug)]
pub struct Incoming<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// URL path without query.
    pub path: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// Raw body bytes.
    pub body: &'a [u8],
    /// The client address as the platform knows it (Workers: `CF-Connecting-IP`; Spin:
    /// `spin-client-addr`; native: the socket peer). Proxy headers count only when this is
    /// a `TRUSTED_PROXIES` address (see [`crate::identity`]).
    pub peer_ip: Option<IpAddr>,
    /// Geo data from the platform, if any.
    pub geo: Option<&'a Geo>,
    /// Arrival time, Unix ms.
    pub now_ms: i64,
}

/// What to do with a request.
#[derive(Debug)]
pub enum Plan {
    /// Answer at once.
    Respond(Reply, LogLine),
    /// Make this call, then pass its outcome to [`finish`] with `pending`.
    Call {
        /// The backend call to make.
        call: Call,
        /// State needed to build the reply.
        pending: Pending,
    },
}

/// The one backend call a collector request costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// Upstash REST (the redis sink): this request's member of an ingest script call
    /// ([`crate::redis::ingest::Member::call`] alone, or grouped by
    /// [`crate::redis::linger::Linger`]).
    Redis(crate::redis::ingest::Member),
    /// ClickHouse HTTP (the direct sink): an async insert.
    ClickHouse(crate::clickhouse::Request),
}

impl Call {
    /// Make the call through the platform's port, alone, and read its answer.
    pub async fn run<I: crate::io::Io>(&self, io: &I) -> finish::Answer {
        match self {
            Self::Redis(m) => crate::redis::linger::alone(io, m).await,
            Self::ClickHouse(r) => finish::clickhouse_answer(io.clickhouse(r).await),
        }
    }
}

/// State carried from [`plan`] to [`finish`].
#[derive(Debug)]
pub struct Pending {
    pub(super) direct: bool,
    pub(super) origin: Option<String>,
    pub(super) accepted: usize,
    pub(super) rejects: Rejects,
    pub(super) log: LogLine,
    pub(super) metrics: Vec<(String, u64)>,
    /// The shard stream the request's member writes to (Redis sink).
    pub(super) stream: Option<String>,
}

/// The drain lock a request was handed by the ingest script: drain `stream` (its shard)
/// after the response, as `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainOwner {
    /// The lock's value (the request id).
    pub owner: String,
    /// The shard stream the lock covers.
    pub stream: String,
}

/// What the route table says a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/v1/batch` or `/v1/import`.
    Batch,
    /// A single-event route: `/v1/track`, `/v1/t`, …
    Single(Kind),
}

/// Match a collector path (trailing slash tolerated).
pub fn route(path: &str) -> Option<Route> {
    let p = path.strip_suffix('/').unwrap_or(path);
    Some(match p {
        "/v1/batch" | "/v1/import" | "/v1/b" => Route::Batch,
        "/v1/track" | "/v1/t" => Route::Single(Kind::Track),
        "/v1/identify" | "/v1/i" => Route::Single(Kind::Identify),
        "/v1/page" | "/v1/p" => Route::Single(Kind::Page),
        "/v1/screen" | "/v1/s" => Route::Single(Kind::Screen),
        "/v1/group" | "/v1/g" => Route::Single(Kind::Group),
        "/v1/alias" | "/v1/a" => Route::Single(Kind::Alias),
        _ => return None,
    })
}

fn route_name(r: Route) -> &'static str {
    match r {
        Route::Batch => "batch",
        Route::Single(k) => k.as_str(),
    }
}

pub(super) fn header<'h>(h: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Random hex id of `n` bytes.
pub fn random_hex(rng: &mut impl Random, n: usize) -> String {
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    hex::encode(b)
}

pub(super) fn respond(
    err: &IngestError,
    cfg: &Config,
    origin: Option<&str>,
    mut log: LogLine,
) -> Plan {
    let mut reply = err.to_reply();
    cfg.origins.decorate(origin, &mut reply);
    reply.set_header("x-request-id", log.request_id.clone());
    log.status = reply.status;
    log.error = Some(err.code());
    if let IngestError::AllInvalid(r) = err {
        log.rejected = r.total();
    }
    if let IngestError::Config(m) = err {
        log.detail = Some(m.clone());
    }
    Plan::Respond(reply, log)
}

/// Decide what to do with a collector request.
///
/// `metrics` holds counters of earlier requests; when the plan makes the Redis call they
/// ride along (and come back in [`Finished::unflushed`] if the call fails).
pub fn plan(
    cfg: &Config,
    req: &Incoming<'_>,
    rng: &mut impl Random,
    metrics: &mut crate::metrics::Metrics,
) -> Plan {
    let origin = header(req.headers, "origin").filter(|o| !o.is_empty());
    let request_id = random_hex(rng, 8);
    if let Some(key) = settings_key(req.path) {
        return settings::settings(cfg, req, key, origin, LogLine::new(request_id, "settings"));
    }
    let Some(r) = route(req.path) else {
        let log = LogLine::new(request_id, "unknown");
        if req.method == "OPTIONS" {
            return preflight(cfg, req, origin, log);
        }
        return respond(&IngestError::NotFound, cfg, origin, log);
    };
    let mut log = LogLine::new(request_id, route_name(r));
    if let Some(plan) = admit(cfg, req, origin, &["POST"], &mut log) {
        return plan;
    }
    match request::build(cfg, req, r, origin, rng, &mut log, metrics) {
        Ok(plan) => plan,
        Err(e) => respond(&e, cfg, origin, log),
    }
}

/// The checks every route makes before its own work: a preflight is answered (and
/// logged as `preflight`), a method not in `methods` is 405, an origin not allowed is
/// 403. `Some` is the answer.
pub(super) fn admit(
    cfg: &Config,
    req: &Incoming<'_>,
    origin: Option<&str>,
    methods: &[&str],
    log: &mut LogLine,
) -> Option<Plan> {
    if req.method == "OPTIONS" {
        log.route = "preflight";
        return Some(preflight(cfg, req, origin, log.clone()));
    }
    if !methods.contains(&req.method) {
        let e = IngestError::MethodNotAllowed;
        return Some(respond(&e, cfg, origin, log.clone()));
    }
    let refused = origin.filter(|o| !cfg.origins.allows(o))?;
    let e = IngestError::OriginNotAllowed(refused.to_string());
    Some(respond(&e, cfg, origin, log.clone()))
}

pub(super) fn preflight(
    cfg: &Config,
    req: &Incoming<'_>,
    origin: Option<&str>,
    mut log: LogLine,
) -> Plan {
    let mut reply = cfg.origins.preflight(
        origin,
        header(req.headers, "access-control-request-headers"),
    );
    reply.set_header("x-request-id", log.request_id.clone());
    log.status = reply.status;
    Plan::Respond(reply, log)
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
