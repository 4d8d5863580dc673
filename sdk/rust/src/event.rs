//! Typed builders for the six Segment calls.

use serde_json::{Map, Value};

/// One event, built with [`Event::track`], [`Event::identify`], [`Event::page`],
/// [`Event::screen`], [`Event::group`] or [`Event::alias`], then the setters.
///
/// ```
/// use ingest_sdk::Event;
/// let e = Event::track("Order Completed").user_id("user-1").property("revenue", 19.99);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub(crate) body: Map<String, Value>,
}

impl Event {
    fn new(kind: &str) -> Self {
        let mut body = Map::new();
        body.insert("type".into(), kind.into());
        Self { body }
    }

    fn set(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.into(), value.into());
        self
    }

    fn put(mut self, object: &str, key: &str, value: impl Into<Value>) -> Self {
        let entry = self
            .body
            .entry(object)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(key.into(), value.into());
        }
        self
    }

    /// A user action.
    pub fn track(event: &str) -> Self {
        Self::new("track").set("event", event)
    }
    /// Who the user is (add traits with [`Event::trait_`]).
    pub fn identify() -> Self {
        Self::new("identify")
    }
    /// A web page view.
    pub fn page(name: &str) -> Self {
        Self::new("page").set("name", name)
    }
    /// A mobile screen view.
    pub fn screen(name: &str) -> Self {
        Self::new("screen").set("name", name)
    }
    /// Associate the user with a group.
    pub fn group(group_id: &str) -> Self {
        Self::new("group").set("groupId", group_id)
    }
    /// Merge `previous_id` into the user id set with [`Event::user_id`].
    pub fn alias(previous_id: &str) -> Self {
        Self::new("alias").set("previousId", previous_id)
    }

    /// The known user id.
    pub fn user_id(self, id: &str) -> Self {
        self.set("userId", id)
    }
    /// The anonymous (device / cookie) id.
    pub fn anonymous_id(self, id: &str) -> Self {
        self.set("anonymousId", id)
    }
    /// A property (track, page, screen).
    pub fn property(self, key: &str, value: impl Into<Value>) -> Self {
        self.put("properties", key, value)
    }
    /// A trait (identify, group).
    pub fn trait_(self, key: &str, value: impl Into<Value>) -> Self {
        self.put("traits", key, value)
    }
    /// A context field (`library`, `page`, `campaign`, ...).
    pub fn context(self, key: &str, value: impl Into<Value>) -> Self {
        self.put("context", key, value)
    }
    /// When it happened (ISO-8601); defaults to the time it was queued.
    pub fn timestamp(self, iso8601: &str) -> Self {
        self.set("timestamp", iso8601)
    }
    /// Your own idempotency key; one is generated otherwise.
    pub fn message_id(self, id: &str) -> Self {
        self.set("messageId", id)
    }

    /// The event's `type`.
    pub fn kind(&self) -> &str {
        self.body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}
