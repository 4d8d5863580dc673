"""Browser: the Rust SDK's wasm build and the unmodified @segment/analytics-next (bundled
and served from the page's own, allowed origin, settings loaded from the collector) in
headless Chromium; the events land."""

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import COLLECTOR_URL, KEY, ROOT, events_by_message_id, events_for_user, uid

PAGE_PORT = int(os.environ.get("BROWSER_PAGE_PORT", "18800"))
ORIGIN = f"http://127.0.0.1:{PAGE_PORT}"
NODE = str(ROOT / "node_modules" / ".bin" / "node")
pytestmark = pytest.mark.skipif(not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"),
                                reason="chromium is not installed (scripts/setup installs it)")


@pytest.fixture(scope="module")
def pages():
    built = ROOT / "examples" / "browser" / "pkg" / "ingest_sdk.js"
    assert built.exists(), "run scripts/build-browser first (scripts/test does)"
    server = subprocess.Popen(["python3", "-m", "http.server", str(PAGE_PORT), "--bind", "127.0.0.1",
                               "--directory", str(ROOT / "examples" / "browser")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while True:
        try:
            urllib.request.urlopen(ORIGIN + "/sdk.html", timeout=2)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    yield ORIGIN
    server.terminate()
    server.wait(timeout=10)


def open_page(url):
    out = subprocess.run([NODE, str(ROOT / "tests" / "js" / "browser.mjs"), url], capture_output=True, text=True,
                         timeout=120, cwd=ROOT, env=dict(os.environ, NODE_PATH=str(ROOT / "node_modules")))
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def query(**kw):
    return urllib.parse.urlencode({"endpoint": COLLECTOR_URL, "key": KEY, **kw})


def test_rust_sdk_wasm_build_sends_from_the_browser(pages, r):
    prefix = uid("wasm")
    out = open_page(f"{pages}/sdk.html?{query(prefix=prefix)}")
    assert out["result"].get("sent") == 6, out
    user = out["result"]["user"]
    events = events_for_user(r, user) + events_for_user(r, prefix + "-anon")
    assert {e["type"] for e in events} == {"track", "identify", "page", "screen", "group", "alias"}
    track = next(e for e in events if e["type"] == "track")
    assert track["properties"] == {"button": "signup", "index": 1}
    assert track["context"]["userAgent"].startswith("Mozilla/")  # browser call: UA from the header


def test_analytics_next_loads_settings_from_the_collector_and_events_land(pages, r):
    prefix = uid("ajs")
    out = open_page(f"{pages}/analytics-next.html?{query(prefix=prefix)}")
    assert "error" not in out["result"], out
    assert any("/settings" in u for u in out["requests"]), out["requests"]
    assert not [e for e in out["errors"] if "127.0.0.1" in e], out["errors"]
    user = out["result"]["user"]
    deadline = time.time() + 20
    while True:
        events = events_for_user(r, user)
        if len({e["type"] for e in events}) >= 4 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert {e["type"] for e in events} >= {"identify", "track", "page", "group"}, events
    track = next(e for e in events if e["type"] == "track")
    assert track["event"] == "Signup Clicked" and track["properties"] == {"button": "hero"}
    assert track["messageId"] == out["result"]["messageId"]
    assert track["context"]["library"]["name"] == "analytics.js"
    assert events_by_message_id(r, [track["messageId"]])
