//! Upstash REST encoding: the one call collector requests cost (an `EVALSHA` of the
//! ingest script that checks each request's rate limit, recognises retried requests, and
//! appends the accepted events and the rejects to their streams; one call for a group of
//! requests on Workers, see [`linger`]), and the parsing of its reply.

pub mod ingest;
pub mod linger;

/// The atomic ingest script (`lua/ingest.lua`; its arguments are [`ingest::GroupKeys`],
/// [`ingest::MemberKeys`], [`ingest::MemberHead`] and [`ingest::MemberTail`]), called by
/// [`ingest::INGEST_SCRIPT_SHA`] and sent whole only after a `NOSCRIPT`.
///
/// Billed commands per request alone: `EVALSHA`, `INCRBY` (rate limit; `PEXPIRE` once per
/// client and window), `XADD`, plus one `ZADD … NX` for a retry marker (messageIds) and one
/// `SET … NX` for a v2 signature nonce. A group of requests shares the `EVALSHA`, one
/// `INCRBY` per distinct client, `ZMSCORE` + `ZADD` for all markers and one `XADD` per write
/// key. The metrics' `HINCRBY`s, the drain lock's `SET` and the markers' trim happen at
/// most once per interval per isolate (the trim: on 1 in 64 requests). Listed rejects add
/// one `XADD` to the dead-letter stream.
///
/// Returns one reply per member: `{"ok", entry id, drain}`, `{"limited", ms until the
/// window resets}`, `{"duplicate", ''}` (this request was appended before), `{"replayed",
/// 0}` (this v2 signature was used before) or `{"error", message}` (its append failed).
/// `drain` is 1 when this request took the drain lock (it should drain after responding).
pub const INGEST_SCRIPT: &str = include_str!("lua/ingest.lua");

pub use crate::io::RestCall;

/// Build a single-command call from string arguments.
pub fn command<S: AsRef<str>>(args: &[S]) -> RestCall {
    let mut w = CommandWriter::with_capacity(args.iter().map(|a| a.as_ref().len() + 3).sum());
    for a in args {
        w.arg(a.as_ref());
    }
    w.finish()
}

/// Writes one command's JSON body argument by argument, escaping straight into the body:
/// a large argument (a request's events) is never held twice. An argument may be written
/// in pieces, and a fixed-width slot patched once its value is known.
#[derive(Debug)]
pub struct CommandWriter {
    body: String,
    args: usize,
}

impl CommandWriter {
    /// An empty command with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut body = String::with_capacity(capacity + 2);
        body.push('[');
        Self { body, args: 0 }
    }

    fn separate(&mut self) {
        if self.args > 0 {
            self.body.push(',');
        }
        self.args += 1;
    }

    /// Append one argument.
    pub fn arg(&mut self, a: &str) {
        self.separate();
        crate::event::push_json_str(&mut self.body, a);
    }

    /// Append an argument of `prefix` followed by `width` placeholder zeros; returns where
    /// the placeholder starts, for [`CommandWriter::patch`].
    pub fn arg_with_slot(&mut self, prefix: &str, width: usize) -> usize {
        self.begin_arg();
        self.piece(prefix);
        let at = self.body.len();
        self.body.extend(std::iter::repeat_n('0', width));
        self.end_arg();
        at
    }

    /// Start an argument written with [`CommandWriter::piece`].
    pub fn begin_arg(&mut self) {
        self.separate();
        self.body.push('"');
    }

    /// Append to the argument begun last (escaped).
    pub fn piece(&mut self, s: &str) {
        crate::event::push_json_str_content(&mut self.body, s);
    }

    /// End the argument begun last.
    pub fn end_arg(&mut self) {
        self.body.push('"');
    }

    /// Overwrite a slot from [`CommandWriter::arg_with_slot`] with `ascii` of the same
    /// width (hex digits, zero-padded numbers: nothing that needs escaping).
    pub fn patch(&mut self, at: usize, ascii: &str) {
        let fits = ascii.bytes().all(|b| b.is_ascii_alphanumeric())
            && self.body.get(at..at + ascii.len()).is_some();
        if fits {
            self.body.replace_range(at..at + ascii.len(), ascii);
        }
    }

    /// Make room for `additional` more bytes, growing by doubling but never past `limit`
    /// (unless the bytes themselves need more): the buffer of a request near its work
    /// budget is not allocated at twice the budget.
    pub fn reserve_within(&mut self, additional: usize, limit: usize) {
        let need = self.body.len().saturating_add(additional);
        if need > self.body.capacity() {
            let target = self
                .body
                .capacity()
                .saturating_mul(2)
                .clamp(need, limit.max(need));
            self.body.reserve_exact(target - self.body.len());
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether nothing but the opening bracket was written.
    pub fn is_empty(&self) -> bool {
        self.args == 0
    }

    /// The arguments written so far, without the brackets: a piece of a larger command.
    pub fn into_fragment(self) -> String {
        let mut body = self.body;
        body.remove(0);
        body
    }

    /// The finished call (`POST /`).
    pub fn finish(mut self) -> RestCall {
        self.body.push(']');
        RestCall {
            path: "/",
            body: self.body,
        }
    }
}

/// Release the drain lock unless more entries arrived meanwhile (`lua/release.lua`:
/// KEYS lock, wanted flag, stream; ARGV owner, lock TTL ms, consumer group). Returns
/// `again`, `released` or `lost`. Requests offer the lock at most once per second per
/// isolate, so the drainer looks at the stream itself before it lets go.
pub const RELEASE_SCRIPT: &str = include_str!("lua/release.lua");

/// The dead-letter stream of a stream.
pub fn dead_letter_stream(stream: &str) -> String {
    format!("{stream}:invalid")
}

/// The retry markers of a stream: one sorted set, each marker scored by its expiry.
pub fn seen_key(stream: &str) -> String {
    format!("{stream}:seen")
}

/// One request in this many (by arrival ms) also drops the expired retry markers.
pub const TRIM_ONE_IN: i64 = 64;

/// The drain lock and flag keys of a stream.
pub fn drain_keys(stream: &str) -> (String, String) {
    (
        format!("{stream}:drain:lock"),
        format!("{stream}:drain:wanted"),
    )
}

/// What the ingest script answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Appended; the stream entry id ('' when only rejects were written), and whether this
    /// request holds the drain lock.
    Appended(String, bool),
    /// Over the rate limit; ms until the window resets.
    Limited(u64),
    /// The same request was appended before, as this entry.
    Duplicate(String),
    /// The request's v2 signature was used before: a replay, refused.
    Replayed,
}

/// A Redis error's code: the first word of its message, parsed once where the reply is
/// read, so callers match on it instead of on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `NOGROUP`: the stream or its consumer group does not exist.
    NoGroup,
    /// `BUSYGROUP`: the consumer group exists already.
    BusyGroup,
    /// `NOSCRIPT`: `EVALSHA` of a script the server does not hold.
    NoScript,
    /// Any other error (`ERR`, `WRONGTYPE`, ...).
    Other,
}

impl ErrorCode {
    /// The code of an error message such as `NOGROUP No such key ...`.
    pub fn of(message: &str) -> Self {
        match message.split_whitespace().next() {
            Some("NOGROUP") => Self::NoGroup,
            Some("BUSYGROUP") => Self::BusyGroup,
            Some("NOSCRIPT") => Self::NoScript,
            // A REST front that dropped the code still says what happened.
            _ if message.contains("No matching script") => Self::NoScript,
            _ => Self::Other,
        }
    }
}

/// Errors talking to Upstash, classified for the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// Could not reach it, or it answered 5xx / garbage: retryable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// It refused the command (4xx, `{"error"}`): a configuration or protocol problem.
    #[error("refused: {message}")]
    Rejected {
        /// The Redis error code.
        code: ErrorCode,
        /// HTTP status and the error text.
        message: String,
    },
}

impl RestError {
    /// The Redis error code, when Redis refused the command.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Rejected { code, .. } => Some(*code),
            Self::Unavailable(_) => None,
        }
    }

    fn rejected(status: u16, text: &str) -> Self {
        Self::Rejected {
            code: ErrorCode::of(text),
            message: format!("{status}: {text}"),
        }
    }
}

/// Read one call's outcome: the `result` of a `POST /` reply, or why there is none.
pub fn parse_outcome(outcome: crate::io::CallOutcome) -> Result<serde_json::Value, RestError> {
    match outcome {
        Ok(reply) => parse_result(reply.status, &reply.body),
        Err(e) => Err(RestError::Unavailable(e.to_string())),
    }
}

/// Parse a `POST /` reply body into its `result`, classifying errors.
pub fn parse_result(status: u16, body: &[u8]) -> Result<serde_json::Value, RestError> {
    let parsed: Result<serde_json::Value, _> = serde_json::from_slice(body);
    let text = || String::from_utf8_lossy(body.get(..200).unwrap_or(body)).into_owned();
    match parsed {
        Ok(mut v) => {
            if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
                return Err(if status >= 500 || status == 0 {
                    RestError::Unavailable(e.to_string())
                } else {
                    RestError::rejected(status, e)
                });
            }
            if !(200..300).contains(&status) {
                return Err(if status >= 500 {
                    RestError::Unavailable(format!("HTTP {status}"))
                } else {
                    RestError::rejected(status, &format!("HTTP {}", text()))
                });
            }
            match v.get_mut("result") {
                Some(r) => Ok(r.take()),
                None => Err(RestError::Unavailable(format!(
                    "reply without result: {}",
                    text()
                ))),
            }
        }
        Err(_) if status >= 500 || status == 0 => {
            Err(RestError::Unavailable(format!("HTTP {status}")))
        }
        Err(_) => Err(RestError::rejected(status, &format!("HTTP {}", text()))),
    }
}

/// Interpret the script's `result`.
pub fn parse_ingest(result: &serde_json::Value) -> Result<IngestOutcome, RestError> {
    let bad = || RestError::Unavailable(format!("unexpected script reply {result}"));
    let arr = result.as_array().ok_or_else(bad)?;
    let tag = arr.first().and_then(|t| t.as_str()).ok_or_else(bad)?;
    let val = arr.get(1).ok_or_else(bad)?;
    let as_text = || match val {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null | serde_json::Value::Bool(false) => String::new(),
        other => other.to_string(),
    };
    match tag {
        "ok" => Ok(IngestOutcome::Appended(
            as_text(),
            arr.get(2).and_then(serde_json::Value::as_u64) == Some(1),
        )),
        "duplicate" => Ok(IngestOutcome::Duplicate(as_text())),
        "replayed" => Ok(IngestOutcome::Replayed),
        // This request's append failed (out of memory, a wrong key type); its marker and
        // nonce were taken back.
        "error" => Err(RestError::Unavailable(format!(
            "append refused: {}",
            as_text()
        ))),
        "limited" => Ok(IngestOutcome::Limited(val.as_u64().unwrap_or(1000))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_is_a_json_string_array() {
        let c = command(&["EVAL", "x\"y", "1"]);
        let v: Vec<String> = serde_json::from_str(&c.body).unwrap();
        assert_eq!(v, ["EVAL", "x\"y", "1"]);
        assert_eq!(c.path, "/");
    }

    #[test]
    fn a_command_written_in_pieces_with_patched_slots_is_valid_json() {
        let mut w = CommandWriter::with_capacity(0);
        w.arg("EVAL");
        let slot = w.arg_with_slot("s:seen:", 4);
        w.begin_arg();
        w.piece("[{\"a\":");
        w.piece("1}]");
        w.end_arg();
        w.patch(slot, "beef");
        w.patch(slot, "no!!"); // not plain ASCII alphanumerics: ignored
        let v: Vec<String> = serde_json::from_str(&w.finish().body).unwrap();
        assert_eq!(v, ["EVAL", "s:seen:beef", "[{\"a\":1}]"]);
    }

    #[test]
    fn reply_classification() {
        assert_eq!(parse_result(200, br#"{"result":"OK"}"#).unwrap(), "OK");
        assert!(matches!(
            parse_result(400, br#"{"error":"ERR bad"}"#),
            Err(RestError::Rejected {
                code: ErrorCode::Other,
                ..
            })
        ));
        assert_eq!(
            parse_result(400, br#"{"error":"NOGROUP No such key"}"#)
                .unwrap_err()
                .code(),
            Some(ErrorCode::NoGroup)
        );
        assert!(matches!(
            parse_result(401, b"Unauthorized"),
            Err(RestError::Rejected { .. })
        ));
        assert!(matches!(
            parse_result(502, b"<html>"),
            Err(RestError::Unavailable(_))
        ));
        assert!(matches!(
            parse_result(200, b"{}"),
            Err(RestError::Unavailable(_))
        ));
    }

    #[test]
    fn script_outcomes() {
        use serde_json::json;
        assert_eq!(
            parse_ingest(&json!(["ok", "1-0", 1])).unwrap(),
            IngestOutcome::Appended("1-0".into(), true)
        );
        assert_eq!(
            parse_ingest(&json!(["limited", 1234])).unwrap(),
            IngestOutcome::Limited(1234)
        );
        assert_eq!(
            parse_ingest(&json!(["duplicate", "1-0"])).unwrap(),
            IngestOutcome::Duplicate("1-0".into())
        );
        assert!(parse_ingest(&json!("OK")).is_err());
        assert!(parse_ingest(&json!(["weird", 1])).is_err());
    }
}
