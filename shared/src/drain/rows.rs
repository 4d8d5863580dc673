//! Stream entries to ClickHouse rows, and the dead letters of what can never be a row.

use crate::clickhouse;
use crate::stream::Entry;
use serde_json::Value;
use serde_json::value::RawValue;

/// Something acknowledged without being stored: written to the dead-letter stream with
/// the full payload, so `processor replay` can bring it back once the cause is fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The stream entry it came from.
    pub source_id: String,
    /// Why it was not stored.
    pub reason: String,
    /// The entry's fields as JSON (only the one event, when one event of many failed).
    pub payload: String,
}

impl DeadLetter {
    /// A whole entry that cannot be stored.
    pub fn entry(e: &Entry, reason: impl Into<String>) -> Self {
        Self {
            source_id: e.id.clone(),
            reason: reason.into(),
            payload: e.fields_json(),
        }
    }

    /// The events of an entry that cannot be rows, as one dead letter: the entry's fields
    /// with only those events, so `replay` can put them back as an entry of their own (the
    /// rest of the entry was stored). One per entry, not one per event: the entry's other
    /// fields are copied once, so an entry of many small bad events cannot multiply its
    /// size in the ack. The reason is the first event's (at most [`MAX_REASON`] bytes)
    /// and how many more there are.
    pub fn events(e: &Entry, events: &[&str], first_reason: &str) -> Self {
        let mut map: serde_json::Map<String, Value> = e
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        map.insert(
            "events".into(),
            Value::String(format!("[{}]", events.join(","))),
        );
        map.insert("n".into(), Value::String(events.len().to_string()));
        let cut = first_reason
            .char_indices()
            .nth(MAX_REASON)
            .map_or(first_reason.len(), |(i, _)| i);
        let first = first_reason.get(..cut).unwrap_or_default();
        Self {
            source_id: e.id.clone(),
            reason: match events.len() {
                1 => first.to_string(),
                n => format!("{first} (and {} more events that cannot be rows)", n - 1),
            },
            payload: Value::Object(map).to_string(),
        }
    }

    /// An entry whose rows ClickHouse refused.
    pub fn refused(e: &Entry, why: &str) -> Self {
        Self::entry(e, format!("ClickHouse refused the rows: {why}"))
    }
}

/// Longest reason of a dead letter for events, in characters.
pub const MAX_REASON: usize = 200;

/// The rows of one entry (empty when none of its events could be a row), and the dead
/// letters of its events that cannot be rows. Those travel with the batch: they are
/// written only when the entry is acknowledged, never while its good rows are pending.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) id: String,
    /// What the insert's deduplication token covers for this entry: its id and its
    /// request ids (see [`clickhouse::dedup_token`]).
    pub(super) token: String,
    pub(super) rows: String,
    pub(super) row_count: usize,
    pub(super) dead: Vec<DeadLetter>,
}

/// Turn entries into insertable rows, one batch per entry; entries that can never become
/// rows come back as dead letters.
/// `source` names an entry in its rows' `stream_id` ([`super::DrainConfig::entry_source`]).
pub(super) fn build(
    entries: &[Entry],
    source: impl Fn(&str) -> String,
) -> (Vec<Batch>, Vec<DeadLetter>) {
    let mut batches = Vec::with_capacity(entries.len());
    let mut dead = Vec::new();
    for e in entries {
        let wk = e.field("wk").unwrap_or_default();
        let Some(events_json) = e.field("events") else {
            dead.push(DeadLetter::entry(e, "entry has no events field"));
            continue;
        };
        let Ok(events) = serde_json::from_str::<Vec<&RawValue>>(events_json) else {
            dead.push(DeadLetter::entry(e, "events field is not a JSON array"));
            continue;
        };
        let mut rows = String::with_capacity(events_json.len() + events.len() * 400);
        let mut n = 0;
        let mut bad = Vec::new();
        let mut first_reason = None;
        let stream_id = source(&e.id);
        for ev in events {
            match clickhouse::row(ev.get(), wk, &stream_id) {
                Ok(r) => {
                    rows.push_str(&r);
                    rows.push('\n');
                    n += 1;
                }
                Err(clickhouse::RowError(reason)) => {
                    first_reason.get_or_insert(reason);
                    bad.push(ev.get());
                }
            }
        }
        let bad = first_reason
            .map(|reason| DeadLetter::events(e, &bad, &reason))
            .into_iter()
            .collect();
        batches.push(Batch {
            id: e.id.clone(),
            token: format!("{} {}", e.id, e.field("rid").unwrap_or_default()),
            rows,
            row_count: n,
            dead: bad,
        });
    }
    (batches, dead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poison_entries_and_bad_events_become_dead_letters() {
        let good = r#"[{"type":"track","messageId":"m1","timestamp":"2026-01-01T00:00:00Z","event":"A"},{"type":"track"}]"#;
        let entries = vec![
            Entry {
                id: "1-0".into(),
                fields: vec![("wk".into(), "k".into()), ("events".into(), good.into())],
            },
            Entry {
                id: "2-0".into(),
                fields: vec![("events".into(), "not json".into())],
            },
            Entry {
                id: "3-0".into(),
                fields: vec![],
            },
        ];
        let (batches, dead) = build(&entries, str::to_string);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].row_count, 1);
        assert_eq!(dead.len(), 2);
        let bad = &batches[0].dead;
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].source_id, "1-0"); // the event without messageId
        // ... kept as an entry of its own: write key and the one event, ready for replay
        let payload: Value = serde_json::from_str(&bad[0].payload).unwrap();
        assert_eq!(payload["wk"], "k");
        assert_eq!(payload["events"], r#"[{"type":"track"}]"#);
        assert!(dead[0].reason.contains("JSON array"));
        assert!(dead[1].reason.contains("no events"));
    }

    #[test]
    fn an_entrys_bad_events_are_one_dead_letter_with_its_fields_copied_once() {
        let big = "x".repeat(5_000);
        let entries = vec![Entry {
            id: "1-0".into(),
            fields: vec![
                ("wk".into(), "k".into()),
                ("rid".into(), big.clone()),
                (
                    "events".into(),
                    r#"[1,{"type":"track"},{"type":"track","messageId":"m","timestamp":"2026-01-01T00:00:00Z","event":"A"},2]"#.into(),
                ),
            ],
        }];
        let (batches, dead) = build(&entries, str::to_string);
        assert!(dead.is_empty());
        assert_eq!(batches[0].row_count, 1);
        let [bad] = batches[0].dead.as_slice() else {
            panic!("one dead letter for the entry: {:?}", batches[0].dead.len())
        };
        assert!(
            bad.reason.starts_with("event is not a JSON object"),
            "{}",
            bad.reason
        );
        assert!(
            bad.reason
                .ends_with("(and 2 more events that cannot be rows)"),
            "{}",
            bad.reason
        );
        let payload: Value = serde_json::from_str(&bad.payload).unwrap();
        assert_eq!(payload["events"], r#"[1,{"type":"track"},2]"#);
        assert_eq!(payload["n"], "3");
        assert_eq!(payload["rid"], big.as_str());
        assert!(bad.payload.len() < big.len() + 200, "the big field once");
    }
}
