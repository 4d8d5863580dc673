//! The first step for an ingest route: body, envelope, write key, signature and events,
//! up to the one backend call ([`super::ingest`]).

use super::{Incoming, LogLine, Pending, Plan, Random, Route, envelope, header, ingest};
use crate::auth::{KeyId, key_from_basic_auth};
use crate::config::Config;
use crate::enrich::{BatchInfo, Edge};
use crate::error::IngestError;
use crate::event::{Kind, RawObject, raw_str};
use crate::validate::Rejects;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

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

pub(super) fn build(
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
    let nonce = signature_nonce(cfg, req, &key)?;

    let (list, batch_ctx, sent_at_ms);
    let whole: [&RawValue; 1];
    let (events, route_kind, info): (&[&RawValue], Option<Kind>, BatchInfo<'_>) = match r {
        Route::Batch => {
            (list, batch_ctx, sent_at_ms) = batch_events(cfg, &top)?;
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
        budget: ingest::work_budget(text.len()),
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
        stream: None,
    };
    ingest::call(&batch, rng, pending, metrics)
}

/// Check the request's signature when its write key must sign. A v2 signature is
/// single-use: its digest becomes a nonce the ingest script sets once. The nonce comes
/// from the MAC's bytes, so no re-spelling of the header is new.
fn signature_nonce(
    cfg: &Config,
    req: &Incoming<'_>,
    key: &KeyId,
) -> Result<Option<String>, IngestError> {
    let Some(secret) = cfg.signing.secret_for(key) else {
        return Ok(None);
    };
    let version = crate::auth::verify_signature(
        secrecy::ExposeSecret::expose_secret(secret),
        header(req.headers, crate::auth::SIGNATURE_HEADER),
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
    Ok(match version {
        crate::auth::SignatureVersion::V2(mac) => Some(hex::encode(
            Sha256::digest(mac).get(..16).unwrap_or_default(),
        )),
        crate::auth::SignatureVersion::V1 => None,
    })
}

/// The events of a batch (checked against the batch limits, with its context and
/// `sentAt`), or the whole body as one event on a single-event route.
fn batch_events<'a>(
    cfg: &Config,
    top: &envelope::Envelope<'a>,
) -> Result<(envelope::Events<'a>, Option<RawObject<'a>>, Option<i64>), IngestError> {
    let raw = top.batch.ok_or_else(|| {
        IngestError::Malformed("batch: field is required and must be an array of events".into())
    })?;
    let list = envelope::events(raw).map_err(IngestError::Malformed)?;
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
    let context = batch_context(cfg, top.context)?;
    let sent_at_ms = top
        .sent_at
        .and_then(raw_str)
        .and_then(|s| crate::timestamp::parse_ms(&s))
        .filter(|ms| crate::timestamp::storable(*ms));
    Ok((list, context, sent_at_ms))
}
