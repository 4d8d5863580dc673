"""Redis outage: the collector never acknowledges what it could not store, and the same
request succeeds once Redis is back. Runs last: it stops and restarts the stack's Redis."""

import os
import time

import requests

from conftest import stack, COLLECTOR_URL, DEEP, Client, events_by_message_id, uid




def test_redis_down_gives_503_then_the_same_request_succeeds(r):
    client = Client()
    batch = {"batch": [{"type": "track", "event": "Outage", "userId": uid("u"), "messageId": uid("m")}]}
    mid = batch["batch"][0]["messageId"]
    stack("stop-redis")
    try:
        resp = client.post("/v1/batch", batch)
        assert resp.status_code == 503, resp.text
        assert resp.json()["code"] == "backend_unavailable"
        assert int(resp.headers["Retry-After"]) > 0
        health = requests.get(COLLECTOR_URL + "/health", headers=DEEP, timeout=30)
        assert health.status_code == 503
        assert health.json()["checks"]["redis"]["status"] == "error"
        assert requests.get(COLLECTOR_URL + "/livez", timeout=30).status_code == 200
    finally:
        stack("start-redis")
    deadline = time.time() + 20
    while True:
        resp = client.post("/v1/batch", batch)
        if resp.status_code == 200 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 200, resp.text
    assert len(events_by_message_id(r, [mid])[mid]) == 1
