//! The collector, sans IO: [`plan`] turns a request into either a reply or one Upstash
//! REST call; [`finish`] turns that call's outcome into the reply. Adapters only move
//! bytes between the platform and these two functions.

use crate::auth::{KeyId, key_from_basic_auth};
use crate::config::{Config, LogLevel};
use crate::enrich::{BatchInfo, Edge, Geo};
use crate::error::IngestError;
use crate::event::{Kind, RawObject, raw_str};
use crate::redis::{IngestOutcome, RestCall, RestError, parse_ingest, parse_outcome};
use crate::reply::Reply;
use crate::validate::Rejects;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

mod envelope;
mod ingest;
pub use envelope::MAX_BATCH_EVENTS;
pub use ingest::work_budget;

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
    /// Upstash REST (the redis sink): the ingest script.
    Redis(RestCall),
    /// ClickHouse HTTP (the direct sink): an async insert.
    ClickHouse(crate::clickhouse::Request),
}

impl Call {
    /// Make the call through the platform's port.
    pub async fn run<I: crate::io::Io>(&self, io: &I) -> CallOutcome {
        match self {
            Self::Redis(c) => io.redis(c).await,
            Self::ClickHouse(r) => io.clickhouse(r).await,
        }
    }
}

/// State carried from [`plan`] to [`finish`].
#[derive(Debug)]
pub struct Pending {
    direct: bool,
    origin: Option<String>,
    accepted: usize,
    rejects: Rejects,
    log: LogLine,
    metrics: Vec<(String, u64)>,
}

/// One structured log line per request (no bodies, keys or full IPs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Random request id, also returned in `x-request-id`.
    pub request_id: String,
    /// Route name, e.g. `batch`, `track`, `preflight`.
    pub route: &'static str,
    /// Final status.
    pub status: u16,
    /// Events accepted.
    pub accepted: usize,
    /// Events rejected.
    pub rejected: usize,
    /// Write key id (hash prefix), once known.
    pub key_id: Option<String>,
    /// Error code for failures.
    pub error: Option<&'static str>,
    /// Detail for server-side failures.
    pub detail: Option<String>,
}

impl LogLine {
    fn new(request_id: String, route: &'static str) -> Self {
        Self {
            request_id,
            route,
            status: 0,
            accepted: 0,
            rejected: 0,
            key_id: None,
            error: None,
            detail: None,
        }
    }

    /// Whether this line should be printed at `level`.
    pub fn enabled(&self, level: LogLevel) -> bool {
        let own = match self.status {
            500.. => LogLevel::Error,
            400..=499 if self.status != 404 && self.status != 429 => LogLevel::Warn,
            _ => LogLevel::Info,
        };
        own <= level
    }

    /// The JSON text of the line, with the duration the adapter measured.
    pub fn to_json(&self, duration_ms: f64) -> String {
        serde_json::json!({
            "msg": "request",
            "request_id": self.request_id,
            "route": self.route,
            "status": self.status,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "key_id": self.key_id,
            "error": self.error,
            "detail": self.detail,
            "duration_ms": (duration_ms * 100.0).round() / 100.0,
        })
        .to_string()
    }
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

/// The write key of a `/v1/projects/:writeKey/settings` path.
pub fn settings_key(path: &str) -> Option<&str> {
    let key = path
        .strip_prefix("/v1/projects/")?
        .strip_suffix("/settings")?;
    (!key.is_empty() && !key.contains('/')).then_some(key)
}

/// `GET /v1/projects/:writeKey/settings`: what analytics.js / analytics-next load from
/// Segment's CDN (`cdnURL`), pointing the Segment.io destination at this collector.
///
/// The answer is cached publicly (`Cache-Control: public, max-age=300`), so no request
/// header reaches it unchecked:
/// * `apiHost` is `PUBLIC_API_HOST` when set; request headers are then not consulted.
///   Otherwise it is the `Host` header + `/v1`, and only if `Host` is a valid
///   `host[:port]` (DNS name, dotted IPv4 or bracketed IPv6, digits for the port, at most
///   255 characters: [`crate::cors::Authority::parse`]). A missing or invalid `Host` is
///   answered 400 `invalid_host`; it is never echoed into the settings.
/// * `protocol` is `https`, or `http` for a loopback host (`localhost`, 127.0.0.0/8,
///   `[::1]`), whether it comes from `PUBLIC_API_HOST` or `Host`. `X-Forwarded-Proto` is
///   ignored, with one exception: without `PUBLIC_API_HOST`, for a loopback `Host`, the
///   value `https` (any case) selects https (a local TLS proxy in front of the dev
///   server). A public host is always served `https`, whatever the client sends.
/// * `Vary: Host, X-Forwarded-Proto, Origin` keeps shared caches from giving one client's
///   answer to another.
fn settings(
    cfg: &Config,
    req: &Incoming<'_>,
    key: &str,
    origin: Option<&str>,
    mut log: LogLine,
) -> Plan {
    if req.method == "OPTIONS" {
        log.route = "preflight";
        return preflight(cfg, req, origin, log);
    }
    if req.method != "GET" && req.method != "HEAD" {
        return respond(&IngestError::MethodNotAllowed, cfg, origin, log);
    }
    if let Some(o) = origin.filter(|o| !cfg.origins.allows(o)) {
        return respond(
            &IngestError::OriginNotAllowed(o.to_string()),
            cfg,
            origin,
            log,
        );
    }
    let Some(id) = cfg.write_keys.verify(key) else {
        return respond(&IngestError::UnknownWriteKey, cfg, origin, log);
    };
    log.key_id = Some(id.as_str().to_string());
    let (api_host, protocol) = match settings_target(cfg, req.headers) {
        Ok(target) => target,
        Err(e) => return respond(&e, cfg, origin, log),
    };
    let body = serde_json::json!({
        "integrations": {
            "Segment.io": {
                "apiKey": key,
                "apiHost": api_host,
                "protocol": protocol,
                "addBundledMetadata": true,
                "unbundledIntegrations": [],
                "maybeBundledConfigIds": {},
            }
        },
        "plan": { "track": { "__default": { "enabled": true, "integrations": {} } },
                  "identify": { "__default": { "enabled": true } },
                  "group": { "__default": { "enabled": true } } },
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": { "sampleRate": 0 },
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": [],
    });
    let mut reply = Reply::json(200, body.to_string());
    reply.set_header("cache-control", "public, max-age=300".into());
    cfg.origins.decorate(origin, &mut reply);
    reply.set_header("vary", "Host, X-Forwarded-Proto, Origin".into());
    reply.set_header("x-request-id", log.request_id.clone());
    log.status = 200;
    Plan::Respond(reply, log)
}

/// The settings' `apiHost` and `protocol`, chosen as [`settings`] describes.
fn settings_target(
    cfg: &Config,
    headers: &http::HeaderMap,
) -> Result<(String, &'static str), IngestError> {
    use crate::cors::Authority;
    if let Some(public) = &cfg.public_api_host {
        let host = public.split('/').next().unwrap_or_default();
        let local = Authority::parse(host).is_ok_and(|a| a.host.is_loopback());
        return Ok((public.clone(), if local { "http" } else { "https" }));
    }
    let bad = |why: &str| {
        IngestError::InvalidHost(format!(
            "{why}; expected host[:port] (or set PUBLIC_API_HOST)"
        ))
    };
    let raw = headers
        .get(http::header::HOST)
        .ok_or_else(|| bad("the Host header is missing"))?
        .to_str()
        .map_err(|_| bad("the Host header is not ASCII text"))?
        .trim();
    let authority = Authority::parse(raw).map_err(|why| {
        let shown: String = raw.chars().take(64).collect();
        bad(&format!("the Host header {shown:?} {why}"))
    })?;
    let forwarded_https =
        header(headers, "x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let protocol = if authority.host.is_loopback() && !forwarded_https {
        "http"
    } else {
        "https"
    };
    Ok((format!("{authority}/v1"), protocol))
}

fn route_name(r: Route) -> &'static str {
    match r {
        Route::Batch => "batch",
        Route::Single(k) => k.as_str(),
    }
}

fn header<'h>(h: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Random hex id of `n` bytes.
pub fn random_hex(rng: &mut impl Random, n: usize) -> String {
    let mut b = vec![0u8; n];
    rng.fill(&mut b);
    hex::encode(b)
}

fn respond(err: &IngestError, cfg: &Config, origin: Option<&str>, mut log: LogLine) -> Plan {
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

/// Answer for a request that reached the collector while its configuration is invalid.
pub fn config_error_reply(message: &str, origin: Option<&str>) -> Reply {
    let mut r = IngestError::Config(message.to_string()).to_reply();
    if origin.is_some() {
        // The allowed origins are unknown: let any page read the error, without
        // reflecting the origin (and never with credentials).
        r.set_header("access-control-allow-origin", "*".to_string());
    }
    r
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
        return settings(cfg, req, key, origin, LogLine::new(request_id, "settings"));
    }
    let Some(r) = route(req.path) else {
        let log = LogLine::new(request_id, "unknown");
        if req.method == "OPTIONS" {
            return preflight(cfg, req, origin, log);
        }
        return respond(&IngestError::NotFound, cfg, origin, log);
    };
    let mut log = LogLine::new(request_id, route_name(r));
    if req.method == "OPTIONS" {
        log.route = "preflight";
        return preflight(cfg, req, origin, log);
    }
    if req.method != "POST" {
        return respond(&IngestError::MethodNotAllowed, cfg, origin, log);
    }
    if let Some(o) = origin.filter(|o| !cfg.origins.allows(o)) {
        return respond(
            &IngestError::OriginNotAllowed(o.to_string()),
            cfg,
            origin,
            log,
        );
    }
    match build(cfg, req, r, origin, rng, &mut log, metrics) {
        Ok(plan) => plan,
        Err(e) => respond(&e, cfg, origin, log),
    }
}

fn preflight(cfg: &Config, req: &Incoming<'_>, origin: Option<&str>, mut log: LogLine) -> Plan {
    let mut reply = cfg.origins.preflight(
        origin,
        header(req.headers, "access-control-request-headers"),
    );
    reply.set_header("x-request-id", log.request_id.clone());
    log.status = reply.status;
    Plan::Respond(reply, log)
}

fn parse_body(bytes: &[u8]) -> Result<&str, IngestError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| IngestError::Malformed("body is not UTF-8 text".into()))?;
    if text.trim().is_empty() {
        return Err(IngestError::Malformed(
            "body is empty; send a JSON object".into(),
        ));
    }
    Ok(text)
}

fn authenticate(
    cfg: &Config,
    headers: &http::HeaderMap,
    body_key: Option<&RawValue>,
) -> Result<KeyId, IngestError> {
    let presented = header(headers, "authorization")
        .and_then(key_from_basic_auth)
        .or_else(|| body_key.and_then(raw_str).map(|s| s.into_owned()))
        .ok_or(IngestError::MissingWriteKey)?;
    cfg.write_keys
        .verify(&presented)
        .ok_or(IngestError::UnknownWriteKey)
}

/// The batch-level `context` as an object, refused when it is larger than one event may
/// be (it is merged into every event of the batch).
fn batch_context<'a>(
    cfg: &Config,
    raw: Option<&'a RawValue>,
) -> Result<Option<RawObject<'a>>, IngestError> {
    let Some(raw) = raw.filter(|c| crate::event::is_object(c)) else {
        return Ok(None);
    };
    let len = raw.get().len();
    if len > cfg.max_event_bytes {
        return Err(IngestError::Expands(format!(
            "context: the batch-level context is {len} bytes, over the {}-byte event limit (it is merged into every event)",
            cfg.max_event_bytes
        )));
    }
    let parsed =
        RawObject::from_raw(raw).map_err(|e| IngestError::Malformed(format!("context: {e}")))?;
    // De-duplicated once per request (last occurrence wins), so merging it into each event
    // costs its distinct members, which the work budget counts, not its raw member list.
    let mut seen = std::collections::BTreeSet::new();
    let mut members: Vec<_> = parsed
        .members
        .into_iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    members.reverse();
    Ok(Some(RawObject { members }))
}

/// Whether the request declares (`Content-Length`) a body over `MAX_REQUEST_BYTES`:
/// adapters then skip reading it, and [`plan`] answers 413. Bodies without a length are
/// read with [`body_read_cap`] as the cap.
pub fn declared_over_limit(cfg: &Config, headers: &http::HeaderMap) -> bool {
    header(headers, "content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > cfg.max_request_bytes as u64)
}

/// How many body bytes an adapter should read at most: one past the cap, so the core can
/// tell an oversized body (413) without the platform buffering all of it.
pub fn body_read_cap(cfg: &Config) -> usize {
    cfg.max_request_bytes.saturating_add(1)
}

fn build(
    cfg: &Config,
    req: &Incoming<'_>,
    r: Route,
    origin: Option<&str>,
    rng: &mut impl Random,
    log: &mut LogLine,
    metrics: &mut crate::metrics::Metrics,
) -> Result<Plan, IngestError> {
    // Refuse from the declared length before touching the body (adapters do not read a
    // body declared too large at all).
    if declared_over_limit(cfg, req.headers) {
        return Err(IngestError::TooLarge {
            limit: cfg.max_request_bytes,
        });
    }
    let decoded = crate::payload::decode(
        req.body,
        header(req.headers, "content-encoding"),
        cfg.max_request_bytes,
    )?;
    let text = parse_body(&decoded)?;
    let top = envelope::parse(text).map_err(IngestError::Malformed)?;
    let key = authenticate(cfg, req.headers, top.write_key)?;
    log.key_id = Some(key.as_str().to_string());
    // A v2 signature is single-use: its digest becomes a nonce the ingest script sets once.
    let mut nonce = None;
    if let Some(secret) = cfg.signing.secret_for(&key) {
        let sig = header(req.headers, crate::auth::SIGNATURE_HEADER);
        let version = crate::auth::verify_signature(
            secret,
            sig,
            header(req.headers, crate::auth::TIMESTAMP_HEADER),
            crate::auth::Signed {
                method: req.method,
                path: req.path,
                body: req.body,
                now_s: req.now_ms.div_euclid(1000),
                v1_until_s: cfg.signature_v1_until_s,
            },
        )
        .map_err(IngestError::InvalidSignature)?;
        // The nonce comes from the MAC's bytes, so no re-spelling of the header is new.
        if let crate::auth::SignatureVersion::V2(mac) = version {
            nonce = Some(hex::encode(
                Sha256::digest(mac).get(..16).unwrap_or_default(),
            ));
        }
    }

    let batch_ctx;
    let whole: [&RawValue; 1];
    let list;
    let (events, route_kind, info): (&[&RawValue], Option<Kind>, BatchInfo<'_>) = match r {
        Route::Batch => {
            let raw = top.batch.ok_or_else(|| {
                IngestError::Malformed(
                    "batch: field is required and must be an array of events".into(),
                )
            })?;
            list = envelope::events(raw).map_err(IngestError::Malformed)?;
            if list.total == 0 {
                return Err(IngestError::Malformed(
                    "batch: must contain at least one event".into(),
                ));
            }
            if list.total > envelope::MAX_BATCH_EVENTS {
                return Err(IngestError::Expands(format!(
                    "batch: {} events, over the {}-event limit per request",
                    list.total,
                    envelope::MAX_BATCH_EVENTS
                )));
            }
            batch_ctx = batch_context(cfg, top.context)?;
            let sent_at_ms = top
                .sent_at
                .and_then(raw_str)
                .and_then(|s| crate::timestamp::parse_ms(&s))
                .filter(|ms| crate::timestamp::storable(*ms));
            let info = BatchInfo {
                context: batch_ctx.as_ref(),
                sent_at_ms,
            };
            (&list.list[..], None, info)
        }
        Route::Single(k) => {
            whole = [serde_json::from_str(text)
                .map_err(|e| IngestError::Malformed(format!("body is not JSON: {e}")))?];
            let info = BatchInfo {
                context: None,
                sent_at_ms: None,
            };
            (&whole[..], Some(k), info)
        }
    };

    let ip = crate::identity::client_ip(req.headers, req.peer_ip, &cfg.trusted_proxies);
    let rl_client = crate::identity::bucket(ip);
    let batch = ingest::Batch {
        cfg,
        key: &key,
        edge: Edge {
            now_ms: req.now_ms,
            ip,
            anonymize_ip: cfg.anonymize_ip,
            geo: req.geo,
            user_agent: origin.and(header(req.headers, "user-agent")),
        },
        rl_client: &rl_client,
        nonce: nonce.as_deref(),
        budget: work_budget(text.len()),
        events,
        route_kind,
        info,
        body_len: text.len(),
    };
    let pending = Pending {
        direct: false,
        origin: origin.map(str::to_string),
        accepted: 0,
        rejects: Rejects::default(),
        log: log.clone(),
        metrics: Vec::new(),
    };
    ingest::call(&batch, rng, pending, metrics)
}

/// Build the final reply from the backend call's outcome.
pub fn finish(cfg: &Config, pending: Pending, outcome: CallOutcome) -> Finished {
    let Pending {
        direct,
        origin,
        accepted,
        rejects,
        mut log,
        metrics,
    } = pending;
    let parsed = if direct {
        match outcome {
            Ok(reply) if reply.is_success() => Ok(IngestOutcome::Appended(String::new(), false)),
            Ok(reply) => Err(RestError::Unavailable(format!(
                "ClickHouse HTTP {}: {}",
                reply.status,
                reply.snippet(300)
            ))),
            Err(e) => Err(RestError::Unavailable(e.to_string())),
        }
    } else {
        parse_outcome(outcome).and_then(|v| parse_ingest(&v))
    };
    // The script ran (whatever it answered) iff the call parsed: then the counters landed.
    let unflushed = if parsed.is_ok() { Vec::new() } else { metrics };
    let drain_owner = match &parsed {
        Ok(IngestOutcome::Appended(_, true)) => Some(log.request_id.clone()),
        _ => None,
    };
    let mut reply = match parsed {
        Ok(IngestOutcome::Appended(..)) if accepted == 0 => {
            let e = IngestError::AllInvalid(rejects.clone());
            log.error = Some(e.code());
            e.to_reply()
        }
        Ok(IngestOutcome::Appended(..)) | Ok(IngestOutcome::Duplicate(_)) => {
            let duplicate = matches!(parsed, Ok(IngestOutcome::Duplicate(_)));
            log.accepted = accepted;
            let mut body = serde_json::json!({ "success": true, "accepted": accepted });
            if let Some(obj) = body.as_object_mut() {
                if !rejects.is_empty() {
                    rejects.add_to(obj);
                }
                if duplicate {
                    obj.insert("duplicate".into(), true.into());
                }
            }
            Reply::json(200, body.to_string())
        }
        Ok(IngestOutcome::Replayed) => {
            let e = IngestError::InvalidSignature(
                "this X-Signature was already used: sign each request anew (replay refused)".into(),
            );
            log.error = Some(e.code());
            e.to_reply()
        }
        Ok(IngestOutcome::Limited(ms)) => {
            let e = IngestError::RateLimited { retry_after_ms: ms };
            log.error = Some(e.code());
            e.to_reply()
        }
        Err(why) => {
            let e = IngestError::BackendUnavailable("the write was not confirmed".into());
            log.error = Some(e.code());
            log.detail = Some(why.to_string());
            e.to_reply()
        }
    };
    log.rejected = rejects.total();
    cfg.origins.decorate(origin.as_deref(), &mut reply);
    reply.set_header("x-request-id", log.request_id.clone());
    log.status = reply.status;
    Finished {
        reply,
        log,
        drain_owner,
        unflushed,
    }
}

/// The final reply, its log line, and whether to drain after responding.
#[derive(Debug)]
pub struct Finished {
    /// The response to send.
    pub reply: Reply,
    /// The request's log line.
    pub log: LogLine,
    /// Set when this request took the drain lock: the adapter should run
    /// [`crate::drain`] passes after responding (Workers `waitUntil`), then release the
    /// lock with [`crate::redis::RELEASE_SCRIPT`] under this owner id.
    pub drain_owner: Option<String>,
    /// Metric increments that did not reach Redis; put them back with
    /// [`crate::metrics::Metrics::restore`].
    pub unflushed: Vec<(String, u64)>,
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod tests;
