//! wasm-bindgen exports for pages: `new IngestClient(writeKey, endpoint)`, then `track`,
//! `identify`, `page`, `screen`, `group`, `alias` (properties/traits as JSON objects) and
//! `flush()` (a Promise of the number of events delivered).

use crate::{Client, Event};
use wasm_bindgen::prelude::*;

/// A browser client (see the crate docs for the queueing and retry behaviour).
#[wasm_bindgen]
pub struct IngestClient {
    inner: Client,
}

fn with_fields(
    mut e: Event,
    user_id: Option<String>,
    anonymous_id: Option<String>,
    object: &str,
    fields: JsValue,
) -> Result<Event, JsError> {
    if let Some(u) = user_id.filter(|s| !s.is_empty()) {
        e = e.user_id(&u);
    }
    if let Some(a) = anonymous_id.filter(|s| !s.is_empty()) {
        e = e.anonymous_id(&a);
    }
    if !fields.is_undefined() && !fields.is_null() {
        let text = js_sys::JSON::stringify(&fields)
            .map_err(|_| JsError::new("fields must be JSON-serialisable"))?;
        let text: String = text.into();
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|_| JsError::new("fields must be an object"))?;
        for (k, v) in map {
            e = if object == "traits" {
                e.trait_(&k, v)
            } else {
                e.property(&k, v)
            };
        }
    }
    Ok(e)
}

#[wasm_bindgen]
impl IngestClient {
    /// Create a client; `flushAt` and `flushIntervalMs` are optional.
    #[wasm_bindgen(constructor)]
    pub fn new(
        write_key: &str,
        endpoint: &str,
        flush_at: Option<usize>,
        flush_interval_ms: Option<u32>,
    ) -> Result<IngestClient, JsError> {
        let mut b = Client::builder(write_key, endpoint).gzip(false);
        if let Some(n) = flush_at {
            b = b.flush_at(n);
        }
        if let Some(ms) = flush_interval_ms {
            b = b.flush_interval(std::time::Duration::from_millis(u64::from(ms)));
        }
        b.build()
            .map(|inner| IngestClient { inner })
            .map_err(|e| JsError::new(&e.to_string()))
    }

    fn push(&self, e: Result<Event, JsError>) -> Result<(), JsError> {
        self.inner
            .enqueue(e?)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Queue a track call.
    pub fn track(
        &self,
        event: &str,
        user_id: Option<String>,
        anonymous_id: Option<String>,
        properties: JsValue,
    ) -> Result<(), JsError> {
        self.push(with_fields(
            Event::track(event),
            user_id,
            anonymous_id,
            "properties",
            properties,
        ))
    }
    /// Queue an identify call.
    pub fn identify(
        &self,
        user_id: Option<String>,
        anonymous_id: Option<String>,
        traits: JsValue,
    ) -> Result<(), JsError> {
        self.push(with_fields(
            Event::identify(),
            user_id,
            anonymous_id,
            "traits",
            traits,
        ))
    }
    /// Queue a page call.
    pub fn page(
        &self,
        name: &str,
        user_id: Option<String>,
        anonymous_id: Option<String>,
        properties: JsValue,
    ) -> Result<(), JsError> {
        self.push(with_fields(
            Event::page(name),
            user_id,
            anonymous_id,
            "properties",
            properties,
        ))
    }
    /// Queue a screen call.
    pub fn screen(
        &self,
        name: &str,
        user_id: Option<String>,
        anonymous_id: Option<String>,
        properties: JsValue,
    ) -> Result<(), JsError> {
        self.push(with_fields(
            Event::screen(name),
            user_id,
            anonymous_id,
            "properties",
            properties,
        ))
    }
    /// Queue a group call.
    pub fn group(
        &self,
        group_id: &str,
        user_id: Option<String>,
        anonymous_id: Option<String>,
        traits: JsValue,
    ) -> Result<(), JsError> {
        self.push(with_fields(
            Event::group(group_id),
            user_id,
            anonymous_id,
            "traits",
            traits,
        ))
    }
    /// Queue an alias call.
    pub fn alias(&self, user_id: &str, previous_id: &str) -> Result<(), JsError> {
        self.push(Ok(Event::alias(previous_id).user_id(user_id)))
    }
    /// Send what is queued; resolves to the number of events delivered.
    pub async fn flush(&self) -> Result<f64, JsError> {
        self.inner
            .flush()
            .await
            .map(|n| n as f64)
            .map_err(|e| JsError::new(&e.to_string()))
    }
    /// Events waiting in memory.
    pub fn queued(&self) -> usize {
        self.inner.queued()
    }
}
