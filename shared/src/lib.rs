//! Platform-neutral, sans-IO core of the edge ingestion service.
//!
//! Requests come in as plain data; out comes a decision (a reply, or one Upstash REST
//! call to make and a second step that turns its outcome into the reply). No async, no
//! platform SDK, no HTTP client: the Workers, Spin and native adapters do the I/O.

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
pub mod redis;
pub mod replay;
pub mod reply;
pub mod timestamp;
pub mod validate;

pub use config::Config;
pub use reply::Reply;
