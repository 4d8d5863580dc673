"""Hostile browser-facing headers: forged Origin and Host values must not widen CORS or
poison the publicly cached settings.

The test stack allows https://app.example.com, https://*.shop.example and
http://127.0.0.1:18800 (scripts/test).
"""

import re

import pytest
import requests

from conftest import ALLOWED_ORIGIN, KEY, uid

SETTINGS = f"/v1/projects/{KEY}/settings"


def preflight(client, origin):
    return client.request("OPTIONS", "/v1/batch", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})


def vary(resp):
    return {v.strip().lower() for v in resp.headers.get("Vary", "").split(",") if v.strip()}


@pytest.mark.parametrize("origin", [
    "https://evil.com/.shop.example",
    "https://evil.com?.shop.example",
    "https://evil.com@a.shop.example",
    "https://evilshop.example",
    "https://a.shop.example.evil.net",
    "https://shop.example",
    "http://a.shop.example",
    "https://a.shop.example:8443",
    "https://a.shop.example/",
])
def test_wildcard_suffix_bypass_origins_are_refused(client, origin):
    resp = preflight(client, origin)
    assert resp.status_code == 403, (origin, resp.status_code)
    assert "Access-Control-Allow-Origin" not in resp.headers
    post = client.post("/v1/track", {"userId": uid("u"), "event": "x"}, headers={"Origin": origin})
    assert post.status_code == 403 and post.json()["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in post.headers


def test_whole_labels_under_the_wildcard_are_allowed(client):
    resp = preflight(client, "https://a.b.shop.example")
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://a.b.shop.example"
    assert "origin" in vary(resp)


def test_null_origin_is_refused(client):
    resp = preflight(client, "null")
    assert resp.status_code == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    post = client.post("/v1/track", {"userId": uid("u"), "event": "x"}, headers={"Origin": "null"})
    assert post.status_code == 403 and post.json()["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in post.headers


def test_no_reply_carries_the_credentials_header(client):
    allowed = {"Origin": ALLOWED_ORIGIN}
    refused = {"Origin": "https://evil.example.net"}
    replies = [
        preflight(client, ALLOWED_ORIGIN),
        preflight(client, "https://evil.example.net"),
        client.post("/v1/track", {"userId": uid("u"), "event": "x"}, headers=allowed),
        client.post("/v1/track", {"userId": uid("u"), "event": "x"}, headers=refused),
        client.post("/v1/track", {"userId": uid("u"), "event": "x"}, key=None, headers=allowed),
        client.request("GET", SETTINGS, headers=allowed),
        client.request("GET", "/v2/nothing", headers=allowed),
    ]
    assert [r.status_code for r in replies] == [204, 403, 200, 403, 401, 200, 404]
    for r in replies:
        assert "Access-Control-Allow-Credentials" not in r.headers, (r.request.method, r.url)
    assert replies[2].headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


SAFE_API_HOST = re.compile(r"(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?/v1")


@pytest.mark.parametrize("forged", [
    "evil.example/x",
    'evil.example"><script>alert(1)</script>',
    "user@evil.example",
    "evil.example:abc",
    "evil.example:99999",
])
def test_settings_with_a_forged_host_get_400_or_a_safe_host(client, forged):
    try:
        resp = client.request("GET", SETTINGS, headers={"Host": forged})
    except requests.ConnectionError:
        return  # the runtime dropped the request: nothing was answered, nothing cached
    if "x-request-id" not in resp.headers:
        # The runtime refused the request before the collector saw it.
        assert resp.status_code >= 400, (forged, resp.status_code)
        assert "public" not in resp.headers.get("Cache-Control", "")
        return
    if resp.status_code == 400:
        body = resp.json()
        assert body["code"] == "invalid_host" and "Host header" in body["message"], body
        assert "public" not in resp.headers.get("Cache-Control", "")
        return
    if resp.status_code == 404:
        # workerd builds the URL from Host, so a Host with a path moves the request to
        # another path: no settings answer, nothing publicly cacheable.
        assert resp.json()["code"] == "not_found"
        assert "public" not in resp.headers.get("Cache-Control", "")
        return
    # The runtime rebuilt Host from the URL: whatever reached the collector, the answer
    # holds a well-formed host only and tells caches it depends on Host.
    assert resp.status_code == 200, (forged, resp.status_code, resp.text)
    api_host = resp.json()["integrations"]["Segment.io"]["apiHost"]
    assert SAFE_API_HOST.fullmatch(api_host), api_host
    assert forged not in api_host
    assert {"host", "x-forwarded-proto", "origin"} <= vary(resp)


def test_settings_never_send_a_public_host_to_plain_http(client):
    resp = client.request("GET", SETTINGS, headers={"Host": "ingest.evil.example", "X-Forwarded-Proto": "http"})
    assert resp.status_code == 200, resp.text
    seg = resp.json()["integrations"]["Segment.io"]
    # Runtimes that pass Host through show it; either way a non-loopback host is https.
    if not seg["apiHost"].startswith(("127.0.0.1", "localhost", "[::1]")):
        assert seg["protocol"] == "https", seg
    assert {"host", "x-forwarded-proto", "origin"} <= vary(resp)


def test_settings_reply_is_cacheable_and_varies_on_what_it_depends_on(client):
    resp = client.request("GET", SETTINGS, headers={"Origin": ALLOWED_ORIGIN, "X-Forwarded-Proto": "gopher"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    assert {"host", "x-forwarded-proto", "origin"} <= vary(resp)
    seg = resp.json()["integrations"]["Segment.io"]
    assert SAFE_API_HOST.fullmatch(seg["apiHost"]), seg
    assert seg["protocol"] in ("http", "https")
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
