"""scripts/cost's arithmetic on fixed inputs: commandstats parsing, the own-command
subtraction, per-request / per-event / dollar figures, fixed-plan break-even, and the
README block rewrite. No stack needed."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("cost", ROOT / "bench" / "cost.py")
cost = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cost)

BEFORE = """# Commandstats
cmdstat_eval:calls=10,usec=500,usec_per_call=50.00,rejected_calls=0,failed_calls=0
cmdstat_xadd:calls=10,usec=100,usec_per_call=10.00,rejected_calls=0,failed_calls=0
cmdstat_info:calls=3,usec=30,usec_per_call=10.00,rejected_calls=0,failed_calls=0
"""
AFTER = """# Commandstats
cmdstat_eval:calls=110,usec=5500,usec_per_call=50.00,rejected_calls=0,failed_calls=0
cmdstat_xadd:calls=110,usec=1100,usec_per_call=10.00,rejected_calls=0,failed_calls=0
cmdstat_incr:calls=100,usec=100,usec_per_call=1.00,rejected_calls=0,failed_calls=0
cmdstat_hincrby:calls=250,usec=100,usec_per_call=0.40,rejected_calls=0,failed_calls=0
cmdstat_client|setinfo:calls=4,usec=4,usec_per_call=1.00,rejected_calls=0,failed_calls=0
cmdstat_info:calls=6,usec=60,usec_per_call=10.00,rejected_calls=0,failed_calls=0
"""


def test_parse_commandstats():
    s = cost.parse_commandstats(AFTER)
    assert s["eval"] == 110 and s["client|setinfo"] == 4 and s["hincrby"] == 250
    with pytest.raises(ValueError):
        cost.parse_commandstats("cmdstat_get:usec=1")


def test_delta_subtracts_own_commands_and_keeps_setup_apart():
    billed, not_billed = cost.delta(cost.parse_commandstats(BEFORE), cost.parse_commandstats(AFTER), {"info": 3})
    assert billed == {"eval": 100, "xadd": 100, "incr": 100, "hincrby": 250}
    assert not_billed == {"client|setinfo": 4}
    with pytest.raises(ValueError, match="own commands"):
        cost.delta(cost.parse_commandstats(BEFORE), cost.parse_commandstats(AFTER), {"info": 3, "xlen": 1})
    with pytest.raises(ValueError, match="backwards"):
        cost.delta(cost.parse_commandstats(AFTER), cost.parse_commandstats(BEFORE), {})


def run(**kw):
    base = dict(runtime="workers", shape="single", drain_after_ack_ms=0, answered=100, non2xx=0,
                events_per_request=1, seconds=2.0, p50_ms=1.0, p99_ms=2.0, cpu_ms=250.0,
                billed={"eval": 100, "xadd": 100, "incr": 100, "hincrby": 250}, not_billed={})
    base.update(kw)
    return base


PRICES = {"checked": "2026-11-27",
          "workers": {"per_million_requests": 0.30, "per_million_cpu_ms": 0.02},
          "upstash": {"per_100k_commands": 0.20, "max_commands_per_second": 10000,
                      "fixed_plans": [{"name": "Fixed 250MB", "per_month": 10}]}}


def test_cost_row_arithmetic():
    r = cost.cost_row(run(), PRICES)
    assert r["commands_per_request"] == pytest.approx(5.5)
    assert r["commands_per_event"] == pytest.approx(5.5)
    assert r["breakdown_per_request"]["hincrby"] == pytest.approx(2.5)
    assert r["requests_per_s"] == pytest.approx(50)
    # 5.5 commands/event x 1 M events x $0.20 / 100 k = $11
    assert r["redis_usd_per_m_events"] == pytest.approx(11.0)
    # 1 M requests x $0.30/M + 2.5 CPU-ms x 1 M x $0.02/M
    assert r["workers_cpu_ms_per_m_events"] == pytest.approx(2.5e6)
    assert r["workers_usd_per_m_events"] == pytest.approx(0.30 + 0.05)
    assert r["usd_per_m_events"] == pytest.approx(11.35)
    assert r["max_events_per_s_per_db"] == pytest.approx(10000 / 5.5)


def test_batches_divide_per_event_and_non2xx_carry_no_events():
    r = cost.cost_row(run(shape="batch", events_per_request=100, non2xx=50), PRICES)
    assert r["events"] == 5000
    assert r["commands_per_request"] == pytest.approx(5.5)
    assert r["commands_per_event"] == pytest.approx(550 / 5000)
    assert r["workers_requests_per_m_events"] == pytest.approx(10000)
    with pytest.raises(ValueError, match="no event accepted"):
        cost.cost_row(run(non2xx=100), PRICES)


def test_drain_share_is_the_difference_to_the_drain_off_run():
    on = run(drain_after_ack_ms=10000, billed={"eval": 101, "xadd": 100, "incr": 100, "hincrby": 250, "set": 200,
                                                "xreadgroup": 3, "xack": 2})
    r = cost.cost_row(on, PRICES, ingest_only=run())
    assert r["drain_commands_per_event"] == pytest.approx((756 - 550) / 100)
    assert r["drain_breakdown_per_request"]["set"] == pytest.approx(2.0)


def test_break_even():
    (b,) = cost.break_even(PRICES, 0.05)
    assert b["commands_per_month"] == pytest.approx(5e6)  # $10 / ($0.20 / 100 k)
    assert b["events_per_month"] == pytest.approx(1e8)


def test_summary_renders(tmp_path):
    results = {"meta": {"date": "2026-11-27", "commit": "abc"},
               "runs": [run(), run(drain_after_ack_ms=10000, billed={"eval": 100, "set": 300})],
               "drains": [dict(runtime="workers", shape="single", entries=100, events=100, seconds=1.0,
                               billed={"xreadgroup": 2, "xack": 1}, not_billed={})],
               "processor_idle": {"seconds": 10, "billed": {"xreadgroup": 8}}}
    s = cost.summarize(results, PRICES)
    assert s["break_even"][0]["commands_per_event"] == pytest.approx(5.5 + 0.03)
    assert s["processor_idle"]["commands_per_hour"] == pytest.approx(2880)
    md = cost.render_markdown(s)
    assert "| 1-event requests, 16 connections | Workers (wrangler dev) | off |" in md
    assert "HINCRBY 2.5" in md
    readme = "a\n<!-- cost:begin -->\nold\n<!-- cost:end -->\nb\n"
    out = cost.replace_block(readme, "cost", md)
    assert out.startswith("a\n<!-- cost:begin -->\nMeasured") and out.endswith("<!-- cost:end -->\nb\n")
    with pytest.raises(ValueError):
        cost.replace_block("no markers", "cost", md)


def test_price_table_is_dated_and_sourced():
    p = cost.load_prices()
    assert p["checked"] and p["workers"]["sources"] and p["upstash"]["sources"]
    assert p["upstash"]["per_100k_commands"] == 0.20
    assert p["workers"]["per_million_requests"] == 0.30 and p["workers"]["per_million_cpu_ms"] == 0.02
    assert all(plan["per_month"] > 0 for plan in p["upstash"]["fixed_plans"])


spec_r = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
report = importlib.util.module_from_spec(spec_r)
spec_r.loader.exec_module(report)

WRK = """Running 15s test @ http://127.0.0.1:28787
  2 threads and 4 connections
  1290 requests in 15.02s, 311.45KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:     85.88
Transfer/sec:     20.74KB
requests 1290, events 129000, non-2xx 3, p50 46.0 ms, p95 70.2 ms, p99 90.1 ms
"""


def test_bench_report_renders_one_run():
    w = report.parse_wrk(WRK, "wrk-workers.txt")
    assert w["rps"] == 85.88 and w["non2xx"] == 3 and w["socket_errors"] == 3 and w["p99"] == 90.1
    sdk = report.parse_sdk("throughput: 50000 events sent in 8.84 s = 5658 events/s (dropped 0, queued 0)", "sdk")
    assert sdk["eps"] == 5658
    sizes = report.parse_sizes("worker\t674000\t280000\tfunctions/collector/build/index_bg.wasm\n")
    md = report.render({"wrk": {"workers": w}, "sdk": {"workers": sdk}, "sizes": sizes}, 15, 4, 50000,
                       {"date": "2026-11-27", "commit": "abc"})
    assert "| 86 requests/s = 8,588 events/s, p50 46 ms, p99 90.1 ms, 6 errors |" in md
    assert "674 KB raw, 280 KB gzip -9" in md and "5,658 events/s to `wrangler dev`" in md
    with pytest.raises(ValueError, match="wrk-spin.txt"):
        report.parse_wrk("Running 15s test", "wrk-spin.txt")
