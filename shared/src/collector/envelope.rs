//! The top level of a request body, read without building a tree: the four members the
//! collector needs, each kept as raw JSON text, and the batch as a bounded list of raw
//! events. Unknown members are skipped without allocating, so a body with many members
//! costs no memory beyond the body itself.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// Most events one request may carry. Keeps the per-request list of events (16 bytes
/// each) small whatever the body holds: 5,000 events is 10x what the SDKs send in one
/// batch (analytics-node 15, analytics-python and RudderStack 100, our SDK 100 by default).
pub use ingest_protocol::MAX_BATCH_EVENTS;

/// The members of a body the collector reads; `null` reads as absent.
#[derive(Debug, Deserialize)]
pub struct Envelope<'a> {
    /// `writeKey`, for clients that cannot set `Authorization` (analytics-next).
    #[serde(borrow, rename = "writeKey", default)]
    pub write_key: Option<&'a RawValue>,
    /// `batch` (batch routes).
    #[serde(borrow, default)]
    pub batch: Option<&'a RawValue>,
    /// The batch-level `context`.
    #[serde(borrow, default)]
    pub context: Option<&'a RawValue>,
    /// The batch-level `sentAt`.
    #[serde(borrow, rename = "sentAt", default)]
    pub sent_at: Option<&'a RawValue>,
}

/// Parse a body's top level; it must be a JSON object (a derived struct would also take
/// an array, positionally). Duplicate members of the four are refused as ambiguous.
pub fn parse(text: &str) -> Result<Envelope<'_>, String> {
    if !text.trim_start().starts_with('{') {
        return Err("body is not a JSON object".into());
    }
    serde_json::from_str(text).map_err(|e| format!("body is not a JSON object: {e}"))
}

/// A JSON array read element by element: at most [`MAX_BATCH_EVENTS`] kept, the rest only
/// counted (without allocating), so the caller can refuse the request precisely.
#[derive(Debug)]
pub struct Events<'a> {
    /// The first elements, as raw JSON.
    pub list: Vec<&'a RawValue>,
    /// How many elements the array has.
    pub total: usize,
}

impl<'de> Deserialize<'de> for Events<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = Events<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of events")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut list = Vec::new();
                let mut total = 0;
                while total < MAX_BATCH_EVENTS {
                    match seq.next_element::<&'de RawValue>()? {
                        Some(v) => list.push(v),
                        None => return Ok(Events { list, total }),
                    }
                    total += 1;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(Events { list, total })
            }
        }
        d.deserialize_seq(ListVisitor)
    }
}

/// Parse `batch` into a bounded list (error text names the field).
pub fn events(raw: &RawValue) -> Result<Events<'_>, String> {
    serde_json::from_str(raw.get()).map_err(|_| "batch: must be an array of events".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_reads_four_members_and_skips_the_rest() {
        let e = parse(
            r#" {"x":[1,{"a":2}],"batch":[1,2],"writeKey":"k","context":null,"sentAt":"2026"}"#,
        )
        .unwrap();
        assert_eq!(e.batch.unwrap().get(), "[1,2]");
        assert_eq!(e.write_key.unwrap().get(), "\"k\"");
        assert!(e.context.is_none());
        assert!(parse(r#"["k",[1]]"#).is_err());
        assert!(parse("1").is_err());
        assert!(
            parse(r#"{"batch":1,"batch":2}"#)
                .unwrap_err()
                .contains("duplicate")
        );
    }

    #[test]
    fn long_batches_are_counted_not_kept() {
        let body = format!("[{}1]", "1,".repeat(MAX_BATCH_EVENTS + 10));
        let raw: &RawValue = serde_json::from_str(&body).unwrap();
        let ev = events(raw).unwrap();
        assert_eq!(ev.list.len(), MAX_BATCH_EVENTS);
        assert_eq!(ev.total, MAX_BATCH_EVENTS + 11);
        let short: &RawValue = serde_json::from_str("[{},2]").unwrap();
        let ev = events(short).unwrap();
        assert_eq!((ev.list.len(), ev.total), (2, 2));
        let not_list: &RawValue = serde_json::from_str("{}").unwrap();
        assert!(events(not_list).is_err());
    }
}
