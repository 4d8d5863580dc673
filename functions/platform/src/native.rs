//! Native glue (Linux servers, containers): reqwest over rustls for Upstash and ClickHouse,
//! configuration from the process environment.

use ingest_core::io::{Backends, CallOutcome, Http, HttpReply};
use ingest_core::secrecy::SecretString;
use std::time::Duration;

/// Read a variable from the environment.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// HTTP through reqwest.
#[derive(Debug, Clone)]
pub struct Client(reqwest::Client);

impl Http for Client {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> CallOutcome {
        let mut req = self.0.post(url).body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok(HttpReply::new(status, body.to_vec()))
    }

    fn now_ms(&self) -> i64 {
        crate::now_ms()
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// The backends of a native process: the client and the Upstash endpoint.
#[derive(Debug)]
pub struct Native {
    client: Client,
    redis_url: String,
    redis_token: SecretString,
}

impl Native {
    /// A client for the Upstash REST endpoint in `REDIS_URL` / `REDIS_TOKEN`. The request
    /// timeout leaves room for a blocking read of `block_ms`.
    pub fn from_env(block_ms: u64) -> Result<Self, String> {
        let upstash = ingest_core::config::Upstash::from_lookup(env)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(block_ms + 30_000))
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            client: Client(http),
            redis_url: upstash.url,
            redis_token: upstash.token,
        })
    }

    /// The port.
    pub fn io(&self) -> Backends<'_, Client> {
        Backends {
            http: self.client.clone(),
            redis_url: &self.redis_url,
            redis_token: &self.redis_token,
        }
    }
}
