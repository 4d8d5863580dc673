//! The one port between the core and its platforms. Every function's behaviour is
//! written against [`Io`] (backend calls, clock, timers) and [`Random`]; the Workers,
//! Spin and native adapters implement them and do nothing else but convert requests
//! and responses. A leaf module: it depends on no other part of the core's behaviour.

use crate::clickhouse;
use crate::redis::RestCall;

/// A backend's HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    /// HTTP status.
    pub status: u16,
    /// Response body.
    pub body: Vec<u8>,
}

impl From<(u16, Vec<u8>)> for HttpReply {
    fn from((status, body): (u16, Vec<u8>)) -> Self {
        Self { status, body }
    }
}

impl HttpReply {
    /// A reply with this status and body.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body as text, for error messages.
    pub fn snippet(&self, max: usize) -> String {
        let b = &self.body;
        String::from_utf8_lossy(b.get(..max).unwrap_or(b))
            .trim()
            .to_string()
    }
}

/// The call never produced an HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer within the platform's deadline.
    #[error("no answer within {0} s")]
    Timeout(u64),
    /// Connection or platform failure (the platform's own message).
    #[error("{0}")]
    Failed(String),
}

impl From<String> for TransportError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

impl From<&str> for TransportError {
    fn from(message: &str) -> Self {
        Self::Failed(message.to_string())
    }
}

/// Outcome of one HTTP call made by an adapter.
pub type CallOutcome = Result<HttpReply, TransportError>;

/// What the core needs from its platform: two kinds of HTTP call, a clock and a timer.
#[expect(
    async_fn_in_trait,
    reason = "used through generics only; JS-backed futures are not Send"
)]
pub trait Io {
    /// Make one Upstash REST call.
    async fn redis(&self, call: &RestCall) -> CallOutcome;
    /// Make one ClickHouse HTTP call.
    async fn clickhouse(&self, req: &clickhouse::Request) -> CallOutcome;
    /// Current time, Unix ms.
    fn now_ms(&self) -> i64;
    /// Wait this long.
    async fn sleep(&self, ms: u64);
}

/// Source of random bytes (getrandom on every platform; fixed in tests).
pub trait Random {
    /// Fill `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}
