//! `GET /v1/projects/:writeKey/settings`: what analytics.js asks before it sends.

use super::{Incoming, LogLine, Plan, admit, header, respond};
use crate::config::Config;
use crate::error::IngestError;
use crate::reply::Reply;

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
pub(super) fn settings(
    cfg: &Config,
    req: &Incoming<'_>,
    key: &str,
    origin: Option<&str>,
    mut log: LogLine,
) -> Plan {
    if let Some(plan) = admit(cfg, req, origin, &["GET", "HEAD"], &mut log) {
        return plan;
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
