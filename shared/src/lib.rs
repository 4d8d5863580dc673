//! Platform-neutral, sans-IO core of the edge ingestion service.
//!
//! Requests come in as plain data; each function's `serve` entry ([`collector::serve`],
//! [`health::serve`], [`processor::serve`]) answers them through one port, [`io::Io`] (backend
//! HTTP calls, a clock, a timer), which each platform implements over its own HTTP client
//! ([`io::Http`]). The request planning itself is sans-IO ([`collector::plan`] and
//! [`collector::finish`]). No platform SDK and no HTTP client here: the Workers, Spin and
//! native adapters only convert requests and responses.

pub mod auth;
pub mod clickhouse;
pub mod collector;
pub mod config;
pub mod cors;
pub mod dashboard;
pub mod drain;
pub mod enrich;
pub mod error;
pub mod event;
pub mod health;
pub mod identity;
pub mod io;
pub mod metrics;
pub mod payload;
pub mod processor;
pub mod redis;
pub mod replay;
pub mod reply;
pub mod serve;
pub mod stream;
pub mod timestamp;
pub mod validate;
pub mod vars;

pub use config::Config;
pub use reply::Reply;
/// Secrets in the configuration are `secrecy::SecretString`: adapters call
/// `ExposeSecret::expose_secret` where they send one.
pub use secrecy;

/// Helpers the unit tests of several modules share.
#[cfg(test)]
pub(crate) mod test_support {
    /// Run a future that never waits on real I/O (the scripted ports answer at once).
    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}
