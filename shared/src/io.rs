//! The one port between the core and its platforms. Every function's behaviour is
//! written against [`Io`] (backend calls, clock, timers) and [`Random`]; the Workers,
//! Spin and native adapters implement them and do nothing else but convert requests
//! and responses. A leaf module: it depends on no other part of the core, so every
//! other module may use it. The two request shapes ([`RestCall`] for Upstash, [`Request`]
//! for ClickHouse) live here for that reason; `redis` and `clickhouse` re-export them.

/// One HTTP call to the Upstash REST API: `POST {REDIS_URL}{path}` with a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestCall {
    /// `/` for one command, `/pipeline` or `/multi-exec` for several.
    pub path: &'static str,
    /// The JSON body: a command array, or an array of them.
    pub body: String,
}

impl RestCall {
    /// URL and headers of this call for `REDIS_URL` / `REDIS_TOKEN`: every adapter sends
    /// `POST url` with these headers and [`RestCall::body`].
    pub fn http(
        &self,
        redis_url: &str,
        redis_token: &secrecy::SecretString,
    ) -> (String, [(&'static str, String); 2]) {
        use secrecy::ExposeSecret as _;
        (
            format!("{redis_url}{}", self.path),
            [
                (
                    "authorization",
                    format!("Bearer {}", redis_token.expose_secret()),
                ),
                ("content-type", "application/json".to_string()),
            ],
        )
    }
}

/// One HTTP request to ClickHouse (or any backend): `POST {url}` with `body` and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Full URL including the query string.
    pub url: String,
    /// Request body (rows for inserts, SQL for queries).
    pub body: String,
    /// Headers to send (`X-ClickHouse-User`, `X-ClickHouse-Key`).
    pub headers: Vec<(&'static str, String)>,
}

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
    async fn clickhouse(&self, req: &Request) -> CallOutcome;
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

/// What a platform must provide for [`Backends`] to implement [`Io`]: one HTTP POST
/// (with the platform's deadline), a clock and a timer.
#[expect(
    async_fn_in_trait,
    reason = "used through generics only; JS-backed futures are not Send"
)]
pub trait Http {
    /// `POST url` with these headers and body.
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> CallOutcome;
    /// Current time, Unix ms.
    fn now_ms(&self) -> i64;
    /// Wait this long.
    async fn sleep(&self, ms: u64);
}

/// The port over a platform's [`Http`]: Upstash REST calls go to `REDIS_URL` with the
/// bearer token, ClickHouse calls to their own URL. The one `Io` implementation.
#[derive(Debug, Clone, Copy)]
pub struct Backends<'a, H> {
    /// The platform's HTTP client.
    pub http: H,
    /// `REDIS_URL`.
    pub redis_url: &'a str,
    /// `REDIS_TOKEN`.
    pub redis_token: &'a secrecy::SecretString,
}

impl<H: Http> Io for Backends<'_, H> {
    async fn redis(&self, call: &RestCall) -> CallOutcome {
        let (url, headers) = call.http(self.redis_url, self.redis_token);
        self.http.post(&url, &headers, &call.body).await
    }

    async fn clickhouse(&self, req: &Request) -> CallOutcome {
        self.http.post(&req.url, &req.headers, &req.body).await
    }

    fn now_ms(&self) -> i64 {
        self.http.now_ms()
    }

    async fn sleep(&self, ms: u64) {
        self.http.sleep(ms).await;
    }
}
