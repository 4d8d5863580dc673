//! The one script that ends a pass: XACK what was stored, dead-letter what never can be,
//! count the rows, trim the stream.

use super::DeadLetter;
use crate::redis::{RestCall, command};

/// XACK the done entries, dead-letter the poison ones, then trim the stream below the
/// oldest entry any consumer group still needs. Its KEYS and ARGV are [`AckArgs`].
/// Returns `{acked, trimmed}`.
pub const ACK_SCRIPT: &str = include_str!("../lua/ack.lua");

/// The arguments of [`ACK_SCRIPT`], in its order.
#[derive(Debug)]
pub struct AckArgs<'a> {
    /// KEYS[1]: the stream.
    pub stream: &'a str,
    /// KEYS[2]: the dead-letter stream.
    pub dead_letter_stream: &'a str,
    /// KEYS[3]: the metrics hash (`rows_inserted` is counted there).
    pub metrics: &'a str,
    /// ARGV[1]: the consumer group.
    pub group: &'a str,
    /// ARGV[2]: rows inserted by this pass.
    pub rows: usize,
    /// ARGV[3]: keep acknowledged entries this long (0: trim all acknowledged).
    pub retention_ms: u64,
    /// ARGV[4]: the number of ids that follow, then the ids to XACK.
    pub done: &'a [String],
    /// Then (source id, reason, payload) triples to dead-letter and XACK.
    pub dead: &'a [DeadLetter],
}

impl AckArgs<'_> {
    /// The `EVAL` call.
    pub fn call(&self) -> RestCall {
        let (rows, retention, n) = (
            self.rows.to_string(),
            self.retention_ms.to_string(),
            self.done.len().to_string(),
        );
        let mut args: Vec<&str> = vec![
            "EVAL",
            ACK_SCRIPT,
            "3",
            self.stream,
            self.dead_letter_stream,
            self.metrics,
            self.group,
            &rows,
            &retention,
            &n,
        ];
        args.extend(self.done.iter().map(String::as_str));
        for d in self.dead {
            args.extend([d.source_id.as_str(), d.reason.as_str(), d.payload.as_str()]);
        }
        command(&args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The script reads its arguments by position; this pins the positions it reads to
    /// the struct's order.
    #[test]
    fn the_script_reads_the_arguments_where_the_struct_writes_them() {
        let dead = [DeadLetter {
            source_id: "9-0".into(),
            reason: "why".into(),
            payload: "{}".into(),
        }];
        let done = ["1-0".to_string(), "2-0".to_string()];
        let call = AckArgs {
            stream: "s",
            dead_letter_stream: "s:invalid",
            metrics: "s:metrics",
            group: "g",
            rows: 7,
            retention_ms: 60,
            done: &done,
            dead: &dead,
        }
        .call();
        let v: Vec<String> = serde_json::from_str(&call.body).unwrap();
        let argv = &v[6..];
        assert_eq!(&v[3..6], ["s", "s:invalid", "s:metrics"]);
        assert_eq!(
            argv,
            ["g", "7", "60", "2", "1-0", "2-0", "9-0", "why", "{}"]
        );
        for (use_, what) in [
            ("local group = ARGV[1]", "group"),
            ("tonumber(ARGV[2])", "rows"),
            ("tonumber(ARGV[3])", "retention"),
            ("local n = tonumber(ARGV[4])", "id count"),
            ("unpack(ARGV, 5, 4 + n)", "ids"),
            ("local i = 5 + n", "dead letters"),
        ] {
            assert!(
                ACK_SCRIPT.contains(use_),
                "ack.lua no longer reads {what} as {use_}"
            );
        }
    }
}
