"""STREAM_SHARDS: a collector whose events spread over several streams (scripts/test runs
one per runtime with STREAM_SHARDS=4 on its own stream, `sharded_events`).

Shard 0 is the stream itself, shard i is `<stream>:<i>`; each shard has its own markers,
dead letters, counters and drain lock, while a client's rate limit and a signature's
nonce hold across shards. A native processor started here with the same STREAM_SHARDS
drains every shard into ClickHouse.
"""

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import (CLICKHOUSE_URL, CLICKHOUSE_WRITER_PASSWORD, DEEP, KEY, ROOT, RUNTIME, UPSTASH_TOKEN,
                      UPSTASH_URL, basic, ch_query, fresh_ip, peer_headers, uid, wait_for_rows)

SHARDED_URL = os.environ.get("SHARDED_URL", "").rstrip("/")
BASE = os.environ.get("SHARDED_STREAM", "sharded_events")
SHARDS = int(os.environ.get("STREAM_SHARDS", "4"))
STREAMS = [BASE] + [f"{BASE}:{i}" for i in range(1, SHARDS)]
pytestmark = pytest.mark.skipif(not SHARDED_URL, reason="SHARDED_URL (a collector with STREAM_SHARDS > 1) is not set")


def post(body, ip, path="/v1/batch", key=KEY):
    h = {**peer_headers(ip), "Authorization": basic(key), "Content-Type": "application/json"}
    return requests.post(SHARDED_URL + path, data=json.dumps(body), headers=h, timeout=30)


def track(mid, **extra):
    return {"type": "track", "event": "Sharded", "userId": "u-shard", "messageId": mid, **extra}


def shards_of(r, message_ids):
    """messageId -> the shard streams whose entries hold it (one each, when stored once)."""
    wanted, found = set(message_ids), {}
    for stream in STREAMS:
        for _, fields in r.xrange(stream, "-", "+"):
            for ev in json.loads(fields["events"]):
                if ev.get("messageId") in wanted:
                    found.setdefault(ev["messageId"], []).append(stream)
    return found


def test_concurrent_requests_spread_over_every_shard_and_each_is_stored_once(r):
    ids = [uid("spread") for _ in range(48)]
    ips = [fresh_ip() for _ in range(8)]
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda i: post({"batch": [track(ids[i])]}, ips[i % 8]), range(48)))
    assert [x.status_code for x in replies] == [200] * 48, [x.text for x in replies if x.status_code != 200]
    found = shards_of(r, ids)
    assert sorted(found) == sorted(ids), "every event is in some shard"
    assert all(len(s) == 1 for s in found.values()), {m: s for m, s in found.items() if len(s) != 1}
    used = {s[0] for s in found.values()}
    assert used == set(STREAMS), f"48 requests reach all {SHARDS} shards, got {sorted(used)}"


def test_a_retry_lands_on_its_first_shard_and_is_answered_duplicate(r):
    ip = fresh_ip()
    ids = [uid("retry") for _ in range(12)]
    for mid in ids:
        first = post({"batch": [track(mid)]}, ip)
        assert first.status_code == 200 and "duplicate" not in first.json(), first.text
        again = post({"batch": [track(mid)], "sentAt": "2026-01-01T00:00:01Z"}, ip)
        assert again.status_code == 200, again.text
        assert again.json().get("duplicate") is True, f"{mid}: the retry met its marker: {again.text}"
    found = shards_of(r, ids)
    assert all(len(found[m]) == 1 for m in ids), found
    # each shard's markers live in that shard's sorted set
    for mid in ids:
        assert r.zcard(found[mid][0] + ":seen") >= 1
    assert len({found[m][0] for m in ids}) > 1, "12 requests use more than one shard"


def test_the_rate_limit_holds_across_shards(r):
    # RATE_LIMIT_MAX_REQUESTS is 100 per minute in the test stack: requests of one client
    # land on different shards, and the 101st is refused all the same.
    ip = fresh_ip()
    codes = [post({"batch": [track(uid("rl"))]}, ip).status_code for _ in range(101)]
    assert codes[:100] == [200] * 100, codes
    assert codes[100] == 429
    assert r.keys(f"{BASE}:rl:*") and not any(r.keys(f"{s}:rl:*") for s in STREAMS[1:]), \
        "rate-limit counters are named after the base stream only"


def test_rejects_go_to_their_shards_dead_letters_and_health_sums_every_shard(r):
    ip = fresh_ip()
    for _ in range(12):
        resp = post({"batch": [track(uid("dl")), {"type": "track", "userId": "u", "messageId": uid("bad")}]}, ip)
        assert resp.status_code == 200 and resp.json()["rejected"], resp.text
    dead = {s: r.xlen(s + ":invalid") for s in STREAMS}
    assert sum(1 for n in dead.values() if n) > 1, f"dead letters in several shards: {dead}"
    body = requests.get(SHARDED_URL + "/health", headers=DEEP, timeout=30).json()
    assert body["status"] == "ok", body
    assert body["stream"]["dead_letters"] == sum(dead.values()), (body, dead)
    assert body["stream"]["length"] == sum(r.xlen(s) for s in STREAMS), body
    metrics = requests.get(SHARDED_URL + "/metrics", headers=DEEP, timeout=30).text
    assert f"ingest_dead_letter_length {float(sum(dead.values()))}" in metrics or \
        f"ingest_dead_letter_length {sum(dead.values())}" in metrics, metrics


@pytest.fixture(scope="module")
def processor(tmp_path_factory):
    """The native processor with the same STREAM_SHARDS, draining the sharded stream."""
    log = tmp_path_factory.mktemp("shards") / "processor.log"
    env = {
        **os.environ,
        "REDIS_URL": UPSTASH_URL, "REDIS_TOKEN": UPSTASH_TOKEN,
        "REDIS_STREAM_KEY": BASE, "STREAM_SHARDS": str(SHARDS),
        "CLICKHOUSE_URL": CLICKHOUSE_URL, "CLICKHOUSE_USER": "analytics_writer",
        "CLICKHOUSE_PASSWORD": CLICKHOUSE_WRITER_PASSWORD,
        "PROCESSOR_CONSUMER": f"shards-{RUNTIME}", "STREAM_RETENTION_MS": "600000",
    }
    with open(log, "w") as out:
        proc = subprocess.Popen([str(ROOT / "target" / "release" / "processor")], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 30
        while '"processor started"' not in log.read_text():
            assert proc.poll() is None and time.time() < deadline, log.read_text()
            time.sleep(0.1)
        yield log
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_processor_drains_every_shard_into_clickhouse_exactly_once(r, processor):
    started = json.loads(next(line for line in processor.read_text().splitlines() if "processor started" in line))
    assert started["shards"] == SHARDS
    ids = [uid("drain") for _ in range(24)]
    ip = fresh_ip()
    for mid in ids:
        assert post({"batch": [track(mid)]}, ip).status_code == 200
    found = shards_of(r, ids)
    assert len({s[0] for s in found.values()}) > 1
    got = wait_for_rows("SELECT count() AS n FROM analytics.events FINAL WHERE message_id IN {ids:Array(String)}",
                        len(ids), timeout=60, ids="[" + ",".join(f"'{m}'" for m in ids) + "]")
    assert got == len(ids)
    # a row names its entry: the bare id on shard 0, `<shard>:<id>` on the others (ids repeat
    # across shards)
    rows = ch_query("SELECT message_id, stream_id FROM analytics.events FINAL WHERE message_id IN {ids:Array(String)}",
                    ids="[" + ",".join(f"'{m}'" for m in ids) + "]")
    for row in rows:
        stream = found[row["message_id"]][0]
        shard = STREAMS.index(stream)
        entry = row["stream_id"] if shard == 0 else row["stream_id"].removeprefix(f"{shard}:")
        assert entry != row["stream_id"] or shard == 0, row
        assert any(eid == entry for eid, _ in r.xrange(stream, entry, entry)), (row, stream)
    # nothing left pending in any shard once drained
    deadline = time.time() + 30
    while True:
        body = requests.get(SHARDED_URL + "/health", headers=DEEP, timeout=30).json()
        if body["stream"]["backlog"] == 0 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert body["stream"]["backlog"] == 0 and body["stream"]["pending"] == 0, body
    drained = {json.loads(line).get("stream") for line in processor.read_text().splitlines() if '"drained"' in line}
    assert len(drained & set(STREAMS)) > 1, f"the processor's passes name several shards: {drained}"


def test_replay_walks_every_shards_dead_letters(r):
    env = {**os.environ, "REDIS_URL": UPSTASH_URL, "REDIS_TOKEN": UPSTASH_TOKEN,
           "REDIS_STREAM_KEY": BASE, "STREAM_SHARDS": str(SHARDS)}
    out = subprocess.run([str(ROOT / "target" / "release" / "processor"), "replay", "--dry-run"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    done = [json.loads(line) for line in out.stdout.splitlines() if '"replay done"' in line]
    assert [d["stream"] for d in done] == STREAMS
    for d in done:
        assert d["would_replay"] + d["skipped"] == r.xlen(d["stream"] + ":invalid"), d
