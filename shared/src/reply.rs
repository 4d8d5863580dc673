//! The platform-neutral HTTP response every handler returns; adapters copy it into
//! their platform's response type.

/// An HTTP response: status, headers, JSON (or empty) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Header names are lower case; at most one value per name.
    pub headers: Vec<(&'static str, String)>,
    /// Response body (JSON text, Prometheus text, or empty).
    pub body: String,
}

impl Reply {
    /// A JSON response.
    pub fn json(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("content-type", "application/json".into())],
            body,
        }
    }

    /// A response without a body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// Set (or replace) a header.
    pub fn set_header(&mut self, name: &'static str, value: String) {
        match self.headers.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    /// A header's value, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}
