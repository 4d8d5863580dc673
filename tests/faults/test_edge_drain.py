"""The Workers drain paths with the native processor stopped: the drain a request starts
after its response (waitUntil under the Redis lock), and the Cron Trigger safety net."""

import os
import time

import pytest
import requests

from conftest import stack, COLLECTOR_URL, RUNTIME, Client, uid, wait_for_rows

pytestmark = pytest.mark.skipif(
    RUNTIME != "workers",
    reason="waitUntil and Cron Triggers are Workers features; on Spin the processor component drains "
           "(tests/blackbox/test_spin_processor.py)")

COUNT = "SELECT count() FROM analytics.events FINAL WHERE startsWith(message_id, {p:String})"



def test_events_reach_clickhouse_through_the_drain_after_ack_alone():
    stack("stop-processor")
    try:
        prefix = uid("edge")
        client = Client()
        sent = time.time()
        for i in range(5):
            batch = [{"type": "track", "event": "Edge", "userId": "u", "messageId": f"{prefix}-{i}-{j}"} for j in range(20)]
            assert client.post("/v1/batch", {"batch": batch}).status_code == 200
        assert wait_for_rows(COUNT, 100, timeout=30, p=prefix + "-") == 100
        assert time.time() - sent < 30
    finally:
        stack("start-processor")


def test_cron_trigger_drains_what_no_request_drained(r):
    stack("stop-processor")
    try:
        prefix = uid("cron")
        # An entry appended behind the collector's back: no request will drain it.
        import json
        events = [{"type": "track", "event": "Cron", "userId": "u", "messageId": f"{prefix}-{i}",
                   "timestamp": "2026-01-01T00:00:00.000Z", "receivedAt": "2026-01-01T00:00:00.000Z"} for i in range(3)]
        r.xadd("analytics_events", {"v": "1", "n": "3", "wk": "cron", "rid": "cron", "events": json.dumps(events)})
        time.sleep(0.5)
        resp = requests.get(COLLECTOR_URL + "/__scheduled", params={"cron": "* * * * *"}, timeout=60)
        assert resp.status_code == 200, resp.text
        assert wait_for_rows(COUNT, 3, timeout=30, p=prefix + "-") == 3
    finally:
        stack("start-processor")
