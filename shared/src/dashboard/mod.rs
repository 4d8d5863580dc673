//! The Dashboard API and its web page: JWT-authenticated, project-scoped queries over
//! ClickHouse's SELECT-only reader, served by a function of its own on every runtime.
//!
//! Written against the core's one port ([`crate::io::Io`]: Upstash and ClickHouse calls,
//! the clock) plus [`Cache`] (the Workers Cache API; nothing on Spin). The adapters in
//! `functions/dashboard` only convert requests and replies.
//!
//! Files, one idea each: [`config`], [`jwt`], [`password`], [`users`], [`session`]
//! (cookie, logout, login rate limit), [`params`] (checked query parameters),
//! [`queries`] (SQL files and answers), [`routes`] (the request handler), [`page`]
//! (HTML and security headers), [`ops`] (liveness, health, metrics), [`error`].

pub mod config;
pub mod endpoint;
pub mod error;
pub mod filters;
pub mod jwt;
pub mod ops;
pub mod page;
pub mod params;
pub mod password;
pub mod queries;
pub mod routes;
pub mod session;
pub mod users;

#[cfg(test)]
mod tests;

pub use config::DashboardConfig;
pub use page::Assets;
pub use routes::{Incoming, serve};

use crate::io::CallOutcome;

/// A short-lived store of answers, keyed by URL (scope and parameters hashed in).
#[expect(
    async_fn_in_trait,
    reason = "used through generics only; JS-backed futures are not Send"
)]
pub trait Cache {
    /// A stored answer, if fresh.
    async fn get(&self, key: &str) -> Option<String>;
    /// Store an answer for `ttl_s` seconds.
    async fn put(&self, key: &str, body: &str, ttl_s: u32);
}

/// No cache (Spin: an instance lives for one request and Spin has no cache API).
pub struct NoCache;

impl Cache for NoCache {
    async fn get(&self, _key: &str) -> Option<String> {
        None
    }
    async fn put(&self, _key: &str, _body: &str, _ttl_s: u32) {}
}

/// The one place the dashboard reads a backend call's outcome: status and body, or the
/// transport error's text.
pub fn http_reply(outcome: CallOutcome) -> Result<(u16, Vec<u8>), String> {
    outcome
        .map(|r| (r.status, r.body))
        .map_err(|e| e.to_string())
}
