"""bench/dashboard_load.py at smoke scale (10 k events, one run per query): it loads, measures
before and after 0004, reports rows read, and finds the same answers under both keys. The
10 M-event run is not part of the suite (README, Measured)."""

import importlib.util
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "dashboard_load.py"
DASHBOARD_SQL = ROOT / "shared" / "src" / "dashboard" / "sql"
_spec = importlib.util.spec_from_file_location("dashboard_load", BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

# Two queries in the dashboard's style, for a tree without the dashboard's own files.
RANGE = """FROM analytics.events FINAL
WHERE write_key_id IN {keys:Array(String)}
  AND timestamp >= {from:DateTime64(3, 'UTC')}
  AND timestamp < {to:DateTime64(3, 'UTC')}"""
QUERIES = {
    "top_events": f"SELECT event, count() AS n {RANGE} AND type = 'track' GROUP BY event ORDER BY n DESC, event LIMIT {{limit:UInt32}}",
    "events": f"SELECT message_id {RANGE} AND (timestamp, message_id) < ({{cursor_ts:DateTime64(3, 'UTC')}}, {{cursor_id:String}}) "
              "ORDER BY timestamp DESC, message_id DESC LIMIT {limit:UInt32}",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sql_dir(tmp_path):
    """The dashboard's own queries where they are in the tree, else QUERIES."""
    if DASHBOARD_SQL.is_dir():
        return DASHBOARD_SQL
    d = tmp_path / "sql"
    d.mkdir()
    for name, sql in QUERIES.items():
        (d / f"{name}.sql").write_text(sql)
    return d


def test_bench_measures_both_keys_and_gets_the_same_answers(tmp_path, sql_dir):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--events", "10000", "--runs", "1", "--chunk", "5000",
                           "--sql-dir", str(sql_dir), "--port", str(free_port()), "--dir", str(tmp_path / "work"),
                           "--json", str(out), "--add-day-filter"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["distinct"] == 10000 and res["rows"] > res["distinct"]  # 1 % delivered twice
    stems = {p.stem for p in sql_dir.glob("*.sql")}
    for phase in ("before", "after"):
        assert set(res[phase]) == stems
        for r in res[phase].values():
            assert r["read_rows"] > 0 and 0 < r["p50_ms"] <= r["p95_ms"]
    assert res["before"]["top_events"]["answer"] == res["after"]["top_events"]["answer"] != []
    assert len(res["after"]["events"]["answer"]) == 50
    assert "| top_events |" in proc.stdout and "| NO |" not in proc.stdout


def test_a_parameter_without_a_value_is_named(tmp_path):
    (tmp_path / "odd.sql").write_text("SELECT {nope:UInt8}, {keys:Array(String)}")
    with pytest.raises(bench.Fail, match=r"odd.sql uses parameters with no value .*: nope"):
        bench.load_queries(tmp_path)


def test_the_day_filter_goes_before_each_range_start_and_only_once():
    sql = bench.with_day_filter(QUERIES["top_events"].replace("{from:", "{prev_from:"))
    assert sql.count("event_date BETWEEN toDate32({prev_from:DateTime64(3, 'UTC')}) - 1") == 1
    assert bench.with_day_filter(sql) == sql
