"""The dashboard page in headless Chromium: events sent by the unmodified analytics-next
(in the browser) and analytics-node land; logging in and choosing a range shows charts
whose numbers equal the committed SQL run directly against ClickHouse."""

import json
import os
import subprocess
import time

import pytest

from conftest import COLLECTOR_URL, ROOT, ch_query, uid
from dashboard_support import DASHBOARD_URL, PASSWORD, USER, ch_time, iso, key_id, run_sql
from test_browser import open_page, pages  # noqa: F401 - the fixture serves analytics-next's page
from test_clients import run_node

# A key only this test writes with (scripts/test allows it), so its numbers are its own.
DASH_KEY = os.environ.get("DASHBOARD_TEST_KEY", "test_key_dash")
K = key_id(DASH_KEY)
NODE = str(ROOT / "node_modules" / ".bin" / "node")
pytestmark = pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="chromium is not installed")


def drive(frm, to):
    out = subprocess.run([NODE, str(ROOT / "tests" / "js" / "dashboard.mjs"), DASHBOARD_URL, USER, PASSWORD, K, frm, to],
                         capture_output=True, text=True, timeout=180, cwd=ROOT,
                         env=dict(os.environ, NODE_PATH=str(ROOT / "node_modules")))
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def strs(rows, cols):
    return [tuple(str(r[c]) for c in cols) for r in rows]


def mismatches(shown, p, frm, to):
    """Every number on the page against the same SQL run directly; [] when all equal."""
    bad = []

    def check(name, got, want):
        if got != want:
            bad.append((name, got, want))
    over = run_sql("overview", **p, prev_from=ch_time(frm - (to - frm)))[0]
    check("overview", shown["overview"], {k: str(over[k]) for k in ("events", "users", "sessions")})
    for name, cols in (("top_events", ("event", "events", "users")), ("top_pages", ("page", "views", "users")),
                       ("top_referrers", ("referrer", "views")), ("countries", ("country", "events", "users"))):
        check(name, strs(shown[name], cols), strs(run_sql(name, **p, limit=10), cols))
    series = run_sql("timeseries", **p, interval_s=60, event="", by_event=1, limit=5)
    check("timeseries", [(r["name"], r["events"]) for r in shown["timeseries"]], [(r["name"], str(r["events"])) for r in series])
    sess = run_sql("sessions", **p)[0]
    check("sessions", {k: float(v) for k, v in shown["sessions"].items()}, {k: float(sess[k]) for k in ("sessions", "median_seconds", "bounce_rate")})
    steps = [s.strip() for s in shown["funnel_steps"].split(",")]
    funnel = run_sql("funnel", **p, steps=json.dumps(steps).replace('"', "'"), window_s=3600)[0]["reached"]
    check("funnel", [int(r["users"]) for r in shown["funnel"]], funnel)
    recent = run_sql("events", **p, cursor_ts=p["to"], cursor_id="", type="", event="", user="", limit=50)
    check("events", [r["message_id"] for r in shown["events"]], [r["message_id"] for r in recent])
    return bad


def test_dashboard_shows_what_clickhouse_holds_for_analytics_next_and_analytics_node_events(pages):  # noqa: F811
    prefix = uid("dash")
    node_user = prefix + "-node"
    now_ms = int(time.time()) * 1000
    sent = run_node("analytics_node.mjs", COLLECTOR_URL, DASH_KEY, node_user, iso(now_ms))
    assert sent["errors"] == [], sent
    browser = open_page(f"{pages}/analytics-next.html?endpoint={COLLECTOR_URL}&key={DASH_KEY}&prefix={prefix}")
    assert "error" not in browser["result"], browser
    web_user = browser["result"]["user"]
    ids = [s["messageId"] for s in sent["sent"]] + [browser["result"]["messageId"]]
    deadline = time.time() + 60
    while time.time() < deadline:
        n = ch_query("SELECT count() AS n FROM analytics.events FINAL WHERE message_id IN {ids:Array(String)}",
                     ids=str(ids))[0]["n"]
        if n == len(ids):
            break
        time.sleep(0.5)
    assert n == len(ids), "the events of both SDKs reached ClickHouse"
    # Sessions are recomputed every minute: wait until both visitors have theirs.
    deadline = time.time() + 90
    while time.time() < deadline:
        s = ch_query("SELECT count() AS n FROM analytics.sessions FINAL WHERE write_key_id = {k:String} "
                     "AND user_id IN {u:Array(String)}", k=K, u=str([node_user, web_user]))[0]["n"]
        if s >= 2:
            break
        time.sleep(2)
    frm, to = now_ms - 3600_000, now_ms + 3600_000
    sql_p = {"keys": f"['{K}']", "from": ch_time(frm), "to": ch_time(to)}
    for attempt in range(3):  # a sessions refresh between the page and the SQL: look again
        out = drive(iso(frm).replace(".000Z", "Z"), iso(to).replace(".000Z", "Z"))
        shown = out["shown"]
        assert shown["error"] == "", shown
        bad = mismatches(shown, sql_p, frm, to)
        if not bad:
            break
        time.sleep(5)
    assert bad == [], bad
    # The page asks /api/me before login; Chromium logs that 401. Nothing else may fail.
    errors = [e for e in out["errors"] if "status of 401" not in e]
    assert errors == [] and out["offsite"] == [], out
    assert out["cookie"] == [{"httpOnly": True, "secure": True, "sameSite": "Strict"}]
    events = {r["event"] for r in shown["top_events"]}
    assert {"Signup Clicked", "Order Completed"} <= events, "analytics-next's and analytics-node's track events"
    assert int(shown["overview"]["events"]) >= len(ids) and int(shown["overview"]["users"]) >= 2
    assert shown["charts"] >= 6, "a uPlot chart per section"
