//! Replay: move dead letters back into the stream once their cause is fixed (a schema or
//! permission problem in ClickHouse, a bug in the row encoder). Only the processor's dead
//! letters carry a stored entry (`entry`, the entry's fields as JSON); the edge's rejects
//! (events the client sent invalid) are listed and skipped.
//!
//! One script per call: each dead letter in the id range is re-appended to the stream as
//! a new entry (with `replay_of` naming it) and deleted from the dead-letter stream in the
//! same atomic step, so running a replay twice never appends twice. Rows are keyed on
//! `message_id` in ClickHouse, so a replayed event that was stored meanwhile stays one row.

use crate::redis::{RestCall, command};
use serde_json::Value;

/// KEYS: 1 dead-letter stream, 2 stream. ARGV: 1 first id (`-` = oldest), 2 last id (`+`
/// = newest), 3 at most this many records, 4 `1` = dry run. Returns one
/// `{id, reason, outcome}` per record read.
pub const REPLAY_SCRIPT: &str = r#"
local out = {}
for _, rec in ipairs(redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[2], 'COUNT', ARGV[3])) do
  local id, kv, f = rec[1], rec[2], {}
  for j = 1, #kv, 2 do f[kv[j]] = kv[j + 1] end
  local outcome = 'skipped: an edge reject (the client sent an invalid event)'
  if f['entry'] then
    local ok, entry = pcall(cjson.decode, f['entry'])
    if not (ok and type(entry) == 'table' and type(entry['events']) == 'string') then
      outcome = 'skipped: no stored entry in this dead letter'
    elseif ARGV[4] == '1' then
      outcome = 'would replay'
    else
      local args = {}
      for k, v in pairs(entry) do
        if type(v) == 'string' and k ~= 'replay_of' then
          args[#args + 1] = k
          args[#args + 1] = v
        end
      end
      args[#args + 1] = 'replay_of'
      args[#args + 1] = id
      local new = redis.call('XADD', KEYS[2], '*', unpack(args))
      redis.call('XDEL', KEYS[1], id)
      outcome = 'replayed as ' .. new
    end
  end
  out[#out + 1] = {id, f['reason'] or '', outcome}
end
return out
"#;

/// Which dead letters to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    /// First id, inclusive (`-` = the oldest).
    pub from: String,
    /// Last id, inclusive (`+` = the newest).
    pub to: String,
    /// At most this many records per call.
    pub count: usize,
    /// List what would happen, change nothing.
    pub dry_run: bool,
}

/// The call that replays `range` of `stream`'s dead letters.
pub fn call(stream: &str, range: &Range) -> RestCall {
    let dlq = format!("{stream}:invalid");
    let count = range.count.max(1).to_string();
    command(&[
        "EVAL",
        REPLAY_SCRIPT,
        "2",
        &dlq,
        stream,
        &range.from,
        &range.to,
        &count,
        if range.dry_run { "1" } else { "0" },
    ])
}

/// One dead letter the replay looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Its id in the dead-letter stream.
    pub id: String,
    /// Why it was dead-lettered.
    pub reason: String,
    /// `replayed as <new id>`, `would replay`, or `skipped: …`.
    pub outcome: String,
}

/// Parse the script's answer.
pub fn parse(result: &Value) -> Vec<Outcome> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    result
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| Outcome {
            id: text(r.get(0)),
            reason: text(r.get(1)),
            outcome: text(r.get(2)),
        })
        .collect()
}

/// Check an id bound as the user typed it: `-`, `+`, `<ms>` or `<ms>-<seq>`.
pub fn valid_bound(s: &str) -> bool {
    if s == "-" || s == "+" {
        return true;
    }
    let mut parts = s.splitn(2, '-');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let first = parts.next();
    digits(first) && parts.next().is_none_or(|p| digits(Some(p)))
}

/// What a whole replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Dead letters put back (or that would be, with `dry_run`).
    pub replayed: usize,
    /// Dead letters left where they are (see [`Outcome::outcome`]).
    pub skipped: usize,
}

/// Replay every dead letter in `range`, page by page, calling `seen` for each record.
/// An open upper bound (`+`) is pinned first to the newest dead letter, so one that is
/// dead-lettered again while its cause persists is not picked up in the same run.
pub async fn run<I: crate::io::Io>(
    io: &I,
    stream: &str,
    mut range: Range,
    mut seen: impl FnMut(&Outcome),
) -> Result<Totals, crate::redis::RestError> {
    use crate::redis::parse_outcome;
    let mut totals = Totals::default();
    if range.to == "+" {
        let dlq = crate::stream::dead_letter_stream(stream);
        let newest = command(&["XREVRANGE", dlq.as_str(), "+", "-", "COUNT", "1"]);
        let v = parse_outcome(io.redis(&newest).await)?;
        match v.get(0).and_then(|e| e.get(0)).and_then(Value::as_str) {
            Some(id) => range.to = id.to_string(),
            None => return Ok(totals),
        }
    }
    loop {
        let records = parse(&parse_outcome(io.redis(&call(stream, &range)).await)?);
        for r in &records {
            if r.outcome.starts_with("skipped") {
                totals.skipped += 1;
            } else {
                totals.replayed += 1;
            }
            seen(r);
        }
        // Skipped records stay: continue after the last one read, not from the start.
        match records.last() {
            Some(last) if records.len() >= range.count && !range.dry_run => {
                range.from = format!("({}", last.id);
            }
            _ => return Ok(totals),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_call_names_both_streams_and_the_range() {
        let c = call(
            "analytics_events",
            &Range {
                from: "-".into(),
                to: "1700-0".into(),
                count: 0,
                dry_run: true,
            },
        );
        let args: Vec<String> = serde_json::from_str(&c.body).unwrap();
        assert_eq!(
            args[3..],
            [
                "analytics_events:invalid",
                "analytics_events",
                "-",
                "1700-0",
                "1",
                "1"
            ]
        );
    }

    #[test]
    fn outcomes_parse_and_bounds_are_checked() {
        let v = json!([
            ["1-0", "refused", "replayed as 5-0"],
            ["2-0", "", "would replay"]
        ]);
        let o = parse(&v);
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].outcome, "replayed as 5-0");
        assert!(parse(&json!("x")).is_empty());
        for ok in ["-", "+", "1700000000000", "1700000000000-3"] {
            assert!(valid_bound(ok), "{ok}");
        }
        for bad in ["", "x", "1-", "-1", "1-2-3", "1 0"] {
            assert!(!valid_bound(bad), "{bad}");
        }
    }
}
