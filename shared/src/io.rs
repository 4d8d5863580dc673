//! The one port between the core and its platforms. Every function's behaviour is
//! written against [`Io`] (backend calls, clock, timers) and [`Random`]; the Workers,
//! Spin and native adapters implement them and do nothing else but convert requests
//! and responses. A leaf module: it depends on no other part of the core's behaviour.

use crate::clickhouse;
use crate::redis::RestCall;

/// Outcome of one HTTP call made by an adapter: status and body, or a transport error.
pub type CallOutcome = Result<(u16, Vec<u8>), String>;

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
