"""Monitoring: the alert rules and the Grafana dashboard use only metrics the health
function exports, scraped from the running stack after some traffic."""

import json
import re
from pathlib import Path

import requests
import yaml

from conftest import COLLECTOR_URL, DEEP, RUNTIME, Client

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "infra" / "monitoring"
PROMQL_WORDS = {"sum", "rate", "by", "clamp_min", "histogram_quantile", "delta", "increase", "ignoring",
                "group_left", "le", "code", "route", "outcome", "dependency", "humanizePercentage", "humanizeDuration"}


def exported_metric_names():
    Client().post("/v1/track", {"userId": "monitoring", "event": "Scrape"})  # so request counters exist
    Client().post("/v1/track", {"event": "no user"})
    text = requests.get(COLLECTOR_URL + "/metrics", headers=DEEP, timeout=30).text
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def metric_names(expr):
    expr = re.sub(r"\{[^}]*\}", "", expr)           # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)          # range selectors
    expr = re.sub(r'"[^"]*"', "", expr)
    return {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr) if w.startswith("ingest_")}


def base(name):
    return re.sub(r"_(bucket|sum|count)$", "", name)


def test_alert_rules_parse_and_use_exported_metrics():
    doc = yaml.safe_load((MON / "alerts.yml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {"CollectorErrorRateHigh", "CollectorLatencyP95High", "StreamBacklogHigh",
                                          "ProcessorLagHigh", "ClickHouseDiskAlmostFull"}
    exported = exported_metric_names()
    if RUNTIME != "workers":  # request counters are carried by Worker isolates only (docs/SPIN.md)
        exported |= {"ingest_requests_total", "ingest_request_duration_seconds_bucket"}
    for r in rules:
        assert r["expr"].count("(") == r["expr"].count(")"), r["alert"]
        used = metric_names(r["expr"])
        assert used, r["alert"]
        assert used <= exported, (r["alert"], used - exported)
        assert re.fullmatch(r"\d+[smh]", r.get("for", "0s")), r["alert"]
        assert r["annotations"]["summary"]
    thresholds = {r["alert"]: (r["expr"], r.get("for")) for r in rules}
    assert "0.01" in thresholds["CollectorErrorRateHigh"][0] and thresholds["CollectorErrorRateHigh"][1] == "2m"
    assert "0.95" in thresholds["CollectorLatencyP95High"][0] and "0.2" in thresholds["CollectorLatencyP95High"][0]
    assert "10000" in thresholds["StreamBacklogHigh"][0] and thresholds["StreamBacklogHigh"][1] == "5m"
    assert "30" in thresholds["ProcessorLagHigh"][0] and thresholds["ProcessorLagHigh"][1] == "2m"
    assert "0.8" in thresholds["ClickHouseDiskAlmostFull"][0]


def test_prometheus_config_loads_the_rules():
    cfg = yaml.safe_load((MON / "prometheus.yml").read_text())
    assert cfg["rule_files"] == ["alerts.yml"]
    assert cfg["scrape_configs"][0]["metrics_path"] == "/metrics"
    assert cfg["scrape_configs"][0]["authorization"]["type"] == "Bearer"  # METRICS_TOKEN


def test_grafana_dashboard_is_valid_and_uses_exported_metrics():
    dash = json.loads((MON / "grafana-dashboard.json").read_text())
    for key in ("uid", "title", "schemaVersion", "panels", "templating", "time"):
        assert key in dash, key
    assert isinstance(dash["schemaVersion"], int) and dash["schemaVersion"] >= 36
    exported = {base(n) for n in exported_metric_names()}
    if RUNTIME != "workers":
        exported |= {"ingest_requests_total", "ingest_request_duration_seconds"}
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for wanted in ("route", "error", "latency", "queue", "insert"):
        assert wanted in titles, wanted
    ids = set()
    for p in dash["panels"]:
        assert p["id"] not in ids
        ids.add(p["id"])
        assert p["type"] in {"timeseries", "heatmap", "stat", "gauge", "table"}
        assert {"x", "y", "w", "h"} <= set(p["gridPos"])
        for t in p["targets"]:
            used = {base(n) for n in metric_names(t["expr"])}
            assert used and used <= exported, (p["title"], used - exported)


def test_request_counters_are_exported_after_traffic():
    if RUNTIME != "workers":
        return
    names = exported_metric_names()
    names = exported_metric_names()  # the second scrape sees the first one's requests flushed
    assert {"ingest_requests_total", "ingest_request_duration_seconds_bucket", "ingest_events_total",
            "ingest_rows_inserted_total", "ingest_clickhouse_disk_used_ratio"} <= names
