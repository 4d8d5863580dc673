//! The ingest script's arguments, in the order `lua/ingest.lua` reads them. One call
//! carries a group of requests (one request is a group of one): each request is a
//! [`Member`], written by its own request as it is planned (its events escaped straight
//! into it between [`begin`] and [`end`]); [`call`] puts members together into the one
//! `EVALSHA` (or `EVAL`, after a `NOSCRIPT`).

use super::{CommandWriter, INGEST_SCRIPT, RestCall};

/// SHA-1 of [`INGEST_SCRIPT`], the name `EVALSHA` calls it by (pinned by a test).
pub const INGEST_SCRIPT_SHA: &str = "55dc4c5c80bb0fddb611706498130645782f3f32";

/// Arguments each member has in the script (`F` in ingest.lua).
pub const MEMBER_ARGS: usize = 14;

/// The keys every member of a group shares (one stream).
#[derive(Debug)]
pub struct GroupKeys<'a> {
    /// KEYS[1]: the stream.
    pub stream: &'a str,
    /// KEYS[2]: the dead-letter stream (listed rejects).
    pub dead_letter_stream: &'a str,
    /// KEYS[3]: the retry markers, a sorted set scored by expiry.
    pub seen: &'a str,
    /// KEYS[4]: the drain lock.
    pub lock: &'a str,
    /// KEYS[5]: the drain-wanted flag.
    pub wanted: &'a str,
    /// KEYS[6]: the metrics hash.
    pub metrics: &'a str,
}

/// The keys of one shard's group, named after its stream (see [`crate::stream::shard`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardKeys {
    stream: String,
    dead_letter_stream: String,
    seen: String,
    lock: String,
    wanted: String,
    metrics: String,
}

impl ShardKeys {
    /// The keys of the shard whose stream is `stream`.
    pub fn of(stream: &str) -> Self {
        let (lock, wanted) = super::drain_keys(stream);
        Self {
            stream: stream.to_string(),
            dead_letter_stream: super::dead_letter_stream(stream),
            seen: super::seen_key(stream),
            lock,
            wanted,
            metrics: crate::metrics::hash_key(stream),
        }
    }

    /// The shard's stream.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// As the script's group keys.
    pub fn group(&self) -> GroupKeys<'_> {
        GroupKeys {
            stream: &self.stream,
            dead_letter_stream: &self.dead_letter_stream,
            seen: &self.seen,
            lock: &self.lock,
            wanted: &self.wanted,
            metrics: &self.metrics,
        }
    }
}

/// A member's own keys.
#[derive(Debug)]
pub struct MemberKeys<'a> {
    /// This client's rate-limit counter.
    pub rate_limit: &'a str,
    /// The v2 signature's nonce; unsigned, the rate-limit key again (the script touches
    /// this slot only for a v2 signature, and a key shared by every call would serialize
    /// them all under Upstash's key locking).
    pub nonce: &'a str,
}

/// A member's arguments known before its events are read.
#[derive(Debug)]
pub struct MemberHead<'a> {
    /// Requests per window (0: no limit).
    pub max_requests: u64,
    /// The rate-limit window.
    pub window_ms: u64,
    /// How long a v2 signature stays used (0: unsigned or v1).
    pub nonce_ttl_ms: u64,
    /// Offer the drain lock with this TTL (0: not this time).
    pub lock_ttl_ms: u64,
    /// The write key's id.
    pub write_key_id: &'a str,
    /// The request id (also the lock's value).
    pub request_id: &'a str,
    /// Arrival time, Unix ms.
    pub received_at_ms: i64,
}

/// A member's arguments known once its events are read.
#[derive(Debug)]
pub struct MemberTail<'a> {
    /// Events appended.
    pub accepted: usize,
    /// Events rejected (listed or not).
    pub rejected: usize,
    /// The listed rejects as a JSON array ('' = none).
    pub rejects_json: &'a str,
    /// (field, increment) pairs for the metrics hash, when flushed now.
    pub metrics: &'a [(String, u64)],
    /// The retry marker (hex) and its score: when it expires, Unix µs, with a random part
    /// below the ms so that the score is this request's own (see ingest.lua).
    pub marker: Option<(&'a str, i64)>,
    /// Drop markers that expired before this time (Unix µs; 0: not this time).
    pub trim_before_us: i64,
}

/// A member being written: its events go into [`MemberWriter::events`].
#[derive(Debug)]
pub struct MemberWriter {
    keys: String,
    args: CommandWriter,
}

impl MemberWriter {
    /// The open events argument: write the events JSON array into it with
    /// [`CommandWriter::piece`].
    pub fn events(&mut self) -> &mut CommandWriter {
        &mut self.args
    }
}

/// One request's part of an ingest call, as JSON fragments ready to be joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    group: String,
    keys: String,
    args: String,
    trim_before_us: i64,
    events: usize,
}

impl Member {
    /// Events this member appends.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Bytes this member adds to a call.
    pub fn len(&self) -> usize {
        self.keys.len() + self.args.len() + 2
    }

    /// Whether the member is empty (never: it always has its arguments).
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Whether `other` goes to the same stream (may share a call).
    pub fn same_group(&self, other: &Self) -> bool {
        self.group == other.group
    }

    /// Grow the member to `bytes` (tests of size limits).
    #[cfg(test)]
    pub(crate) fn pad_for_test(&mut self, bytes: usize) {
        self.args.push_str(&" ".repeat(bytes));
    }

    /// This member alone, as a call (`EVALSHA`, first attempt).
    pub fn call(&self) -> RestCall {
        call(&[self], false, 1)
    }
}

/// Write the member's own keys and head, and open its events argument: the caller writes
/// the events into [`MemberWriter::events`], then calls [`end`] with the group's keys
/// (the shard is known only once the events are read: see [`crate::stream::shard`]).
pub fn begin(keys: &MemberKeys<'_>, head: &MemberHead<'_>, capacity: usize) -> MemberWriter {
    let mut k = CommandWriter::with_capacity(keys.rate_limit.len() + keys.nonce.len() + 8);
    k.arg(keys.rate_limit);
    k.arg(keys.nonce);
    let mut w = CommandWriter::with_capacity(capacity);
    w.arg(&head.max_requests.to_string());
    w.arg(&head.window_ms.to_string());
    w.arg(&head.nonce_ttl_ms.to_string());
    w.arg(&head.lock_ttl_ms.to_string());
    w.arg(head.write_key_id);
    w.arg(head.request_id);
    w.arg(&head.received_at_ms.to_string());
    w.begin_arg();
    MemberWriter {
        keys: k.into_fragment(),
        args: w,
    }
}

/// Close the events argument, write the tail, and name the group (the shard's keys) the
/// member belongs to.
pub fn end(m: MemberWriter, group: &GroupKeys<'_>, tail: &MemberTail<'_>) -> Member {
    let MemberWriter { keys, args: mut w } = m;
    w.end_arg();
    w.arg(&tail.accepted.to_string());
    w.arg(&tail.rejected.to_string());
    w.arg(tail.rejects_json);
    w.begin_arg();
    for (field, n) in tail.metrics {
        // Field names are route|status|... labels: no newline in them.
        w.piece(&format!("{field}\n{n}\n"));
    }
    w.end_arg();
    let (marker, expiry) = tail.marker.unwrap_or(("", 0));
    w.arg(marker);
    w.arg(&expiry.to_string());
    let mut g = CommandWriter::with_capacity(128);
    for k in [
        group.stream,
        group.dead_letter_stream,
        group.seen,
        group.lock,
        group.wanted,
        group.metrics,
    ] {
        g.arg(k);
    }
    Member {
        group: g.into_fragment(),
        keys,
        args: w.into_fragment(),
        trim_before_us: tail.trim_before_us,
        events: tail.accepted,
    }
}

/// The one call for these members (all of the same group): `EVALSHA`, or `EVAL` with the
/// script's text when `with_script` (after a `NOSCRIPT`). `attempt` is 1, and 2 when a
/// group's call is sent again by another member (see [`super::linger`]).
pub fn call(members: &[&Member], with_script: bool, attempt: u32) -> RestCall {
    let size: usize = members.iter().map(|m| m.len()).sum();
    let head = if with_script {
        INGEST_SCRIPT.len() + 64
    } else {
        64
    };
    let mut body = String::with_capacity(size + head + 256);
    body.push('[');
    if with_script {
        body.push_str("\"EVAL\",");
        crate::event::push_json_str(&mut body, INGEST_SCRIPT);
    } else {
        body.push_str("\"EVALSHA\",\"");
        body.push_str(INGEST_SCRIPT_SHA);
        body.push('"');
    }
    body.push_str(&format!(",\"{}\"", 6 + 2 * members.len()));
    if let Some(first) = members.first() {
        body.push(',');
        body.push_str(&first.group);
    }
    for m in members {
        body.push(',');
        body.push_str(&m.keys);
    }
    // The first member decides the trim: one call in 64, not one in 64 of the members.
    let trim = members.first().map_or(0, |m| m.trim_before_us);
    body.push_str(&format!(",\"{}\",\"{trim}\",\"{attempt}\"", members.len()));
    for m in members {
        body.push(',');
        body.push_str(&m.args);
    }
    body.push(']');
    RestCall { path: "/", body }
}

/// A written ingest call read back by name (tests and tools): the inverse of
/// [`begin`] + [`end`] + [`call`], for one member or several.
#[derive(Debug)]
pub struct IngestView {
    /// Every argument after the script (or its SHA).
    pub args: Vec<String>,
}

impl IngestView {
    /// Parse a call's body.
    pub fn parse(call: &RestCall) -> Option<Self> {
        let args: Vec<String> = serde_json::from_str(&call.body).ok()?;
        let ours = match args.first()?.as_str() {
            "EVAL" => args.get(1)? == INGEST_SCRIPT,
            "EVALSHA" => args.get(1)? == INGEST_SCRIPT_SHA,
            _ => false,
        };
        ours.then_some(Self { args })
    }

    fn get(&self, i: usize) -> &str {
        self.args.get(i).map_or("", String::as_str)
    }

    /// Whether the script is called by its SHA.
    pub fn by_sha(&self) -> bool {
        self.get(0) == "EVALSHA"
    }

    /// KEYS[n], 1-based as in Lua.
    pub fn key(&self, n: usize) -> &str {
        self.get(2 + n)
    }

    fn key_count(&self) -> usize {
        self.get(2).parse().unwrap_or(0)
    }

    /// ARGV[n], 1-based as in Lua.
    pub fn argv(&self, n: usize) -> &str {
        self.get(2 + self.key_count() + n)
    }

    /// Members in the call.
    pub fn members(&self) -> usize {
        self.argv(1).parse().unwrap_or(0)
    }

    /// The trim argument (0: no trim).
    pub fn trim_before_us(&self) -> i64 {
        self.argv(2).parse().unwrap_or(0)
    }

    /// The attempt (1, or 2 for a group sent again).
    pub fn attempt(&self) -> u32 {
        self.argv(3).parse().unwrap_or(0)
    }

    /// Member `m`'s (1-based) view.
    pub fn member(&self, m: usize) -> MemberView<'_> {
        MemberView { v: self, m }
    }

    /// The first member's view (a one-request call).
    pub fn first(&self) -> MemberView<'_> {
        self.member(1)
    }
}

/// A one-request call read as its member.
impl<'a> From<&'a IngestView> for MemberView<'a> {
    fn from(v: &'a IngestView) -> Self {
        v.first()
    }
}

macro_rules! first_member {
    ($($name:ident -> $t:ty),+ $(,)?) => {
        impl IngestView {
            $(
                #[doc = concat!("The first member's `", stringify!($name), "` (a one-request call).")]
                pub fn $name(&self) -> $t {
                    self.first().$name()
                }
            )+
        }
    };
}

first_member! {
    rate_limit -> &str, nonce -> &str, nonce_ttl_ms -> u64, lock_ttl_ms -> u64,
    events -> &str, accepted -> &str, rejected -> &str, rejects -> &str,
    metrics -> Vec<(String, String)>, marker -> &str, marker_score -> i64,
}

/// One member of an [`IngestView`].
#[derive(Debug, Clone, Copy)]
pub struct MemberView<'a> {
    v: &'a IngestView,
    m: usize,
}

impl<'a> MemberView<'a> {
    /// The member's argument `i` (1..=14, as `arg(m, i)` in ingest.lua).
    pub fn arg(&self, i: usize) -> &'a str {
        self.v.argv(3 + (self.m - 1) * MEMBER_ARGS + i)
    }
    /// The rate-limit key.
    pub fn rate_limit(&self) -> &'a str {
        self.v.key(6 + 2 * self.m - 1)
    }
    /// The nonce key.
    pub fn nonce(&self) -> &'a str {
        self.v.key(6 + 2 * self.m)
    }
    /// The nonce TTL, ms.
    pub fn nonce_ttl_ms(&self) -> u64 {
        self.arg(3).parse().unwrap_or(0)
    }
    /// The lock TTL offered, ms.
    pub fn lock_ttl_ms(&self) -> u64 {
        self.arg(4).parse().unwrap_or(0)
    }
    /// The write key id.
    pub fn write_key(&self) -> &'a str {
        self.arg(5)
    }
    /// The request id.
    pub fn request_id(&self) -> &'a str {
        self.arg(6)
    }
    /// The events JSON.
    pub fn events(&self) -> &'a str {
        self.arg(8)
    }
    /// The accepted count.
    pub fn accepted(&self) -> &'a str {
        self.arg(9)
    }
    /// The rejected count.
    pub fn rejected(&self) -> &'a str {
        self.arg(10)
    }
    /// The listed rejects JSON.
    pub fn rejects(&self) -> &'a str {
        self.arg(11)
    }
    /// The metrics pairs.
    pub fn metrics(&self) -> Vec<(String, String)> {
        let lines: Vec<&str> = self.arg(12).split('\n').collect();
        lines
            .chunks(2)
            .filter_map(|p| match p {
                [f, n] if !f.is_empty() => Some((f.to_string(), n.to_string())),
                _ => None,
            })
            .collect()
    }
    /// The retry marker ('' = none).
    pub fn marker(&self) -> &'a str {
        self.arg(13)
    }
    /// The marker's score: its expiry, Unix µs.
    pub fn marker_score(&self) -> i64 {
        self.arg(14).parse().unwrap_or(0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A one-event member of request `rid` on stream `s` (also the group commit's tests).
    pub(crate) fn member(rid: &str, marker: Option<(&str, i64)>, trim: i64) -> Member {
        member_on("s", rid, marker, trim)
    }

    /// [`member`] on the shard whose stream is `stream`.
    pub(crate) fn member_on(
        stream: &str,
        rid: &str,
        marker: Option<(&str, i64)>,
        trim: i64,
    ) -> Member {
        let shard = ShardKeys::of(stream);
        let group = shard.group();
        let rl = format!("s:rl:k:{rid}");
        let keys = MemberKeys {
            rate_limit: &rl,
            nonce: "s:sig:-",
        };
        let head = MemberHead {
            max_requests: 100,
            window_ms: 60_000,
            nonce_ttl_ms: 0,
            lock_ttl_ms: 1000,
            write_key_id: "kid",
            request_id: rid,
            received_at_ms: 5,
        };
        let mut w = begin(&keys, &head, 0);
        w.events().piece("[{\"a\":1}]");
        let metrics = [("requests|batch|200".to_string(), 2)];
        let tail = MemberTail {
            accepted: 1,
            rejected: 0,
            rejects_json: "",
            metrics: &metrics,
            marker,
            trim_before_us: trim,
        };
        end(w, &group, &tail)
    }

    #[test]
    fn the_script_reads_each_argument_where_the_writer_puts_it() {
        let marker = "ab".repeat(16);
        let a = member("r1", Some((&marker, 900_000)), 0);
        let b = member("r2", None, 77);
        let call = call(&[&a, &b], false, 1);
        let v = IngestView::parse(&call).unwrap();
        assert!(v.by_sha());
        assert_eq!(v.key(1), "s");
        assert_eq!(v.key(3), "s:seen");
        assert_eq!(v.key(6), "s:metrics");
        assert_eq!(v.members(), 2);
        assert_eq!(v.trim_before_us(), 0, "the first member decides the trim");
        assert_eq!(v.attempt(), 1);
        let again = IngestView::parse(&super::call(&[&b, &a], false, 2)).unwrap();
        assert_eq!((again.trim_before_us(), again.attempt()), (77, 2));
        let (one, two) = (v.member(1), v.member(2));
        assert_eq!(
            (one.rate_limit(), two.rate_limit()),
            ("s:rl:k:r1", "s:rl:k:r2")
        );
        assert_eq!(one.nonce(), "s:sig:-");
        assert_eq!(one.arg(1), "100");
        assert_eq!(one.lock_ttl_ms(), 1000);
        assert_eq!(
            (one.write_key(), one.request_id(), one.arg(7)),
            ("kid", "r1", "5")
        );
        assert_eq!(two.request_id(), "r2");
        assert_eq!(one.events(), "[{\"a\":1}]");
        assert_eq!(
            (one.accepted(), one.rejected(), one.rejects()),
            ("1", "0", "")
        );
        assert_eq!(one.metrics(), [("requests|batch|200".into(), "2".into())]);
        assert_eq!(
            (one.marker(), one.marker_score()),
            (marker.as_str(), 900_000)
        );
        assert_eq!((two.marker(), two.marker_score()), ("", 0));
        // The Lua reads its arguments at these places (see the header of ingest.lua).
        for line in [
            "local F = 14",
            "local function arg(m, i) return ARGV[3 + (m - 1) * F + i] end",
            "local attempt = tonumber(ARGV[3])",
            "local k = KEYS[6 + 2 * m - 1]",
            "KEYS[6 + 2 * m], '1', 'NX'",
            "if ARGV[2] ~= '0' then redis.call('ZREMRANGEBYSCORE', seen",
        ] {
            assert!(
                INGEST_SCRIPT.contains(line),
                "ingest.lua no longer reads {line}"
            );
        }
        assert_eq!(MEMBER_ARGS, 14);
    }

    #[test]
    fn with_the_script_the_call_is_an_eval_of_the_same_arguments() {
        let a = member("r1", None, 0);
        let by_sha = IngestView::parse(&a.call()).unwrap();
        let with = IngestView::parse(&call(&[&a], true, 1)).unwrap();
        assert!(!with.by_sha());
        assert_eq!(by_sha.args.get(2..), with.args.get(2..));
    }

    #[test]
    fn the_sha_names_the_script() {
        use sha1_smol::Sha1;
        assert_eq!(
            Sha1::from(INGEST_SCRIPT).digest().to_string(),
            INGEST_SCRIPT_SHA,
            "update INGEST_SCRIPT_SHA after editing ingest.lua"
        );
    }
}
