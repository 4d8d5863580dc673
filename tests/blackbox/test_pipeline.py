"""Collector -> Redis stream -> processor -> ClickHouse, end to end."""

import json
import time

from conftest import Client, ch_query, uid, via_proxy, wait_for_rows

COUNT_BY_IDS = "SELECT count() AS n FROM analytics.events FINAL WHERE message_id IN {ids:Array(String)}"


def ids_param(ids):
    return "[" + ",".join("'" + i + "'" for i in ids) + "]"


def test_events_appear_in_clickhouse_with_correct_columns(client):
    user = uid("u")
    batch = {"batch": [
        {"type": "track", "event": "Order Completed", "userId": user, "messageId": uid("m"),
         "properties": {"revenue": 9.5}, "context": {"library": {"name": "lib", "version": "2.0"}}},
        {"type": "page", "anonymousId": user, "messageId": uid("m"), "name": "Pricing",
         "context": {"page": {"url": "https://x.test/pricing", "path": "/pricing", "title": "P", "referrer": "r"}}},
    ]}
    # geo: request.cf on Workers, the CDN's visitor-location header on Spin
    assert client.post("/v1/batch", batch, headers=via_proxy(client.ip, **{"CF-IPCountry": "NO"})).status_code == 200
    ids = [e["messageId"] for e in batch["batch"]]
    assert wait_for_rows(COUNT_BY_IDS, 2, ids=ids_param(ids)) == 2
    rows = {r["message_id"]: r for r in ch_query(
        "SELECT * FROM analytics.events FINAL WHERE message_id IN {ids:Array(String)}", ids=ids_param(ids))}
    t = rows[ids[0]]
    assert (t["type"], t["event"], t["user_id"]) == ("track", "Order Completed", user)
    assert (t["library_name"], t["library_version"]) == ("lib", "2.0")
    assert t["ip"] == client.ip and t["country"]
    assert json.loads(t["properties"]) == {"revenue": 9.5}
    assert len(t["write_key_id"]) == 16
    p = rows[ids[1]]
    assert (p["type"], p["event"], p["anonymous_id"], p["page_path"], p["page_title"]) == ("page", "Pricing", user, "/pricing", "P")


def test_the_same_batch_sent_twice_appears_once(client):
    batch = {"batch": [{"type": "track", "event": "Twice", "userId": uid("u"), "messageId": uid("m")}]}
    ids = [batch["batch"][0]["messageId"]]
    assert client.post("/v1/batch", batch).status_code == 200
    # a regrouped retry (different batch, same messageId) defeats the edge marker on purpose
    batch["batch"].append({"type": "track", "event": "Other", "userId": "u", "messageId": uid("m")})
    assert client.post("/v1/batch", batch).json().get("duplicate") is None
    assert wait_for_rows(COUNT_BY_IDS, 2, ids=ids_param([b["messageId"] for b in batch["batch"]])) == 2
    time.sleep(1.5)
    assert int(ch_query(COUNT_BY_IDS, ids=ids_param(ids))[0]["n"]) == 1


def test_ten_thousand_events_arrive_exactly_once():
    run = uid("bulk")
    clients = [Client(), Client()]
    ids = []
    for i in range(100):
        batch = [{"type": "track", "event": "Bulk", "userId": f"{run}-{i}", "messageId": f"{run}-{i}-{j}"}
                 for j in range(100)]
        ids.extend(e["messageId"] for e in batch)
        resp = clients[i % 2].post("/v1/batch", {"batch": batch})
        assert resp.status_code == 200, resp.text
    sql = "SELECT count() AS n FROM analytics.events FINAL WHERE startsWith(message_id, {p:String})"
    assert wait_for_rows(sql, 10_000, timeout=90, p=run + "-") == 10_000
    exact = ch_query("SELECT count() AS n, uniqExact(message_id) AS u FROM analytics.events FINAL "
                     "WHERE startsWith(message_id, {p:String})", p=run + "-")[0]
    assert (int(exact["n"]), int(exact["u"])) == (10_000, 10_000)


def test_sessions_view_splits_on_30_minutes_of_inactivity(client):
    visitor = uid("v")
    times = ["2026-01-05T10:00:00.000Z", "2026-01-05T10:10:00.000Z", "2026-01-05T10:50:00.000Z"]
    batch = [{"type": "page", "anonymousId": visitor, "messageId": uid("m"), "timestamp": t,
              "context": {"page": {"path": f"/p{i}"}}} for i, t in enumerate(times)]
    assert client.post("/v1/batch", {"batch": batch}).status_code == 200
    assert wait_for_rows("SELECT count() FROM analytics.events FINAL WHERE anonymous_id = {v:String}", 3, v=visitor) == 3
    import requests
    from conftest import CLICKHOUSE_URL
    requests.post(CLICKHOUSE_URL + "/", data="SYSTEM REFRESH VIEW analytics.sessions_mv", timeout=30).raise_for_status()
    deadline = time.time() + 30
    while True:
        rows = ch_query("SELECT event_count, entry_page FROM analytics.sessions FINAL WHERE visitor_id = {v:String} "
                        "ORDER BY session_start", v=visitor)
        if len(rows) == 2 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert [(int(r["event_count"]), r["entry_page"]) for r in rows] == [(2, "/p0"), (1, "/p2")]
