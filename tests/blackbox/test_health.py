"""Health endpoints."""

from conftest import COLLECTOR_URL, DEEP
import pytest
import requests


def test_health_reports_each_dependency_with_latency_and_the_backlog():
    resp = requests.get(COLLECTOR_URL + "/health", headers=DEEP, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "ok"
    for dep in ("redis", "clickhouse"):
        assert body["checks"][dep]["status"] == "ok"
        assert body["checks"][dep]["latency_ms"] >= 0
    assert set(body["stream"]) == {"length", "backlog", "pending", "lag_seconds", "dead_letters"}
    assert body["version"]


def test_metrics_are_prometheus_text_with_the_alert_inputs():
    resp = requests.get(COLLECTOR_URL + "/metrics", headers=DEEP, timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    names = {line.split("{")[0].split(" ")[0] for line in resp.text.splitlines() if line and not line.startswith("#")}
    assert {"ingest_stream_length", "ingest_stream_backlog", "ingest_stream_pending", "ingest_processor_lag_seconds",
            "ingest_dead_letter_length", "ingest_dependency_up"} <= names
    assert 'ingest_dependency_up{dependency="clickhouse"} 1' in resp.text


def test_liveness_answers_without_dependencies():
    resp = requests.get(COLLECTOR_URL + "/livez", timeout=30)
    assert resp.status_code == 200 and resp.json()["status"] == "ok"


def test_health_rejects_other_methods():
    assert requests.post(COLLECTOR_URL + "/health", headers=DEEP, timeout=30).status_code == 405


@pytest.mark.parametrize("path", ["/health", "/metrics"])
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic dGVzdDo=", "Bearer "])
def test_deep_routes_refuse_callers_without_the_metrics_token(path, auth):
    headers = {"Authorization": auth} if auth else {}
    resp = requests.get(COLLECTOR_URL + path, headers=headers, timeout=30)
    assert resp.status_code == 401, resp.text
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert "METRICS_TOKEN" in resp.json()["message"]
