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


def test_a_poison_event_never_fails_the_good_ones_next_to_it():
    # Before: one unstorable timestamp made the whole request 503, so the SDK retried forever
    # and the good events were never stored.
    good = {"type": "track", "event": "Direct", "userId": "u", "messageId": uid("good")}
    poison = [
        {"type": "track", "event": "e", "userId": "u", "messageId": uid("p"), "timestamp": "0000-01-01T00:00:00+01:00"},
        {"type": "track", "event": "e", "userId": "u", "messageId": uid("p"), "timestamp": "9999-12-31T23:59:59+05:00"},
    ]
    resp = post({"batch": [poison[0], good, poison[1]]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["accepted"] == 1
    assert [r["index"] for r in body["rejected"]] == [0, 2]
    assert all(r["field"] == "timestamp" for r in body["rejected"])
    rows = ch_query("SELECT count() AS n FROM analytics.events WHERE message_id = {m:String}", m=good["messageId"])
    assert int(rows[0]["n"]) == 1


def test_skew_correction_against_a_far_future_sent_at_stores_the_arrival_time():
    m = uid("skew")
    resp = post({"sentAt": "2250-01-01T00:00:00Z",
                 "batch": [{"type": "track", "event": "e", "userId": "u", "messageId": m,
                            "timestamp": "2026-01-01T00:00:00Z"}]})
    assert resp.status_code == 200, resp.text
    [row] = ch_query("SELECT toYear(timestamp) AS y, dateDiff('second', timestamp, received_at) AS d "
                     "FROM analytics.events WHERE message_id = {m:String}", m=m)
    assert int(row["y"]) >= 2026 and abs(int(row["d"])) <= 1
