//! The client's errors.

/// Errors of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The event cannot be sent as built (names the field).
    Invalid(String),
    /// Bad configuration.
    Config(String),
    /// The collector refused a batch (4xx other than 429): it was dropped.
    Rejected {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// Retries were exhausted; the batch went back to the queue.
    Unavailable(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(m) => write!(f, "invalid event: {m}"),
            Self::Config(m) => write!(f, "configuration: {m}"),
            Self::Rejected { status, body } => {
                write!(f, "collector refused the batch ({status}): {body}")
            }
            Self::Unavailable(m) => write!(f, "collector unavailable after retries: {m}"),
        }
    }
}

impl std::error::Error for Error {}
