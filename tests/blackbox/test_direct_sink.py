"""The direct sink (SINK=clickhouse): the collector inserts into ClickHouse itself with
async_insert=1, wait_for_async_insert=1 and answers 200 only after ClickHouse confirmed."""

import os

import pytest
import requests

from conftest import DEEP, KEY, basic, ch_query, fresh_ip, uid

DIRECT_URL = os.environ.get("DIRECT_URL", "")
pytestmark = pytest.mark.skipif(not DIRECT_URL, reason="DIRECT_URL (a collector with SINK=clickhouse) is not set")


def post(body, **headers):
    h = {"Authorization": basic(KEY), "CF-Connecting-IP": fresh_ip(), **headers}
    return requests.post(DIRECT_URL + "/v1/batch", json=body, headers=h, timeout=30)


def test_events_are_queryable_as_soon_as_the_collector_answers():
    batch = [{"type": "track", "event": "Direct", "userId": uid("u"), "messageId": uid("m")} for _ in range(3)]
    batch.append({"type": "track", "userId": "no-event"})
    resp = post({"batch": batch})
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 3
    assert resp.json()["rejected"][0]["index"] == 3
    ids = "[" + ",".join(f"'{e['messageId']}'" for e in batch[:3]) + "]"
    # no waiting: the 200 came after ClickHouse confirmed the insert
    rows = ch_query("SELECT event FROM analytics.events WHERE message_id IN {ids:Array(String)}", ids=ids)
    assert [r["event"] for r in rows] == ["Direct"] * 3


def test_health_checks_clickhouse_only():
    body = requests.get(DIRECT_URL + "/health", headers=DEEP, timeout=30).json()
    assert set(body["checks"]) == {"clickhouse"} and body["status"] == "ok"
