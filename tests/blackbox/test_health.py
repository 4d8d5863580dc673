"""Health endpoints."""

from conftest import COLLECTOR_URL
import requests


def test_health_reports_redis_with_latency():
    resp = requests.get(COLLECTOR_URL + "/health", timeout=30)
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["redis"]["latency_ms"] >= 0
    assert body["version"]


def test_liveness_answers_without_dependencies():
    resp = requests.get(COLLECTOR_URL + "/livez", timeout=30)
    assert resp.status_code == 200 and resp.json()["status"] == "ok"


def test_health_rejects_other_methods():
    assert requests.post(COLLECTOR_URL + "/health", timeout=30).status_code == 405
