//! Native glue (Linux servers, containers): reqwest over rustls for Upstash and ClickHouse,
//! configuration from the process environment.

use ingest_core::clickhouse;
use ingest_core::io::CallOutcome;
use ingest_core::io::Io;
use ingest_core::redis::RestCall;
use std::time::Duration;

/// HTTP client for both backends.
pub struct Backends {
    http: reqwest::Client,
    redis_url: String,
    redis_token: String,
}

/// Read a variable from the environment.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Current time, Unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Backends {
    /// A client for the Upstash REST endpoint in `REDIS_URL` / `REDIS_TOKEN`. The request
    /// timeout leaves room for a blocking read of `block_ms`.
    pub fn from_env(block_ms: u64) -> Result<Self, String> {
        let redis_url = env("REDIS_URL")
            .filter(|v| !v.trim().is_empty())
            .ok_or("REDIS_URL is not set")?
            .trim()
            .trim_end_matches('/')
            .to_string();
        let redis_token = env("REDIS_TOKEN")
            .filter(|v| !v.is_empty())
            .ok_or("REDIS_TOKEN is not set")?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(block_ms + 30_000))
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            http,
            redis_url,
            redis_token,
        })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> CallOutcome {
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        Ok(ingest_core::io::HttpReply::new(status, body.to_vec()))
    }
}

impl Io for Backends {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        let url = format!("{}{}", self.redis_url, call.path);
        self.send(
            self.http
                .post(url)
                .bearer_auth(&self.redis_token)
                .header("content-type", "application/json")
                .body(call.body.clone()),
        )
        .await
    }

    async fn clickhouse(&self, req: &clickhouse::Request) -> CallOutcome {
        let mut b = self.http.post(&req.url).body(req.body.clone());
        for (k, v) in &req.headers {
            b = b.header(*k, v);
        }
        self.send(b).await
    }

    fn now_ms(&self) -> i64 {
        now_ms()
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}
