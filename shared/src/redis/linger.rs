//! Group commit: the requests an isolate receives within `LINGER_MS` share one Upstash
//! call (the Kafka producer's linger, at the edge, with the ack kept per request).
//!
//! workerd ties I/O to the request that started it, and a request that waits only on a
//! promise another request will settle is cancelled ("Promise will never complete"). So
//! no member ever waits on another's future: each polls the shared group with its own
//! timer, and whichever member finds the group due sends it with its own I/O. If the
//! sender's request goes away mid-call (its client disconnected and workerd dropped its
//! tasks), nothing answers; after [`TAKEOVER_MS`] (longer than a live sender's own
//! backend deadline, so a slow Upstash is not answered with a storm of repeats) the next
//! member to look sends the call again, once, as attempt 2; if that is not answered
//! within [`GIVE_UP_MS`] either, every member still waiting is answered 503. The repeat
//! is harmless: in a group every member carries a retry marker (its messageIds' hash, or
//! a one-off id), and the script looks up the markers of a repeated call before anything
//! else, so what attempt 1 stored comes back `duplicate` (200) without a second append, a
//! second rate-limit count or a refused nonce; each attempt scores its markers apart, so
//! an attempt 1 that reaches Redis after attempt 2 also finds its markers taken.
//!
//! Each member is answered from its own slot of the script's reply: one member's rate
//! limit, replay or duplicate never touches another's, and bad input never reaches a group
//! (it is answered before any call).

use super::ingest::{Member, call};
use super::{ErrorCode, IngestOutcome, RestError, parse_ingest, parse_outcome};
use crate::io::Io;
use std::cell::RefCell;
use std::rc::Rc;

/// How often a member waiting on a sent group looks at it, ms.
pub const POLL_MS: u64 = 1;
/// How often a member of a group still open looks at it, ms: a group can be filled and
/// sent before its linger is over, and its members should not sleep through that.
pub const OPEN_POLL_MS: u64 = 4;
/// After this long without an answer, a waiting member sends the group's call again: more
/// than a platform's backend deadline (10 s on Workers), so only a sender that went away
/// is taken over, never a slow one.
pub const TAKEOVER_MS: i64 = 11_000;
/// After the repeat, this long without an answer fails every member still waiting (503).
pub const GIVE_UP_MS: i64 = 11_000;
/// Attempts of one group's call: the first and at most one repeat.
pub const MAX_ATTEMPTS: u32 = 2;
/// Most bytes of members in one call (Upstash refuses requests over 10 MB; a group stays
/// well under, and a member over half of it is sent alone, at once).
pub const MAX_GROUP_BYTES: usize = 1_000_000;
/// A group holding this many bytes is full and sent at once, linger or not (Kafka's
/// `batch.size`): a batch request already spreads its call over many events, and waiting
/// would only add latency.
pub const FULL_GROUP_BYTES: usize = 64 * 1024;
/// A group holding this many events is full too: its ~4 commands are already under 0.125
/// per event, so a batch (an SDK's 100 small events, one request in flight) never waits
/// for company it does not need.
pub const FULL_GROUP_EVENTS: usize = 32;
/// Most members in one call (each adds two keys and 14 arguments to the script).
pub const MAX_MEMBERS: usize = 256;
/// How long the one-off marker of a grouped request without messageIds lives: long enough
/// to cover a takeover's repeat (attempt 2 is sent at most [`TAKEOVER_MS`] after the first).
pub const ONE_OFF_MARKER_MS: i64 = 60_000;

/// One member's answer.
pub type Answer = Result<IngestOutcome, RestError>;

/// Send these members' call (`EVALSHA`; `EVAL` with the script after a `NOSCRIPT`) and
/// split the reply into one answer per member.
pub async fn send<I: Io>(io: &I, members: &[&Member]) -> Vec<Answer> {
    send_built(io, members.len(), |with_script| {
        call(members, with_script, 1)
    })
    .await
}

/// [`send`] for a call built on demand (`build(with_script)`), so a group's members are
/// borrowed only while it is written, never across the await.
async fn send_built<I: Io>(
    io: &I,
    n: usize,
    build: impl Fn(bool) -> crate::io::RestCall,
) -> Vec<Answer> {
    let mut outcome = parse_outcome(io.redis(&build(false)).await);
    if matches!(&outcome, Err(e) if e.code() == Some(ErrorCode::NoScript)) {
        outcome = parse_outcome(io.redis(&build(true)).await);
    }
    split(outcome, n)
}

/// One answer per member from the script's reply (or the call's failure, for each).
pub fn split(outcome: Result<serde_json::Value, RestError>, n: usize) -> Vec<Answer> {
    let all = |e: RestError| vec![Err(e); n];
    match outcome {
        Ok(serde_json::Value::Array(replies)) if replies.len() == n => {
            replies.iter().map(parse_ingest).collect()
        }
        Ok(other) => {
            let text = other.to_string();
            let cut = text.char_indices().nth(200).map_or(text.len(), |(i, _)| i);
            all(RestError::Unavailable(format!(
                "unexpected script reply for {n} requests: {}",
                text.get(..cut).unwrap_or_default()
            )))
        }
        Err(e) => all(e),
    }
}

#[derive(Debug)]
enum Slot {
    Waiting,
    Ready(Answer),
    Taken,
}

#[derive(Debug)]
struct Group {
    members: Vec<Member>,
    slots: Vec<Slot>,
    bytes: usize,
    events: usize,
    closes_at: i64,
    sent_at: Option<i64>,
    attempts: u32,
}

enum Step {
    Done(Answer),
    Wait(u64),
    Send(u32),
}

impl Group {
    fn step(&mut self, index: usize, now: i64) -> Step {
        if let Some(slot) = self.slots.get_mut(index)
            && matches!(slot, Slot::Ready(_))
            && let Slot::Ready(answer) = std::mem::replace(slot, Slot::Taken)
        {
            return Step::Done(answer);
        }
        match self.sent_at {
            None if now >= self.closes_at => self.send(now),
            None => Step::Wait(
                u64::try_from(self.closes_at - now)
                    .unwrap_or(1)
                    .min(OPEN_POLL_MS),
            ),
            Some(at) if self.attempts < MAX_ATTEMPTS && now - at >= TAKEOVER_MS => self.send(now),
            Some(at) if self.attempts >= MAX_ATTEMPTS && now - at >= GIVE_UP_MS => {
                let n = self.slots.len();
                self.fill(vec![
                    Err(RestError::Unavailable(format!(
                        "the group's call was not answered (sent {MAX_ATTEMPTS} times)"
                    )));
                    n
                ]);
                self.step(index, now)
            }
            Some(_) => Step::Wait(POLL_MS),
        }
    }

    fn send(&mut self, now: i64) -> Step {
        self.sent_at = Some(now);
        self.attempts += 1;
        Step::Send(self.attempts)
    }

    fn fill(&mut self, answers: Vec<Answer>) {
        for (slot, answer) in self.slots.iter_mut().zip(answers) {
            if matches!(slot, Slot::Waiting) {
                *slot = Slot::Ready(answer);
            }
        }
    }
}

/// An isolate's open groups (Workers: one per isolate, shared by its concurrent
/// requests): at most one per shard stream (`STREAM_SHARDS`), since a call touches one
/// shard's keys.
#[derive(Debug, Default)]
pub struct Linger {
    open: RefCell<Vec<Rc<RefCell<Group>>>>,
}

impl Linger {
    /// Submit one request's member and wait for its answer: alone at once when `linger_ms`
    /// is 0 or the member is large, else in the group open now (or a new one).
    pub async fn submit<I: Io>(&self, io: &I, member: Member, linger_ms: u64) -> Answer {
        if linger_ms == 0 || member.len() > MAX_GROUP_BYTES / 2 {
            return alone(io, &member).await;
        }
        let (group, index) = self.join(member, io.now_ms(), linger_ms);
        loop {
            let step = group.borrow_mut().step(index, io.now_ms());
            match step {
                Step::Done(answer) => return answer,
                Step::Wait(ms) => io.sleep(ms.max(1)).await,
                Step::Send(attempt) => {
                    self.close(&group);
                    // The call is built while borrowed and sent after: no borrow is held
                    // across the await, so the other members keep polling.
                    let n = group.borrow().members.len();
                    let answers = send_built(io, n, |with_script| {
                        let g = group.borrow();
                        let refs: Vec<&Member> = g.members.iter().collect();
                        call(&refs, with_script, attempt)
                    })
                    .await;
                    group.borrow_mut().fill(answers);
                }
            }
        }
    }

    fn join(&self, member: Member, now: i64, linger_ms: u64) -> (Rc<RefCell<Group>>, usize) {
        let mut open = self.open.borrow_mut();
        let same = open.iter().position(|g| {
            g.borrow()
                .members
                .first()
                .is_some_and(|m| m.same_group(&member))
        });
        if let Some(group) = same.and_then(|i| open.get(i)) {
            let mut g = group.borrow_mut();
            let fits = g.sent_at.is_none()
                && now < g.closes_at
                && g.bytes + member.len() <= MAX_GROUP_BYTES
                && g.members.len() < MAX_MEMBERS;
            if fits {
                g.bytes += member.len();
                g.events += member.events();
                g.members.push(member);
                g.slots.push(Slot::Waiting);
                if g.bytes >= FULL_GROUP_BYTES || g.events >= FULL_GROUP_EVENTS {
                    g.closes_at = now;
                }
                let index = g.members.len() - 1;
                drop(g);
                return (group.clone(), index);
            }
        }
        // A group that cannot take this member stays with its members (one of them sends
        // it when due); the new group is the shard's open one from now on.
        if let Some(i) = same {
            open.swap_remove(i);
        }
        let full = member.len() >= FULL_GROUP_BYTES || member.events() >= FULL_GROUP_EVENTS;
        let group = Rc::new(RefCell::new(Group {
            bytes: member.len(),
            events: member.events(),
            members: vec![member],
            slots: vec![Slot::Waiting],
            attempts: 0,
            closes_at: if full {
                now
            } else {
                now.saturating_add(i64::try_from(linger_ms).unwrap_or(i64::MAX))
            },
            sent_at: None,
        }));
        open.push(group.clone());
        (group, 0)
    }

    fn close(&self, group: &Rc<RefCell<Group>>) {
        self.open.borrow_mut().retain(|g| !Rc::ptr_eq(g, group));
    }
}

/// One member's call, alone.
pub async fn alone<I: Io>(io: &I, member: &Member) -> Answer {
    only(send(io, &[member]).await)
}

/// The answer of a one-member call (from [`send`] or [`split`] with `n` = 1).
pub fn only(mut answers: Vec<Answer>) -> Answer {
    answers
        .pop()
        .unwrap_or_else(|| Err(RestError::Unavailable("no reply".into())))
}

#[cfg(test)]
mod tests {
    //! Members run as concurrent futures on a virtual clock: each round polls every live
    //! member once; when none finished, the clock moves 1 ms.
    use super::*;
    use crate::io::{CallOutcome, HttpReply, Request, RestCall};
    use crate::redis::ingest::IngestView;
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    /// A Redis that answers each member by its request id after `latency_ms`, and logs
    /// each call's request ids.
    struct Fake {
        now: Cell<i64>,
        latency_ms: i64,
        calls: RefCell<Vec<Vec<String>>>,
        answer: fn(&str) -> String,
        fail: bool,
        /// The server lost its script cache: `EVALSHA` gets `NOSCRIPT`.
        noscript: bool,
        by_sha: RefCell<Vec<bool>>,
        attempts: RefCell<Vec<u32>>,
        /// Each call's stream (KEYS[1]).
        streams: RefCell<Vec<String>>,
    }

    struct Sleep<'a> {
        now: &'a Cell<i64>,
        until: i64,
    }

    impl Future for Sleep<'_> {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.now.get() >= self.until {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    impl Io for Fake {
        async fn redis(&self, call: &RestCall) -> CallOutcome {
            let v = IngestView::parse(call).expect("an ingest call");
            let ids: Vec<String> = (1..=v.members())
                .map(|m| v.member(m).request_id().to_string())
                .collect();
            self.calls.borrow_mut().push(ids.clone());
            self.by_sha.borrow_mut().push(v.by_sha());
            self.attempts.borrow_mut().push(v.attempt());
            self.streams.borrow_mut().push(v.key(1).to_string());
            self.sleep(u64::try_from(self.latency_ms).unwrap()).await;
            if self.noscript && v.by_sha() {
                return Ok(HttpReply::new(
                    400,
                    r#"{"error":"NOSCRIPT No matching script. Please use EVAL."}"#,
                ));
            }
            if self.fail {
                return Ok(HttpReply::new(503, r#"{"error":"down"}"#));
            }
            let replies: Vec<String> = ids.iter().map(|id| (self.answer)(id)).collect();
            Ok(HttpReply::new(
                200,
                format!(r#"{{"result":[{}]}}"#, replies.join(",")),
            ))
        }
        async fn clickhouse(&self, _: &Request) -> CallOutcome {
            unreachable!()
        }
        fn now_ms(&self) -> i64 {
            self.now.get()
        }
        async fn sleep(&self, ms: u64) {
            Sleep {
                now: &self.now,
                until: self.now.get() + i64::try_from(ms).unwrap(),
            }
            .await
        }
    }

    fn fake(answer: fn(&str) -> String) -> Fake {
        Fake {
            now: Cell::new(1_000),
            latency_ms: 3,
            calls: RefCell::new(Vec::new()),
            answer,
            fail: false,
            noscript: false,
            by_sha: RefCell::new(Vec::new()),
            attempts: RefCell::new(Vec::new()),
            streams: RefCell::new(Vec::new()),
        }
    }

    fn ok(_: &str) -> String {
        r#"["ok","1-0",0]"#.into()
    }

    fn member(rid: &str) -> Member {
        member_on("s", rid)
    }

    fn member_on(stream: &str, rid: &str) -> Member {
        crate::redis::ingest::tests::member_on(stream, rid, Some((rid, 9)), 0)
    }

    type Running<'a> = Vec<(usize, Pin<Box<dyn Future<Output = Answer> + 'a>>)>;

    /// Start member `i` at `arrive[i]` ms; `drop_at` drops member 0's future (its client
    /// went away) at that time. Returns each member's answer (None: dropped).
    fn run(
        io: &Fake,
        linger: &Linger,
        arrive: &[i64],
        linger_ms: u64,
        drop_at: Option<i64>,
    ) -> Vec<Option<Answer>> {
        run_on(
            io,
            linger,
            arrive,
            &vec!["s"; arrive.len()],
            linger_ms,
            drop_at,
        )
    }

    /// [`run`] with member `i` on the shard whose stream is `streams[i]`.
    fn run_on(
        io: &Fake,
        linger: &Linger,
        arrive: &[i64],
        streams: &[&str],
        linger_ms: u64,
        drop_at: Option<i64>,
    ) -> Vec<Option<Answer>> {
        let mut answers: Vec<Option<Answer>> = arrive.iter().map(|_| None).collect();
        let mut running: Running<'_> = Vec::new();
        let mut started = vec![false; arrive.len()];
        let mut cx = Context::from_waker(Waker::noop());
        let start = io.now.get();
        for _ in 0..100_000 {
            let now = io.now.get() - start;
            for (i, at) in arrive.iter().enumerate() {
                if !started[i] && now >= *at {
                    started[i] = true;
                    let rid = format!("r{i}");
                    let m = member_on(streams[i], &rid);
                    running.push((i, Box::pin(linger.submit(io, m, linger_ms))));
                }
            }
            if drop_at.is_some_and(|t| now >= t) {
                running.retain(|(i, _)| *i != 0);
            }
            running.retain_mut(|(i, f)| match f.as_mut().poll(&mut cx) {
                Poll::Ready(a) => {
                    answers[*i] = Some(a);
                    false
                }
                Poll::Pending => true,
            });
            if running.is_empty() && started.iter().all(|s| *s) {
                return answers;
            }
            io.now.set(io.now.get() + 1);
        }
        panic!("members never finished");
    }

    #[test]
    fn requests_within_the_linger_share_one_call_and_each_gets_its_own_answer() {
        let io = fake(|id| match id {
            "r1" => r#"["limited",500]"#.into(),
            "r2" => r#"["duplicate",""]"#.into(),
            _ => r#"["ok","7-0",0]"#.into(),
        });
        let linger = Linger::default();
        let answers = run(&io, &linger, &[0, 1, 2, 3], 5, None);
        assert_eq!(*io.calls.borrow(), [vec!["r0", "r1", "r2", "r3"]]);
        assert_eq!(
            answers[0],
            Some(Ok(IngestOutcome::Appended("7-0".into(), false)))
        );
        assert_eq!(answers[1], Some(Ok(IngestOutcome::Limited(500))));
        assert_eq!(
            answers[2],
            Some(Ok(IngestOutcome::Duplicate(String::new())))
        );
        assert_eq!(
            answers[3],
            Some(Ok(IngestOutcome::Appended("7-0".into(), false)))
        );
    }

    #[test]
    fn each_shard_has_its_own_open_group_and_a_call_touches_one_shard() {
        let io = fake(ok);
        let linger = Linger::default();
        let answers = run_on(
            &io,
            &linger,
            &[0, 1, 2, 3, 4],
            &["s", "s:1", "s", "s:2", "s:1"],
            5,
            None,
        );
        assert!(answers.iter().all(|a| matches!(a, Some(Ok(_)))));
        let mut calls: Vec<(String, Vec<String>)> = io
            .streams
            .borrow()
            .iter()
            .cloned()
            .zip(io.calls.borrow().iter().cloned())
            .collect();
        calls.sort();
        assert_eq!(
            calls,
            [
                ("s".to_string(), vec!["r0".to_string(), "r2".to_string()]),
                ("s:1".to_string(), vec!["r1".to_string(), "r4".to_string()]),
                ("s:2".to_string(), vec!["r3".to_string()]),
            ]
        );
        assert!(linger.open.borrow().is_empty(), "sent groups are closed");
    }

    #[test]
    fn a_request_after_the_linger_starts_the_next_group() {
        let io = fake(ok);
        let linger = Linger::default();
        run(&io, &linger, &[0, 2, 6, 7], 5, None);
        assert_eq!(
            *io.calls.borrow(),
            [vec!["r0", "r1"], vec!["r2", "r3"]],
            "r2 arrives after the first group closed (5 ms)"
        );
    }

    #[test]
    fn linger_zero_is_one_call_per_request_at_once() {
        let io = fake(ok);
        let linger = Linger::default();
        let answers = run(&io, &linger, &[0, 0, 0], 0, None);
        assert_eq!(io.calls.borrow().len(), 3);
        assert!(answers.iter().all(|a| matches!(a, Some(Ok(_)))));
    }

    #[test]
    fn a_redis_failure_fails_every_member_of_the_group_and_nothing_else() {
        let mut io = fake(ok);
        io.fail = true;
        let linger = Linger::default();
        let answers = run(&io, &linger, &[0, 1, 2], 5, None);
        assert_eq!(io.calls.borrow().len(), 1);
        for a in &answers {
            assert!(matches!(a, Some(Err(RestError::Unavailable(_)))), "{a:?}");
        }
        // The next group is not poisoned by the failed one.
        io.fail = false;
        let answers = run(&io, &linger, &[0, 1], 5, None);
        assert!(answers.iter().all(|a| matches!(a, Some(Ok(_)))));
    }

    #[test]
    fn when_the_sender_goes_away_mid_call_another_member_sends_the_group_again_once() {
        let mut io = fake(ok);
        io.latency_ms = 50;
        let linger = Linger::default();
        // r0 sends at 5 ms (the linger) and is dropped at 10 ms, its call unanswered.
        let answers = run(&io, &linger, &[0, 1, 2], 5, Some(10));
        let calls = io.calls.borrow();
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0], calls[1], "the same members");
        assert_eq!(*io.attempts.borrow(), [1, 2], "the repeat says it is one");
        assert!(answers[0].is_none());
        assert!(matches!(answers[1], Some(Ok(_))) && matches!(answers[2], Some(Ok(_))));
    }

    #[test]
    fn a_slow_sender_is_waited_for_not_taken_over() {
        let mut io = fake(ok);
        io.latency_ms = 9_000; // under the platform's 10 s deadline
        let linger = Linger::default();
        let answers = run(&io, &linger, &[0, 1, 2], 5, None);
        assert_eq!(
            io.calls.borrow().len(),
            1,
            "no repeat while the sender waits"
        );
        assert!(answers.iter().all(|a| matches!(a, Some(Ok(_)))));
    }

    #[test]
    fn when_the_repeat_is_not_answered_either_every_waiting_member_gets_503() {
        let mut io = fake(ok);
        io.latency_ms = 1_000_000; // never, as far as the members can tell
        let linger = Linger::default();
        // r0 sends and goes away; r1 repeats; r1 goes on waiting on its own call, and r2
        // is answered when the repeat's time is up.
        let mut cx = Context::from_waker(Waker::noop());
        let mut members: Vec<Pin<Box<dyn Future<Output = Answer> + '_>>> = (0..3)
            .map(|i| {
                Box::pin(linger.submit(&io, member(&format!("r{i}")), 5))
                    as Pin<Box<dyn Future<Output = Answer>>>
            })
            .collect();
        let mut done = None;
        for _ in 0..(TAKEOVER_MS + GIVE_UP_MS + 100) {
            for (i, f) in members.iter_mut().enumerate() {
                if i == 0 && io.now.get() > 1_010 {
                    continue; // dropped
                }
                if let Poll::Ready(a) = f.as_mut().poll(&mut cx) {
                    done.get_or_insert((i, a));
                }
            }
            if done.is_some() {
                break;
            }
            io.now.set(io.now.get() + 1);
        }
        let (_, answer) = done.expect("a member was answered");
        assert!(
            matches!(answer, Err(RestError::Unavailable(_))),
            "{answer:?}"
        );
        assert_eq!(*io.attempts.borrow(), [1, 2]);
        assert!(io.now.get() - 1_000 <= 5 + TAKEOVER_MS + GIVE_UP_MS + 2);
    }

    /// Submit `m` alone on a fresh linger; the virtual ms until it is answered.
    fn ms_to_answer(io: &Fake, m: Member, linger_ms: u64) -> u32 {
        let linger = Linger::default();
        let mut cx = Context::from_waker(Waker::noop());
        let mut f = Box::pin(linger.submit(io, m, linger_ms));
        let mut ms = 0;
        while f.as_mut().poll(&mut cx).is_pending() {
            io.now.set(io.now.get() + 1);
            ms += 1;
        }
        ms
    }

    #[test]
    fn a_member_over_half_the_group_budget_goes_alone_at_once() {
        let io = fake(ok);
        let mut big = member("big");
        big.pad_for_test(MAX_GROUP_BYTES);
        assert_eq!(ms_to_answer(&io, big, 5), 3, "the latency only, no linger");
    }

    #[test]
    fn a_full_group_is_sent_without_waiting_for_the_linger() {
        let io = fake(ok);
        let mut batch = member("batch");
        batch.pad_for_test(FULL_GROUP_BYTES);
        assert_eq!(
            ms_to_answer(&io, batch, 30),
            3,
            "the latency only, not the 30 ms linger"
        );
    }

    #[test]
    fn a_group_of_enough_events_is_sent_without_waiting_for_the_linger() {
        let io = fake(ok);
        let linger = Linger::default();
        // 32 one-event members: the 32nd fills the group, which goes at once.
        let arrive: Vec<i64> = (0..FULL_GROUP_EVENTS as i64).map(|i| i / 8).collect();
        run(&io, &linger, &arrive, 30, None);
        assert_eq!(io.calls.borrow().len(), 1);
        assert!(
            io.now.get() - 1_000 < 30,
            "sent when full, not at the linger: {} ms",
            io.now.get() - 1_000
        );
    }

    #[test]
    fn after_noscript_the_group_is_sent_again_with_the_script() {
        let mut io = fake(ok);
        io.noscript = true;
        let linger = Linger::default();
        let answers = run(&io, &linger, &[0, 1], 5, None);
        assert_eq!(*io.by_sha.borrow(), [true, false]);
        assert_eq!(io.calls.borrow()[0], io.calls.borrow()[1]);
        assert!(answers.iter().all(|a| matches!(a, Some(Ok(_)))));
    }

    #[test]
    fn unexpected_replies_fail_each_member_without_panicking() {
        let v = serde_json::json!([["ok", "1-0", 0]]);
        assert_eq!(split(Ok(v), 2).len(), 2);
        assert!(split(Ok(serde_json::json!("x")), 1)[0].is_err());
    }
}
