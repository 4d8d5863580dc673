//! The second step: the backend call's outcome becomes the reply.

use super::{CallOutcome, LogLine, Pending};
use crate::config::Config;
use crate::error::IngestError;
use crate::redis::{IngestOutcome, RestError, parse_outcome};
use crate::reply::Reply;

/// What the backend said about one request.
pub type Answer = Result<IngestOutcome, RestError>;

/// The direct sink's insert outcome as an answer.
pub fn clickhouse_answer(outcome: CallOutcome) -> Answer {
    match outcome {
        Ok(reply) if reply.is_success() => Ok(IngestOutcome::Appended(String::new(), false)),
        Ok(reply) => Err(RestError::Unavailable(format!(
            "ClickHouse HTTP {}: {}",
            reply.status,
            reply.snippet(300)
        ))),
        Err(e) => Err(RestError::Unavailable(e.to_string())),
    }
}

/// Build the final reply from the outcome of the request's call made alone (the ingest
/// script's reply for one member, or the direct sink's insert).
pub fn finish(cfg: &Config, pending: Pending, outcome: CallOutcome) -> Finished {
    let answer = if pending.direct {
        clickhouse_answer(outcome)
    } else {
        use crate::redis::linger::{only, split};
        only(split(parse_outcome(outcome), 1))
    };
    finish_answer(cfg, pending, answer)
}

/// Build the final reply from the backend's answer for this request.
pub fn finish_answer(cfg: &Config, pending: Pending, parsed: Answer) -> Finished {
    let Pending {
        direct: _,
        origin,
        accepted,
        rejects,
        mut log,
        metrics,
        stream,
    } = pending;
    // The counters landed iff the script got as far as the append.
    let unflushed = match &parsed {
        Ok(IngestOutcome::Appended(..)) => Vec::new(),
        _ => metrics,
    };
    let drain_owner = match &parsed {
        Ok(IngestOutcome::Appended(_, true)) => stream.map(|stream| super::DrainOwner {
            owner: log.request_id.clone(),
            stream,
        }),
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
    pub drain_owner: Option<super::DrainOwner>,
    /// Metric increments that did not reach Redis; put them back with
    /// [`crate::metrics::Metrics::restore`].
    pub unflushed: Vec<(String, u64)>,
}
