//! Per-event validation against the Segment spec. A bad event yields a [`Reject`] naming
//! the field and the reason; the rest of the batch is unaffected.

use crate::event::{Kind, RawObject, is_object, raw_str};
use crate::timestamp;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Why one event of a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Position of the event in the request's batch (0 for single-event routes).
    pub index: usize,
    /// The offending field, when one field is to blame.
    pub field: Option<&'static str>,
    /// What is wrong, in words.
    pub reason: String,
}

/// How many rejects a reply lists (and the dead-letter record keeps) at most; past that
/// only the count grows. Keeps both under a fixed size whatever the request holds.
pub const MAX_LISTED_REJECTS: usize = 100;

/// The rejects of one request: the first [`MAX_LISTED_REJECTS`] in full, and the total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejects {
    listed: Vec<Reject>,
    total: usize,
}

impl Rejects {
    /// Record a reject; returns whether it was listed (false once the list is full).
    pub fn push(&mut self, r: Reject) -> bool {
        self.total += 1;
        let listed = self.listed.len() < MAX_LISTED_REJECTS;
        if listed {
            self.listed.push(r);
        }
        listed
    }

    /// Number of rejected events, listed or not.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Whether no event was rejected.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The listed rejects, in request order.
    pub fn listed(&self) -> &[Reject] {
        &self.listed
    }

    /// JSON array of the listed rejects, for replies.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.listed
                .iter()
                .map(|r| serde_json::json!({ "index": r.index, "field": r.field, "reason": r.reason }))
                .collect(),
        )
    }

    /// Add `rejected` (the listed ones) and, when some were not listed, `rejected_count`
    /// to a reply object.
    pub fn add_to(&self, obj: &mut serde_json::Map<String, serde_json::Value>) {
        obj.insert("rejected".into(), self.to_json());
        if self.total > self.listed.len() {
            obj.insert("rejected_count".into(), self.total.into());
        }
    }
}

/// What validation learned about a good event, for enrichment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked<'a> {
    /// The call type.
    pub kind: Kind,
    /// Client `messageId`, if it sent one.
    pub message_id: Option<Cow<'a, str>>,
    /// `userId` as a string (numbers are accepted and turned into strings).
    pub user_id: Option<String>,
    /// `anonymousId` as a string (numbers likewise).
    pub anonymous_id: Option<String>,
    /// Client `timestamp` (or `originalTimestamp`) in Unix ms.
    pub client_ts_ms: Option<i64>,
    /// The event's own `sentAt` in Unix ms.
    pub sent_at_ms: Option<i64>,
}

/// Longest accepted `messageId`, `userId` or `anonymousId`.
pub const MAX_ID_LEN: usize = 255;

fn reject(field: &'static str, reason: impl Into<String>) -> Reject {
    Reject {
        index: 0,
        field: Some(field),
        reason: reason.into(),
    }
}

/// An identifier field: a non-empty string or a number; `None` when absent or null.
fn id_field(obj: &RawObject<'_>, field: &'static str) -> Result<Option<String>, Reject> {
    let Some(raw) = obj.get_present(field) else {
        return Ok(None);
    };
    let text = raw.get();
    let value = if let Some(s) = raw_str(raw) {
        s.into_owned()
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        text.to_string()
    } else {
        return Err(reject(field, format!("{field} must be a string")));
    };
    if value.trim().is_empty() {
        return Ok(None);
    }
    if value.len() > MAX_ID_LEN {
        return Err(reject(
            field,
            format!("{field} is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    Ok(Some(value))
}

fn required_string<'a>(
    obj: &RawObject<'a>,
    field: &'static str,
    kind: Kind,
) -> Result<Cow<'a, str>, Reject> {
    match obj.get_present(field) {
        None => Err(reject(
            field,
            format!("{field} is required for {} calls", kind.as_str()),
        )),
        Some(raw) => match raw_str(raw) {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(reject(field, format!("{field} must not be empty"))),
            None => Err(reject(field, format!("{field} must be a string"))),
        },
    }
}

fn optional_object(obj: &RawObject<'_>, field: &'static str) -> Result<(), Reject> {
    match obj.get_present(field) {
        Some(raw) if !is_object(raw) => Err(reject(field, format!("{field} must be an object"))),
        _ => Ok(()),
    }
}

fn optional_timestamp(obj: &RawObject<'_>, field: &'static str) -> Result<Option<i64>, Reject> {
    let Some(raw) = obj.get_present(field) else {
        return Ok(None);
    };
    let s =
        raw_str(raw).ok_or_else(|| reject(field, format!("{field} must be an ISO-8601 string")))?;
    let ms = timestamp::parse_ms(&s).ok_or_else(|| {
        reject(
            field,
            format!(
                "{field} is not an ISO-8601 date-time: {:?}",
                truncate(&s, 40)
            ),
        )
    })?;
    if !timestamp::storable(ms) {
        return Err(reject(
            field,
            format!(
                "{field} {:?} is outside the storable range 1900-01-01 to 2299-12-31 (UTC)",
                truncate(&s, 40)
            ),
        ));
    }
    Ok(Some(ms))
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Validate one event. `route_kind` is set for single-event routes (the route decides the
/// type); for batches the event's own `type` must name one of the six calls.
pub fn check<'a>(
    obj: &RawObject<'a>,
    route_kind: Option<Kind>,
    raw_len: usize,
    max_event_bytes: usize,
) -> Result<Checked<'a>, Reject> {
    if raw_len > max_event_bytes {
        return Err(Reject {
            index: 0,
            field: None,
            reason: format!("event is {raw_len} bytes, over the {max_event_bytes}-byte limit"),
        });
    }
    let kind = match route_kind {
        Some(k) => k,
        None => {
            let raw = obj
                .get_present("type")
                .ok_or_else(|| reject("type", "type is required"))?;
            let s = raw_str(raw).ok_or_else(|| reject("type", "type must be a string"))?;
            Kind::parse(&s).ok_or_else(|| {
                reject(
                    "type",
                    format!(
                        "type {:?} is not one of track, identify, page, screen, group, alias",
                        truncate(&s, 40)
                    ),
                )
            })?
        }
    };
    let user_id = id_field(obj, "userId")?;
    let anonymous_id = id_field(obj, "anonymousId")?;
    if user_id.is_none() && anonymous_id.is_none() {
        return Err(reject("userId", "userId or anonymousId is required"));
    }
    let message_id = match obj.get_present("messageId") {
        None => None,
        Some(raw) => {
            let s =
                raw_str(raw).ok_or_else(|| reject("messageId", "messageId must be a string"))?;
            if s.len() > MAX_ID_LEN {
                return Err(reject(
                    "messageId",
                    format!("messageId is longer than {MAX_ID_LEN} bytes"),
                ));
            }
            (!s.trim().is_empty()).then_some(s)
        }
    };
    match kind {
        Kind::Track => {
            required_string(obj, "event", kind)?;
        }
        Kind::Group => {
            id_field(obj, "groupId")?
                .ok_or_else(|| reject("groupId", "groupId is required for group calls"))?;
        }
        Kind::Alias => {
            id_field(obj, "previousId")?
                .ok_or_else(|| reject("previousId", "previousId is required for alias calls"))?;
            if user_id.is_none() {
                return Err(reject("userId", "userId is required for alias calls"));
            }
        }
        Kind::Page | Kind::Screen => {
            if let Some(raw) = obj.get_present("name") {
                raw_str(raw).ok_or_else(|| reject("name", "name must be a string"))?;
            }
        }
        Kind::Identify => {}
    }
    for field in ["properties", "traits", "context", "integrations"] {
        optional_object(obj, field)?;
    }
    let client_ts_ms = match optional_timestamp(obj, "timestamp")? {
        Some(t) => Some(t),
        None => optional_timestamp(obj, "originalTimestamp")?,
    };
    let sent_at_ms = optional_timestamp(obj, "sentAt")?;
    Ok(Checked {
        kind,
        message_id,
        user_id,
        anonymous_id,
        client_ts_ms,
        sent_at_ms,
    })
}

/// Raw text of an event for the dead-letter stream, cut to `max` bytes.
pub fn dead_letter_text(raw: &RawValue, max: usize) -> &str {
    truncate(raw.get(), max)
}

#[cfg(test)]
mod tests;
