"""The processor as a Spin component (POST /drain, for a scheduler), under wasmtime serve."""

import os

import pytest
import requests

from conftest import stack, Client, uid, wait_for_rows

SPIN_DRAIN_URL = os.environ.get("SPIN_DRAIN_URL", "")
DRAIN_TOKEN = os.environ.get("DRAIN_TOKEN", "test-drain-token")
AUTH = {"Authorization": f"Bearer {DRAIN_TOKEN}"}
pytestmark = pytest.mark.skipif(not SPIN_DRAIN_URL, reason="SPIN_DRAIN_URL (the processor component) is not set")



def test_drain_endpoint_moves_the_stream_into_clickhouse():
    stack("stop-processor")
    try:
        prefix = uid("spindrain")
        batch = [{"type": "track", "event": "Spin", "userId": "u", "messageId": f"{prefix}-{i}"} for i in range(25)]
        assert Client().post("/v1/batch", {"batch": batch}).status_code == 200
        resp = requests.post(SPIN_DRAIN_URL + "/drain", headers=AUTH, timeout=60)
        assert resp.status_code == 200, resp.text
        assert resp.json()["success"] is True
        sql = "SELECT count() FROM analytics.events FINAL WHERE startsWith(message_id, {p:String})"
        assert wait_for_rows(sql, 25, timeout=20, p=prefix + "-") == 25
    finally:
        stack("start-processor")


def test_drain_endpoint_refuses_other_methods_and_paths():
    assert requests.get(SPIN_DRAIN_URL + "/drain", headers=AUTH, timeout=30).status_code == 405
    assert requests.post(SPIN_DRAIN_URL + "/other", headers=AUTH, timeout=30).status_code == 404


@pytest.mark.parametrize("auth", [None, "Bearer wrong", "Bearer " + DRAIN_TOKEN + "x", DRAIN_TOKEN])
def test_drain_endpoint_refuses_callers_without_the_drain_token(auth):
    headers = {"Authorization": auth} if auth else {}
    resp = requests.post(SPIN_DRAIN_URL + "/drain", headers=headers, timeout=30)
    assert resp.status_code == 401, resp.text
    assert "DRAIN_TOKEN" in resp.json()["message"]
