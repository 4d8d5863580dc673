#!/usr/bin/env python3
"""Lag from collector ack to row stored in ClickHouse, on a running stack.

Sends REQUESTS requests (EVENTS events each) at RATE requests/s to the collector, waits
until every event is in ClickHouse, then reports percentiles of inserted_at - received_at
(received_at: arrival at the collector, before the 200; inserted_at: ClickHouse's clock
when the row was written). Bounded: at most REQUESTS requests, stops by itself.

usage: bench/lag.py [--url http://127.0.0.1:8787] [--clickhouse http://127.0.0.1:8123]
                    [--key dev_write_key] [--rate 10] [--requests 300] [--events 10]
"""

import argparse
import base64
import json
import time
import urllib.parse
import urllib.request
import uuid


def post(url, body, key):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "CF-Connecting-IP": "198.18.%d.%d" % (int(time.time()) % 250, int(time.time() * 10) % 250)})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def query(ch, sql):
    url = ch.rstrip("/") + "/?" + urllib.parse.urlencode({"query": sql})
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read().decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default="http://127.0.0.1:8787")
    ap.add_argument("--clickhouse", default="http://127.0.0.1:8123")
    ap.add_argument("--key", default="dev_write_key")
    ap.add_argument("--rate", type=float, default=10)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--events", type=int, default=10)
    a = ap.parse_args()
    prefix = "lag-" + uuid.uuid4().hex[:8]
    start = time.time()
    for i in range(a.requests):
        target = start + i / a.rate
        time.sleep(max(0.0, target - time.time()))
        batch = [{"type": "track", "event": "Lag", "userId": "lag", "messageId": f"{prefix}-{i}-{j}"} for j in range(a.events)]
        assert post(a.url + "/v1/batch", {"batch": batch}, a.key) == 200
    total = a.requests * a.events
    deadline = time.time() + 120
    while time.time() < deadline:
        n = int(query(a.clickhouse, f"SELECT count() FROM analytics.events WHERE startsWith(message_id, '{prefix}-')"))
        if n >= total:
            break
        time.sleep(0.5)
    q = query(a.clickhouse, "SELECT count(), quantilesExact(0.5, 0.95, 0.99)(dateDiff('millisecond', received_at, inserted_at)), "
              f"max(dateDiff('millisecond', received_at, inserted_at)) FROM analytics.events FINAL WHERE startsWith(message_id, '{prefix}-') FORMAT TSV")
    count, qs, mx = q.strip().split("\t")
    p50, p95, p99 = json.loads(qs)
    print(f"lag: {count}/{total} events, {a.requests} requests at {a.rate}/s: p50 {p50} ms, p95 {p95} ms, p99 {p99} ms, max {mx} ms")


if __name__ == "__main__":
    main()
