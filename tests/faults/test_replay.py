"""`processor replay` moves dead letters back into the stream once their cause is fixed:
dry run first, by id range, and idempotent (a second run appends nothing). The dead letter
here has the shape the processor writes when ClickHouse refuses an entry (the full entry
payload under `entry`; see shared/src/drain.rs `refused`)."""

import json
import os
import subprocess

from conftest import ROOT, STREAM, UPSTASH_TOKEN, UPSTASH_URL, ch_query, uid, wait_for_rows

PROCESSOR = ROOT / "target" / "release" / "processor"


def replay(*args):
    env = {**os.environ, "REDIS_URL": UPSTASH_URL, "REDIS_TOKEN": UPSTASH_TOKEN, "REDIS_STREAM_KEY": STREAM}
    out = subprocess.run([str(PROCESSOR), "replay", *args], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_dead_letters_are_replayed_once_after_the_cause_is_fixed(r):
    prefix = uid("replay")
    events = [{"type": "track", "event": "Replayed", "userId": "u", "messageId": f"{prefix}-{i}",
               "timestamp": "2026-11-27T10:00:00.000Z", "receivedAt": "2026-11-27T10:00:00.000Z"} for i in range(3)]
    entry = {"v": "1", "n": "3", "wk": "replaytestkey00", "rid": prefix, "at": "1764237600000",
             "events": json.dumps(events)}
    dlq = STREAM + ":invalid"
    refused = r.xadd(dlq, {"source_id": "1-0", "reason": "ClickHouse refused the rows: HTTP 400: (cause since fixed)",
                           "entry": json.dumps(entry), "at": "1764237600"})
    edge_reject = r.xadd(dlq, {"wk": "k", "rid": "x", "at": "1", "rejects": "[]", "count": "1"})
    rng = ["--from", refused, "--to", edge_reject]

    dry = replay("--dry-run", *rng)
    outcomes = {d["id"]: d["outcome"] for d in dry if d["msg"] == "dead letter"}
    assert outcomes[refused] == "would replay"
    assert outcomes[edge_reject].startswith("skipped")
    assert r.xrange(dlq, refused, refused), "a dry run changed nothing"

    done = replay(*rng)
    outcomes = {d["id"]: d["outcome"] for d in done if d["msg"] == "dead letter"}
    assert outcomes[refused].startswith("replayed as ")
    assert not r.xrange(dlq, refused, refused)
    assert r.xrange(dlq, edge_reject, edge_reject), "edge rejects stay"
    sql = "SELECT count() FROM analytics.events FINAL WHERE startsWith(message_id, {p:String})"
    assert wait_for_rows(sql, 3, timeout=30, p=prefix + "-") == 3

    again = replay(*rng)
    assert [d for d in again if d["msg"] == "replay done"][0]["replayed"] == 0
    replays = [f for _, f in r.xrange(STREAM, "-", "+") if f.get("replay_of") == refused]
    assert len(replays) <= 1  # at most one (the processor may have trimmed it already)
    rows = ch_query("SELECT count() AS n FROM analytics.events WHERE startsWith(message_id, {p:String})",
                    p=prefix + "-")
    assert int(rows[0]["n"]) == 3


def test_replay_refuses_bad_options():
    for args in (["--count", "0"], ["--from", "yesterday"], ["--bogus"]):
        out = subprocess.run([str(PROCESSOR), "replay", *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2, (args, out.stderr)
        assert "usage:" in out.stderr or "must be" in out.stderr, (args, out.stderr)
