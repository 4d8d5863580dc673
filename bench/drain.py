#!/usr/bin/env python3
"""Processor throughput: append ENTRIES stream entries of EVENTS events each (the shape the
collector writes) straight into Redis, then time until all rows are in ClickHouse.
Run against a stack whose processor is running (scripts/up). Bounded by --timeout.

usage: bench/drain.py [--redis-port 6390] [--clickhouse http://127.0.0.1:8123] [--entries 500] [--events 100]
"""

import argparse
import json
import time
import urllib.parse
import urllib.request
import uuid

import redis


def count(ch, prefix):
    url = ch.rstrip("/") + "/?" + urllib.parse.urlencode(
        {"query": f"SELECT count() FROM analytics.events WHERE startsWith(message_id, '{prefix}-')"})
    with urllib.request.urlopen(url, timeout=60) as r:
        return int(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, default=6390)
    ap.add_argument("--clickhouse", default="http://127.0.0.1:8123")
    ap.add_argument("--entries", type=int, default=500)
    ap.add_argument("--events", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=300)
    a = ap.parse_args()
    r = redis.Redis(port=a.redis_port)
    prefix = "drain-" + uuid.uuid4().hex[:8]
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    template = {"type": "track", "event": "Product Viewed", "userId": "u", "timestamp": now, "receivedAt": now,
                "properties": {"product_id": "507f1f77bcf86cd799439011", "price": 18.99, "currency": "usd",
                               "name": "Monopoly: 3rd Edition", "url": "https://www.example.com/product/path"},
                "context": {"ip": "203.0.113.9", "library": {"name": "analytics.js", "version": "1.0"},
                            "page": {"path": "/academy/", "url": "https://example.com/academy/"},
                            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"}}
    pipe = r.pipeline(transaction=False)
    for i in range(a.entries):
        events = [dict(template, messageId=f"{prefix}-{i}-{j}") for j in range(a.events)]
        pipe.xadd("analytics_events", {"v": "1", "n": str(a.events), "wk": "bench", "rid": prefix, "events": json.dumps(events)})
    t0 = time.time()
    pipe.execute()
    total = a.entries * a.events
    while time.time() - t0 < a.timeout:
        n = count(a.clickhouse, prefix)
        if n >= total:
            break
        time.sleep(0.2)
    dt = time.time() - t0
    print(f"drain: {n}/{total} rows in {dt:.1f} s = {n / dt:,.0f} rows/s ({a.entries} entries of {a.events} events)")


if __name__ == "__main__":
    main()
