//! Platform glue shared by the function crates. Each platform module converts types,
//! reads configuration, performs the Upstash call the core asks for, and supplies clock
//! and randomness. No behaviour lives here: that is `ingest-core`'s job.

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod workers;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;

#[cfg(target_os = "wasi")]
pub mod spin;
