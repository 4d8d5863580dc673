"""Fault drill under load: every event acknowledged with 200 ends up in ClickHouse exactly
once, while the processor, ClickHouse and Redis fail in turn.

Four senders post small batches the way an SDK does: fresh messageIds per batch, and on a
5xx, a 429 or a connection error the same body (same messageIds) again after a short
backoff. Meanwhile the processor is SIGKILLed and restarted, ClickHouse is stopped and
started, and Redis is SIGKILLed and restarted (it must come back from its append-only
file: scripts/stack runs it with `appendonly yes`). Afterwards every acknowledged messageId
must be in `analytics.events FINAL` exactly once.

On both runtimes the native processor of the stack drains the stream (on Workers the drain
after the acknowledgement helps). The test restarts every part it broke, and waits for
/health to be 200 again, so the tests after it find the stack as it was.
"""

import collections
import json
import threading
import time

import requests

from conftest import COLLECTOR_URL, DEEP, KEY, RUNTIME, basic, ch_query, fresh_ip, peer_headers, stack, uid

SENDERS = 4
BATCH = 10  # events per request
PACE = 0.5  # seconds between a sender's batches
# Bounds: a sender stops after this many batches even if the timeline is not over. With
# the stack's 100 requests per minute per key and client IP this stays below the limit.
MAX_BATCHES = 80
GIVE_UP = 30  # seconds an SDK keeps retrying one batch before it drops it (never acked)
DRAIN_TIMEOUT = 60  # seconds for ClickHouse to hold every acknowledged event: an entry left
# pending by a drainer that failed mid-pass is taken over after CLAIM_IDLE_MS (30 s) by the
# processor, which looks every CLAIM_IDLE_MS / 2: up to ~45 s after the fault.
RETRYABLE = {429, 500, 502, 503, 504, "connection"}


class Sender(threading.Thread):
    """One SDK: sends a batch, retries it unchanged until 200, records what was acked."""

    def __init__(self, n, prefix, stop):
        super().__init__(name=f"drill-sender-{n}", daemon=True)
        self.n, self.prefix, self.stop = n, prefix, stop
        self.ip = fresh_ip()  # its own rate-limit bucket
        self.acked = []
        self.statuses = collections.Counter()
        self.retries = 0
        self.dropped = 0
        self.unexpected = []

    def run(self):
        session = requests.Session()
        headers = {"Authorization": basic(KEY), "Content-Type": "application/json", **peer_headers(self.ip)}
        for b in range(MAX_BATCHES):
            if self.stop.is_set():
                break
            ids = [f"{self.prefix}-{self.n}-{b}-{i}" for i in range(BATCH)]
            body = json.dumps({"batch": [
                {"type": "track", "event": "Drill", "userId": f"drill-{self.n}", "messageId": mid,
                 "properties": {"sender": self.n, "batch": b, "i": i}}
                for i, mid in enumerate(ids)]}).encode()
            if self.deliver(session, headers, body):
                self.acked.extend(ids)
            self.stop.wait(PACE)

    def deliver(self, session, headers, body):
        delay, deadline = 0.1, time.time() + GIVE_UP
        while True:
            resp = None
            try:
                resp = session.post(COLLECTOR_URL + "/v1/batch", data=body, headers=headers, timeout=15)
                status = resp.status_code
            except requests.RequestException:
                status = "connection"
            self.statuses[status] += 1
            if status == 200:
                return True
            if status not in RETRYABLE:
                self.unexpected.append((status, resp.text[:200] if resp is not None else ""))
                return False
            if time.time() > deadline:
                self.dropped += 1
                return False
            retry_after = 0.0
            if resp is not None:
                try:
                    retry_after = min(float(resp.headers.get("Retry-After", 0)), 2.0)
                except ValueError:
                    pass
            time.sleep(max(delay, retry_after))
            delay = min(delay * 2, 2.0)
            self.retries += 1


def health_ok():
    try:
        return requests.get(COLLECTOR_URL + "/health", headers=DEEP, timeout=15).status_code == 200
    except requests.RequestException:
        return False


def wait_until(pred, timeout):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            return False
        time.sleep(0.5)
    return True


def stored_counts(prefix):
    """messageId -> rows under FINAL, and the raw row count (before merges)."""
    final = ch_query("SELECT message_id, count() AS c FROM analytics.events FINAL "
                     "WHERE startsWith(message_id, {p:String}) GROUP BY message_id", p=prefix + "-")
    raw = ch_query("SELECT count() AS n FROM analytics.events WHERE startsWith(message_id, {p:String})",
                   p=prefix + "-")[0]
    return {row["message_id"]: int(row["c"]) for row in final}, int(raw["n"])


def test_fault_drill_every_acknowledged_event_is_stored_exactly_once(capsys):
    prefix = uid("drill")
    started = time.time()
    stop = threading.Event()
    senders = [Sender(n, prefix, stop) for n in range(SENDERS)]
    timeline = []

    def fault(cmd, pause):
        stack(cmd)
        timeline.append(f"{time.time() - started:.1f}s {cmd}")
        time.sleep(pause)

    for s in senders:
        s.start()
    try:
        time.sleep(3)
        fault("kill-processor", 3)  # crash mid-pass: its pending entries must be re-read
        fault("start-processor", 3)
        fault("stop-clickhouse", 3)  # the processor cannot insert: a backlog builds in Redis
        fault("start-clickhouse", 1)  # and Redis dies while that backlog is still there
        fault("kill-redis", 2)
        fault("start-redis", 4)  # must come back with every acknowledged entry
    finally:
        stop.set()
        # Leave the stack as the next tests expect it, whatever happened above (start-* is
        # a no-op for a part that is running); try every part even if one fails.
        failed = []
        for part in ("redis", "clickhouse", "processor"):
            try:
                stack(f"start-{part}")
            except Exception as e:  # noqa: BLE001 - reported below
                failed.append(f"start-{part}: {e}")
        assert not failed, f"could not restore the stack: {failed}"
    for s in senders:
        s.join(GIVE_UP + 20)
    assert not any(s.is_alive() for s in senders), "a sender did not finish"
    assert wait_until(health_ok, 30), "the collector's /health did not come back to 200 after the drill"
    sending = time.time() - started

    acked = [mid for s in senders for mid in s.acked]
    acked_set = set(acked)
    assert len(acked) == len(acked_set)
    stored, raw = {}, 0

    def all_stored():
        nonlocal stored, raw
        stored, raw = stored_counts(prefix)
        return acked_set <= stored.keys()

    wait_until(all_stored, DRAIN_TIMEOUT)
    lost = sorted(acked_set - stored.keys())
    duplicated = sum(c - 1 for mid, c in stored.items() if mid in acked_set and c > 1)
    statuses = sum((s.statuses for s in senders), collections.Counter())
    summary = (f"drill[{RUNTIME}]: acked={len(acked_set)} stored={len(acked_set & stored.keys())} "
               f"lost={len(lost)} duplicated={duplicated} (FINAL); raw rows={raw}; "
               f"responses={dict(statuses)} retries={sum(s.retries for s in senders)} "
               f"dropped_batches={sum(s.dropped for s in senders)}; "
               f"sending {sending:.0f}s, total {time.time() - started:.0f}s; timeline: {', '.join(timeline)}")
    with capsys.disabled():
        print("\n" + summary)

    unexpected = [u for s in senders for u in s.unexpected]
    assert not unexpected, f"non-retryable answers: {unexpected[:5]}; {summary}"
    assert len(acked_set) >= SENDERS * BATCH * 10, f"too little was acknowledged to judge; {summary}"
    assert not lost and duplicated == 0, f"{len(lost)} lost (e.g. {lost[:3]}), {duplicated} duplicated; {summary}"
