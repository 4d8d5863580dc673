//! The dashboard function's request handler: the page and its assets, login and logout,
//! the query endpoints (`GET /api/<endpoint>`), and the operational routes. Every reply
//! leaves with the security headers of [`super::page::secure`].

use super::config::DashboardConfig;
use super::error::DashError;
use super::jwt::{self, Claims};
use super::params::{self, Endpoint, Scoped};
use super::queries::{self, QueryError};
use super::{Assets, Cache, http_reply, ops, page, session};
use crate::Reply;
use crate::io::{Io, Random};
use serde_json::json;

/// A request as plain data.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// Path without the query.
    pub path: &'a str,
    /// The raw query string (no `?`).
    pub query: &'a str,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// Body (read only for `POST`, capped by the adapter at [`MAX_BODY`]).
    pub body: &'a [u8],
    /// The client's address as the platform names it (rate-limit bucket of logins).
    pub client: &'a str,
    /// Arrival time, Unix ms.
    pub now_ms: i64,
}

/// Largest request body read (a login is a few hundred bytes).
pub const MAX_BODY: usize = 4096;

/// Answer one request.
pub async fn serve<I: Io, C: Cache, R: Random>(
    cfg: &DashboardConfig,
    assets: &Assets,
    req: &Incoming<'_>,
    io: &I,
    cache: &C,
    rng: &mut R,
) -> Reply {
    let mut reply = match route(cfg, assets, req, io, cache, rng).await {
        Ok(r) => r,
        Err(e) => e.to_reply(),
    };
    if let (true, Some(origins)) = (req.path.starts_with("/api/"), &cfg.origins) {
        let origin = req.headers.get("origin").and_then(|v| v.to_str().ok());
        origins.decorate(origin, &mut reply);
    }
    page::secure(&mut reply);
    reply
}

async fn route<I: Io, C: Cache, R: Random>(
    cfg: &DashboardConfig,
    assets: &Assets,
    req: &Incoming<'_>,
    io: &I,
    cache: &C,
    rng: &mut R,
) -> Result<Reply, DashError> {
    if ops::is_ops_path(req.path) {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        return Ok(ops::handle(io, cfg, req.method, req.path, auth).await);
    }
    let get = matches!(req.method, "GET" | "HEAD");
    match req.path {
        "/" | "/index.html" if get => Ok(page::index()),
        page::SCRIPT_PATH if get => Ok(page::script(assets)),
        page::STYLE_PATH if get => Ok(page::style(assets)),
        "/" | "/index.html" | page::SCRIPT_PATH | page::STYLE_PATH => {
            Err(DashError::Method("GET, HEAD"))
        }
        p if p.starts_with("/api/") => api(cfg, req, io, cache, rng).await,
        _ => Err(DashError::NotFound),
    }
}

/// A cross-origin request must come from `ALLOWED_ORIGINS`; same-origin ones always pass.
fn check_origin(cfg: &DashboardConfig, headers: &http::HeaderMap) -> Result<(), DashError> {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers.get("host").and_then(|v| v.to_str().ok());
    let same = origin.split_once("://").map(|(_, authority)| authority) == host;
    if same || cfg.origins.as_ref().is_some_and(|o| o.allows(origin)) {
        Ok(())
    } else {
        Err(DashError::Origin)
    }
}

async fn api<I: Io, C: Cache, R: Random>(
    cfg: &DashboardConfig,
    req: &Incoming<'_>,
    io: &I,
    cache: &C,
    rng: &mut R,
) -> Result<Reply, DashError> {
    check_origin(cfg, req.headers)?;
    if req.method == "OPTIONS" {
        let origin = req.headers.get("origin").and_then(|v| v.to_str().ok());
        let asked = req
            .headers
            .get("access-control-request-headers")
            .and_then(|v| v.to_str().ok());
        return Ok(match &cfg.origins {
            Some(o) => o.preflight(origin, asked),
            None => Reply::empty(204),
        });
    }
    let name = req.path.trim_start_matches("/api/");
    match (req.method, name) {
        ("POST", "login") => login(cfg, req, io, rng).await,
        ("POST", "logout") => logout(cfg, req, io).await,
        ("GET" | "HEAD", "me") => {
            let c = authenticate(cfg, req, io).await?;
            Ok(Reply::json(
                200,
                json!({"user": c.sub, "keys": c.keys, "expires_at": c.exp}).to_string(),
            ))
        }
        (_, "login" | "logout") => Err(DashError::Method("POST")),
        (_, "me") => Err(DashError::Method("GET")),
        ("GET" | "HEAD", n) => match Endpoint::from_name(n) {
            Some(endpoint) => {
                let claims = authenticate(cfg, req, io).await?;
                query(cfg, req, io, cache, &claims, endpoint).await
            }
            None => Err(DashError::NotFound),
        },
        (_, n) if Endpoint::from_name(n).is_some() => Err(DashError::Method("GET")),
        _ => Err(DashError::NotFound),
    }
}

/// Verify the presented token and that it was not logged out.
async fn authenticate<I: Io>(
    cfg: &DashboardConfig,
    req: &Incoming<'_>,
    io: &I,
) -> Result<Claims, DashError> {
    let token = session::presented_token(req.headers).ok_or(DashError::NoToken)?;
    let claims = jwt::verify(&cfg.jwt_secret, &token, req.now_ms.div_euclid(1000))
        .map_err(DashError::Token)?;
    let revoked = session::redis_result(http_reply(
        io.redis(&session::revoked_call(cfg, &claims.jti)).await,
    ))?;
    if revoked.as_i64() == Some(1) {
        return Err(DashError::Revoked);
    }
    Ok(claims)
}

fn login_body(body: &[u8]) -> Result<(String, String), DashError> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|_| {
        DashError::Body(
            "body",
            "must be JSON: {\"user\": …, \"password\": …}".into(),
        )
    })?;
    let field = |name: &'static str| -> Result<String, DashError> {
        match v.get(name).and_then(serde_json::Value::as_str) {
            Some(s) if !s.is_empty() && s.len() <= 256 => Ok(s.to_string()),
            Some(_) => Err(DashError::Body(name, "must be 1 to 256 bytes".into())),
            None => Err(DashError::Body(name, "is missing (a string)".into())),
        }
    };
    Ok((field("user")?, field("password")?))
}

async fn login<I: Io, R: Random>(
    cfg: &DashboardConfig,
    req: &Incoming<'_>,
    io: &I,
    rng: &mut R,
) -> Result<Reply, DashError> {
    if cfg.users.is_empty() {
        return Err(DashError::LoginClosed);
    }
    let (user, password) = login_body(req.body)?;
    let attempt = session::login_attempt_call(cfg, req.client, &user);
    let counted = session::redis_result(http_reply(io.redis(&attempt).await))?;
    session::check_login_limit(cfg, &counted)?;
    let found = cfg
        .users
        .authenticate(&user, &password)
        .ok_or(DashError::LoginFailed)?;
    let mut jti = [0u8; 16];
    rng.fill(&mut jti);
    let now_s = req.now_ms.div_euclid(1000);
    let claims = jwt::claims(
        &found.name,
        found.keys.clone(),
        now_s,
        cfg.session_seconds(),
        jti,
    );
    let token = jwt::sign(&cfg.jwt_secret, &claims);
    let mut r = Reply::json(
        200,
        json!({"token": token, "token_type": "Bearer", "user": claims.sub, "keys": claims.keys, "expires_at": claims.exp})
            .to_string(),
    );
    r.set_header(
        "set-cookie",
        session::set_cookie(&token, cfg.session_seconds()),
    );
    r.set_header("cache-control", "no-store".into());
    Ok(r)
}

async fn logout<I: Io>(
    cfg: &DashboardConfig,
    req: &Incoming<'_>,
    io: &I,
) -> Result<Reply, DashError> {
    let claims = authenticate(cfg, req, io).await?;
    let ttl_ms = (claims.exp + jwt::LEEWAY_S) * 1000 - req.now_ms;
    session::redis_result(http_reply(
        io.redis(&session::revoke_call(cfg, &claims.jti, ttl_ms))
            .await,
    ))?;
    let mut r = Reply::json(200, json!({"logged_out": true}).to_string());
    r.set_header("set-cookie", session::clear_cookie());
    r.set_header("cache-control", "no-store".into());
    Ok(r)
}

async fn query<I: Io, C: Cache>(
    cfg: &DashboardConfig,
    req: &Incoming<'_>,
    io: &I,
    cache: &C,
    claims: &Claims,
    endpoint: Endpoint,
) -> Result<Reply, DashError> {
    let pairs = params::pairs(req.query).map_err(DashError::Param)?;
    let q = params::parse(
        endpoint,
        &pairs,
        &claims.keys,
        cfg.max_range_days,
        req.now_ms,
    )
    .map_err(|e| match e {
        Scoped::Param(p) => DashError::Param(p),
        Scoped::Forbidden(k) => DashError::Forbidden(k),
    })?;
    // The explorer is live: never cached.
    let cacheable = cfg.cache_seconds > 0 && endpoint != Endpoint::Events;
    let key = queries::cache_key(&q);
    let hit = match cacheable {
        true => cache.get(&key).await,
        false => None,
    };
    if let Some(mut hit) = hit.and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok()) {
        if let Some(cached) = hit.pointer_mut("/timing/cached") {
            *cached = true.into();
        }
        return Ok(answer_reply(hit.to_string(), "hit"));
    }
    let started = io.now_ms();
    let (status, body) = http_reply(io.clickhouse(&queries::request(&cfg.clickhouse, &q)).await)
        .map_err(|e| DashError::Unavailable(format!("ClickHouse: {e}")))?;
    let answer =
        queries::answer(&q, status, &body, io.now_ms() - started).map_err(|e| match e {
            QueryError::Refused(m) => DashError::Param(params::ParamError {
                field: "query".into(),
                message: m,
            }),
            QueryError::Upstream(m) => DashError::Upstream(m),
        })?;
    let text = answer.to_string();
    if cacheable {
        cache.put(&key, &text, cfg.cache_seconds).await;
    }
    Ok(answer_reply(
        text,
        if cacheable { "miss" } else { "bypass" },
    ))
}

fn answer_reply(body: String, cache: &str) -> Reply {
    let mut r = Reply::json(200, body);
    r.set_header("cache-control", "private, no-store".into());
    r.set_header("x-dashboard-cache", cache.to_string());
    r
}
