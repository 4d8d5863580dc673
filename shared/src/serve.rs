//! What every function's entry point shares: the deployment's configuration, the log
//! lines an adapter prints, and the answer to a broken configuration. Each function's
//! `serve` ([`crate::collector::serve`], [`crate::health::serve`],
//! [`crate::processor::serve`]) takes a request as plain data and the [`crate::io::Io`]
//! port, and returns the reply and its log lines. An adapter only converts the platform's
//! request and response, prints the lines, and (Workers) runs after-response work.

use crate::Reply;
use crate::config::Config;
use crate::drain::DrainConfig;
use crate::error::IngestError;

/// One deployment's configuration: the collector's, and the processor's when it drains
/// (iff `CLICKHOUSE_URL` is set, see [`DrainConfig::when_configured`]).
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Collector (and health) configuration.
    pub config: Config,
    /// Processor configuration, when this deployment drains.
    pub drain: Option<DrainConfig>,
}

impl Deployment {
    /// The port over a platform's HTTP client, with this deployment's Upstash endpoint.
    pub fn backends<H: crate::io::Http>(&self, http: H) -> crate::io::Backends<'_, H> {
        crate::io::Backends {
            http,
            redis_url: &self.config.redis_url,
            redis_token: &self.config.redis_token,
        }
    }

    /// Read both from the platform's variables. `after_response` says whether the platform
    /// can run work after a response is sent (Workers' `waitUntil`) and serves many
    /// requests in one instance; without it (Spin) the drain after ack is off (the
    /// processor component drains) and so is the group commit (nothing to group with).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
        after_response: bool,
    ) -> Result<Self, String> {
        let mut config = Config::from_lookup(&get)?;
        if !after_response {
            config.drain_lock_ms = 0;
            config.linger_ms = 0;
        }
        Ok(Self {
            config,
            drain: DrainConfig::when_configured(&get)?,
        })
    }
}

/// A log line for the adapter to print (stderr / `console.error` when `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// Print at error level.
    pub error: bool,
    /// One JSON object.
    pub line: String,
}

impl Log {
    /// An info line.
    pub fn info(line: String) -> Self {
        Self { error: false, line }
    }

    /// An error line.
    pub fn error(line: String) -> Self {
        Self { error: true, line }
    }
}

/// The answer when the configuration cannot be read: 500 naming the variable (never a
/// secret's value), CORS-decorated for the request's `Origin` so a browser shows the
/// message, and the error log line.
pub fn config_failure(message: &str, headers: &http::HeaderMap) -> (Reply, Log) {
    let origin = headers.get("origin").and_then(|v| v.to_str().ok());
    let line = serde_json::json!({ "msg": "configuration error", "error": message });
    (
        config_error_reply(message, origin),
        Log::error(line.to_string()),
    )
}

/// The reply to a request that reached a function while its configuration is invalid.
pub fn config_error_reply(message: &str, origin: Option<&str>) -> Reply {
    let mut r = IngestError::Config(message.to_string()).to_reply();
    if origin.is_some() {
        // The allowed origins are unknown: let any page read the error, without
        // reflecting the origin (and never with credentials).
        r.set_header("access-control-allow-origin", "*".to_string());
    }
    r
}
