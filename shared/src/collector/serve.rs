//! The collector's entry point, the same on every platform: route health paths, plan the
//! request, make its one backend call through the port, finish the reply, count the
//! request in this instance's metrics and write its log line. What is left to an adapter:
//! read the body up to [`body_cap`], convert the reply, print the log, and hand
//! [`drain_after_response`] to the platform's after-response hook when asked.

use super::{
    Call, Finished, Incoming, Plan, body_read_cap, declared_over_limit, finish_answer, header, plan,
};
use crate::Reply;
use crate::io::{Io, Random};
use crate::metrics::Metrics;
use crate::redis::linger::Linger;
use crate::serve::{Deployment, Log};

/// Upper bound on drain passes after one response (Workers allows 30 s after it).
pub const AFTER_RESPONSE_PASSES: usize = 20;

/// What the adapter sends and prints.
#[derive(Debug)]
pub struct Served {
    /// The response.
    pub reply: Reply,
    /// The request's log line, when the log level wants it.
    pub log: Option<Log>,
    /// Set when this request took the drain lock: run [`drain_after_response`] with it
    /// after the response is sent.
    pub drain_owner: Option<super::DrainOwner>,
}

/// How many body bytes the adapter should read: `None` when the body is not needed (not a
/// POST, a health route, or a declared length over the cap, refused without reading).
pub fn body_cap(
    dep: &Deployment,
    method: &str,
    path: &str,
    headers: &http::HeaderMap,
) -> Option<usize> {
    let wanted = method == "POST"
        && !crate::health::is_health_path(path)
        && !declared_over_limit(&dep.config, headers);
    wanted.then(|| body_read_cap(&dep.config))
}

/// Serve one request. `metrics` are this instance's counters not yet in Redis: the ingest
/// call carries them, and this request is added to them. `linger` is the instance's group
/// commit (Workers; `None` where an instance serves one request): with `LINGER_MS` > 0 the
/// request's ingest call is shared with the others that arrive meanwhile.
pub async fn serve<I: Io>(
    io: &I,
    rng: &mut impl Random,
    dep: &Deployment,
    req: &Incoming<'_>,
    metrics: &mut Metrics,
    linger: Option<&Linger>,
) -> Served {
    if crate::health::is_health_path(req.path) {
        let auth = header(req.headers, "authorization");
        let reply = crate::health::serve(io, dep, req.method, req.path, auth).await;
        return Served {
            reply,
            log: None,
            drain_owner: None,
        };
    }
    let cfg = &dep.config;
    let Finished {
        reply,
        log,
        drain_owner,
        unflushed,
    } = match plan(cfg, req, rng, metrics) {
        Plan::Respond(reply, log) => Finished {
            reply,
            log,
            drain_owner: None,
            unflushed: Vec::new(),
        },
        Plan::Call { call, pending } => {
            let answer = match (call, linger) {
                (Call::Redis(member), Some(l)) => l.submit(io, member, cfg.linger_ms).await,
                (call, _) => call.run(io).await,
            };
            finish_answer(cfg, pending, answer)
        }
    };
    let duration = (io.now_ms() - req.now_ms) as f64;
    metrics.restore(unflushed);
    metrics.record(log.route, log.status, duration, log.accepted, log.rejected);
    let line = log.enabled(cfg.log_level).then(|| Log {
        error: log.status >= 500,
        line: log.to_json(duration),
    });
    Served {
        reply,
        log: line,
        drain_owner: drain_owner.filter(|_| dep.drain.is_some()),
    }
}

/// After the response: move the stream into ClickHouse while holding the drain lock this
/// request took, so events are queryable within about `FLUSH_INTERVAL_MS`. Returns the
/// log line, if any.
pub async fn drain_after_response<I: Io>(
    io: &I,
    dep: &Deployment,
    lock: &super::DrainOwner,
) -> Option<Log> {
    let drain = dep.drain.as_ref()?.for_stream(&lock.stream);
    let outcome = crate::drain::drain_after_ack(
        io,
        &drain,
        "edge",
        &lock.owner,
        dep.config.drain_lock_ms,
        AFTER_RESPONSE_PASSES,
    )
    .await;
    match outcome {
        Ok(r) if r.entries > 0 => Some(Log::info(r.log_line("drain after ack"))),
        Ok(_) => None,
        Err(e) => Some(Log::error(e.log_line("drain after ack"))),
    }
}
