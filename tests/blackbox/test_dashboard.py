"""The dashboard function on the runtime under test (RUNTIME): login and sessions, refusals
with precise 4xx (another project, expired, tampered, alg none, SQL metacharacters, a range
over the cap), and answers that equal the committed SQL run directly against ClickHouse,
with retried events counted once."""

import random
import time

import pytest

from conftest import KEY, OTHER_KEY, RUNTIME, Client, ch_query, uid, wait_for_rows
from dashboard_support import (
    DASHBOARD_URL, PASSWORD, USER, Dashboard, b64, ch_time, forge, iso, key_id, run_sql)

A, B = key_id(KEY), key_id(OTHER_KEY)


@pytest.fixture
def dash():
    return Dashboard()


def error(resp):
    body = resp.json()
    return resp.status_code, body.get("error"), body.get("field")


# ---- login, cookie, logout ------------------------------------------------------------

def test_login_returns_a_bearer_token_and_a_strict_httponly_session_cookie(dash):
    r = dash.login()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == USER and A in body["keys"] and body["token_type"] == "Bearer"
    cookie = r.headers["Set-Cookie"]
    for part in ("dash_session=", "HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert part in cookie, cookie
    assert dash.get("/api/me", token=body["token"]).json()["user"] == USER
    # The cookie alone authenticates the page's requests.
    cookie_only = dash.s.get(DASHBOARD_URL + "/api/me", headers={"Cookie": f"dash_session={body['token']}"}, timeout=30)
    assert cookie_only.status_code == 200, cookie_only.text


def test_wrong_password_is_401_and_a_missing_field_is_400_naming_it(dash):
    assert error(dash.login(password=PASSWORD + "x")) == (401, "login_failed", None)
    assert error(dash.login(user="nobody")) == (401, "login_failed", None)
    assert error(dash.post("/api/login", {"user": USER})) == (400, "invalid_parameter", "password")
    assert error(dash.post("/api/login", {"password": "x"})) == (400, "invalid_parameter", "user")
    assert error(dash.post("/api/login", raw=b"user=dev")) == (400, "invalid_parameter", "body")
    assert dash.get("/api/login").status_code == 405


def test_login_attempts_are_rate_limited_per_client(dash):
    statuses = [dash.login(user=uid("guess"), password="wrong").status_code for _ in range(11)]
    assert statuses[:10] == [401] * 10, statuses
    assert statuses[10] == 429
    limited = dash.login()
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert Dashboard().login().status_code == 200  # another client is not affected


def test_logout_revokes_the_token_and_clears_the_cookie(dash):
    token = dash.token()
    out = dash.post("/api/logout", token=token)
    assert out.status_code == 200, out.text
    assert "Max-Age=0" in out.headers["Set-Cookie"]
    assert error(dash.get("/api/me", token=token)) == (401, "token_revoked", None)
    assert error(dash.get("/api/overview", token=token)) == (401, "token_revoked", None)


# ---- refusals -------------------------------------------------------------------------

def test_no_token_is_401(dash):
    r = dash.get("/api/overview")
    assert error(r) == (401, "token_missing", None)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_for_another_project_is_403(dash):
    token = forge(keys=[B])
    assert dash.get("/api/top_events", token=token, params={"key": B}).status_code == 200
    assert error(dash.get("/api/top_events", token=token, params={"key": A})) == (403, "project_not_allowed", "key")
    assert error(dash.get("/api/overview", token=token, params={"key": f"{B},{A}"})) == (403, "project_not_allowed", "key")


def test_an_expired_token_is_401(dash):
    long_ago = int(time.time()) - 7200
    token = forge(keys=[A], iat=long_ago, nbf=long_ago, exp=long_ago + 3600)
    r = dash.get("/api/overview", token=token)
    assert error(r) == (401, "token_expired", None)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_a_token_within_the_clock_skew_leeway_is_accepted(dash):
    now = int(time.time())
    assert dash.get("/api/me", token=forge(keys=[A], exp=now - 30)).status_code == 200
    assert error(dash.get("/api/me", token=forge(keys=[A], nbf=now + 3600, iat=now + 3600))) == (
        401, "token_not_yet_valid", None)


def test_a_tampered_token_is_401(dash):
    head, payload, sig = dash.token().split(".")
    widened = forge(keys=[A, B, "0000000000000000"]).split(".")[1]
    assert error(dash.get("/api/me", token=f"{head}.{widened}.{sig}")) == (401, "token_signature_invalid", None)
    assert error(dash.get("/api/me", token=forge(keys=[A], secret="another-secret-of-enough-length-000"))) == (
        401, "token_signature_invalid", None)
    assert error(dash.get("/api/me", token="not.a.jwt")) == (401, "token_malformed", None)


def test_alg_none_and_other_algorithms_are_401(dash):
    none = forge(keys=[A], header={"alg": "none", "typ": "JWT"}).rsplit(".", 1)[0] + "."
    assert error(dash.get("/api/me", token=none)) == (401, "token_algorithm_not_allowed", None)
    for alg in ("HS512", "RS256", "None"):
        t = forge(keys=[A], header={"alg": alg, "typ": "JWT"})
        assert error(dash.get("/api/me", token=t)) == (401, "token_algorithm_not_allowed", None), alg


EVIL = "x' OR 1=1; DROP TABLE analytics.events; --"
TYPED = [  # (endpoint, parameter, extra parameters the endpoint needs)
    ("overview", "from", {}), ("overview", "to", {}), ("overview", "key", {}),
    ("top_events", "limit", {}), ("top_pages", "limit", {}), ("top_referrers", "limit", {}),
    ("countries", "limit", {}), ("timeseries", "interval", {}), ("timeseries", "by_event", {}),
    ("timeseries", "limit", {}), ("funnel", "window", {"step": ["a", "b"]}), ("events", "type", {}),
    ("events", "limit", {}), ("events", "cursor", {}), ("sessions", EVIL, {}),
]
TEXT = [("timeseries", "event", {}), ("events", "event", {}), ("events", "user", {}), ("funnel", "step", {"step": "b"})]


@pytest.mark.parametrize("endpoint,param,extra", TYPED)
def test_sql_metacharacters_in_a_typed_parameter_are_400_naming_it(dash, endpoint, param, extra):
    token = forge(keys=[A])
    r = dash.get(f"/api/{endpoint}", token=token, params={**extra, param: EVIL})
    assert error(r) == (400, "invalid_parameter", param), r.text


@pytest.mark.parametrize("endpoint,param,extra", TEXT)
def test_sql_metacharacters_in_a_text_filter_are_only_data(dash, endpoint, param, extra):
    token = forge(keys=[A])
    params = {param: EVIL, **extra} if param != "step" else {"step": [EVIL, "b"]}
    r = dash.get(f"/api/{endpoint}", token=token, params=params)
    assert r.status_code == 200, r.text
    assert r.json().get("rows", []) == [] or endpoint == "funnel"
    assert ch_query("SELECT count() AS n FROM system.tables WHERE database = 'analytics' AND name = 'events'")[0]["n"] == 1


def test_a_range_over_the_cap_is_400(dash):
    token = forge(keys=[A])
    r = dash.get("/api/overview", token=token, params={"from": "2026-01-01T00:00:00Z", "to": "2026-06-01T00:00:00Z"})
    assert error(r) == (400, "invalid_parameter", "to")
    assert "92 days" in r.json()["message"]
    r = dash.get("/api/timeseries", token=token, params={"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "interval": "60"})
    assert error(r) == (400, "invalid_parameter", "interval")
    assert error(dash.get("/api/events", token=token, params={"limit": "201"})) == (400, "invalid_parameter", "limit")


def test_an_origin_outside_allowed_origins_is_403(dash):
    r = dash.get("/api/me", token=forge(keys=[A]), headers={"Origin": "https://evil.example"})
    assert error(r) == (403, "origin_not_allowed", None)


# ---- the page, health -----------------------------------------------------------------

def test_the_page_and_its_bundled_assets_are_served_with_strict_security_headers(dash):
    page = dash.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    for part in ("default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"):
        assert part in csp, csp
    assert "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    js = dash.get("/assets/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["Content-Type"]
    assert "uPlot" in js.text or "uplot" in js.text  # the charting library is bundled in
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    assert dash.get("/assets/app.css").headers["Content-Type"].startswith("text/css")
    assert dash.get("/api/overview").headers["X-Content-Type-Options"] == "nosniff"


def test_liveness_is_open_and_health_needs_the_metrics_token(dash):
    from conftest import DEEP
    assert dash.get("/livez").json()["status"] == "ok"
    assert dash.get("/health").status_code == 401
    h = dash.get("/health", headers=DEEP)
    assert h.status_code == 200, h.text
    assert h.json()["checks"]["clickhouse"]["status"] == "ok" and h.json()["checks"]["redis"]["status"] == "ok"
    m = dash.get("/metrics", headers=DEEP)
    assert 'dashboard_dependency_up{dependency="clickhouse"} 1' in m.text


# ---- answers equal the SQL, retries counted once --------------------------------------

@pytest.fixture(scope="module")
def seeded():
    """Events of key A in one random past hour (no other test writes there), one of them
    delivered twice in differently grouped batches, so ClickHouse holds it twice."""
    hour = int(time.mktime(time.strptime("2021-01-01", "%Y-%m-%d"))) * 1000 + random.randrange(0, 20000) * 3600_000
    ids = {n: uid("dm") for n in ("m1", "m2", "m3", "m4")}
    u1, u2 = uid("du"), uid("du")

    def ev(mid, minute, **kw):
        return {"messageId": ids[mid], "timestamp": iso(hour + minute * 60_000), **kw}
    c = Client()
    first = [ev("m1", 1, type="track", event="Dash Signup", userId=u1),
             ev("m2", 2, type="track", event="Dash Signup", userId=u2),
             ev("m4", 0, type="page", name="Pricing", userId=u1,
                context={"page": {"path": "/pricing", "referrer": "https://www.example.org/post"}})]
    second = [ev("m1", 1, type="track", event="Dash Signup", userId=u1),
              ev("m3", 5, type="track", event="Dash Paid", userId=u1)]
    for batch in (first, second):
        r = c.post("/v1/batch", {"batch": batch})
        assert r.status_code == 200, r.text
    got = wait_for_rows("SELECT count() FROM analytics.events FINAL WHERE message_id IN {ids:Array(String)}", 4,
                        ids=str(list(ids.values())))
    assert got == 4
    wait_for_rows("SELECT count() FROM analytics.events WHERE message_id = {id:String}", 2, id=ids["m1"])
    return {"from": hour, "to": hour + 3600_000, "ids": ids, "users": (u1, u2)}


def params_for(seeded):
    return {"from": iso(seeded["from"]), "to": iso(seeded["to"]), "key": A}


def sql_params(seeded, **extra):
    return {"keys": f"['{A}']", "from": ch_time(seeded["from"]), "to": ch_time(seeded["to"]), **extra}


def test_answers_equal_the_sql_and_count_a_retried_event_once(dash, seeded):
    token = forge(keys=[A])
    top = dash.get("/api/top_events", token=token, params=params_for(seeded)).json()
    assert [(r["event"], r["events"], r["users"]) for r in top["rows"]] == [("Dash Signup", 2, 2), ("Dash Paid", 1, 1)]
    assert top["rows"] == run_sql("top_events", **sql_params(seeded, limit=10))
    assert top["timing"]["clickhouse_ms"] is not None and top["timing"]["rows_read"] >= 4
    over = dash.get("/api/overview", token=token, params=params_for(seeded)).json()
    assert over["totals"]["events"] == 4 and over["totals"]["users"] == 2
    prev = ch_time(seeded["from"] - 3600_000)
    direct = run_sql("overview", **sql_params(seeded, prev_from=prev))[0]
    assert (over["totals"]["events"], over["totals"]["users"], over["totals"]["sessions"]) == (
        direct["events"], direct["users"], direct["sessions"])
    pages = dash.get("/api/top_pages", token=token, params=params_for(seeded)).json()
    assert pages["rows"] == [{"page": "/pricing", "views": 1, "users": 1}]
    refs = dash.get("/api/top_referrers", token=token, params=params_for(seeded)).json()
    assert refs["rows"] == [{"referrer": "www.example.org", "views": 1}]
    countries = dash.get("/api/countries", token=token, params=params_for(seeded)).json()
    assert countries["rows"] == run_sql("countries", **sql_params(seeded, limit=10))
    series = dash.get("/api/timeseries", token=token, params={**params_for(seeded), "interval": "3600"}).json()
    assert [r["events"] for r in series["rows"]] == [4]
    by_event = dash.get("/api/timeseries", token=token, params={**params_for(seeded), "interval": "600", "by_event": "1"}).json()
    assert by_event["rows"] == run_sql("timeseries", **sql_params(seeded, interval_s=600, event="", by_event=1, limit=5))
    funnel = dash.get("/api/funnel", token=token,
                      params={**params_for(seeded), "step": ["Dash Signup", "Dash Paid"], "window": "3600"}).json()
    assert funnel["totals"]["reached"] == [2, 1]


def test_the_event_explorer_filters_and_pages_by_cursor(dash, seeded):
    token = forge(keys=[A])
    seen, cursor = [], None
    for _ in range(4):
        p = {**params_for(seeded), "limit": "3"}
        if cursor:
            p["cursor"] = cursor
        page = dash.get("/api/events", token=token, params=p).json()
        seen += [r["message_id"] for r in page["rows"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(seeded["ids"].values()), "every event once, newest first, across pages"
    tracks = dash.get("/api/events", token=token, params={**params_for(seeded), "type": "track", "user": seeded["users"][1]}).json()
    assert [r["message_id"] for r in tracks["rows"]] == [seeded["ids"]["m2"]]


def test_answers_are_cached_briefly_on_workers(dash, seeded):
    token = forge(keys=[A])
    first = dash.get("/api/top_pages", token=token, params={**params_for(seeded), "limit": "7"})
    again = dash.get("/api/top_pages", token=token, params={**params_for(seeded), "limit": "7"})
    assert first.json()["rows"] == again.json()["rows"]
    if RUNTIME == "workers":
        assert (first.headers["X-Dashboard-Cache"], again.headers["X-Dashboard-Cache"]) == ("miss", "hit")
        assert again.json()["timing"]["cached"] is True
    else:  # Spin: an instance lives for one request and has no cache API
        assert again.headers["X-Dashboard-Cache"] == "miss"
    # The explorer is live, never cached.
    assert dash.get("/api/events", token=token, params=params_for(seeded)).headers["X-Dashboard-Cache"] == "bypass"
