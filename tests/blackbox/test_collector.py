"""The Segment-compatible collector, end to end: HTTP in, Redis stream out."""

import gzip
import json
import time

import pytest

from conftest import (
    ALLOWED_ORIGIN, HASHED_KEY, KEY, OTHER_KEY, RUNTIME, dead_letters, events_by_message_id,
    events_for_user, uid, via_proxy,
)


def track(user, **extra):
    ev = {"type": "track", "event": "Order Completed", "userId": user, "messageId": uid("m"),
          "properties": {"revenue": 42.5, "items": [{"sku": "A1", "qty": 2}], "coupon": None}}
    ev.update(extra)
    return ev


def test_batch_lands_in_the_stream_with_every_field(client, r):
    user = uid("u")
    sent = [
        track(user, context={"library": {"name": "test", "version": "1"}, "locale": "de-DE"},
              integrations={"All": True}, custom_top_level={"kept": True}),
        {"type": "identify", "userId": user, "messageId": uid("m"), "traits": {"email": "a@b.c", "plan": "pro"}},
        {"type": "page", "anonymousId": user, "messageId": uid("m"), "name": "Home", "properties": {"path": "/"}},
        {"type": "screen", "userId": user, "messageId": uid("m"), "name": "Cart"},
        {"type": "group", "userId": user, "messageId": uid("m"), "groupId": "g1", "traits": {"size": 3}},
        {"type": "alias", "userId": user, "messageId": uid("m"), "previousId": "anon-1"},
    ]
    resp = client.post("/v1/batch", {"batch": sent, "sentAt": "2030-01-01T00:00:00.000Z"})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"success": True, "accepted": 6}
    found = events_by_message_id(r, [e["messageId"] for e in sent])
    assert len(found) == 6
    for ev in sent:
        [got] = found[ev["messageId"]]
        for k, v in ev.items():
            if k == "context":
                for ck, cv in v.items():
                    assert got["context"][ck] == cv
            else:
                assert got[k] == v, k
        assert got["receivedAt"].endswith("Z")
        assert got["timestamp"].endswith("Z")
        assert got["sentAt"] == "2030-01-01T00:00:00.000Z"
        assert got["context"]["ip"] == client.ip
        assert "writeKey" not in got
    # one stream entry for the whole request, tagged with the key id, never the key
    entries = {e["_entry"] for evs in found.values() for e in evs}
    assert len(entries) == 1
    fields = next(iter(found.values()))[0]["_fields"]
    assert fields["n"] == "6" and KEY not in json.dumps(fields)


@pytest.mark.parametrize("path,kind", [
    ("/v1/track", "track"), ("/v1/identify", "identify"), ("/v1/page", "page"),
    ("/v1/screen", "screen"), ("/v1/group", "group"), ("/v1/alias", "alias"),
    ("/v1/t", "track"), ("/v1/i", "identify"), ("/v1/p", "page"),
    ("/v1/s", "screen"), ("/v1/g", "group"), ("/v1/a", "alias"),
])
def test_single_event_routes_set_the_type_from_the_route(client, r, path, kind):
    mid = uid("m")
    body = {"userId": uid("u"), "messageId": mid, "event": "Clicked", "groupId": "g", "previousId": "p",
            "writeKey": KEY}
    # analytics.js posts text/plain with the key in the body to skip the CORS preflight
    resp = client.post(path, body, key=None, headers={"Content-Type": "text/plain"})
    assert resp.status_code == 200, resp.text
    [got] = events_by_message_id(r, [mid])[mid]
    assert got["type"] == kind


def test_missing_message_id_is_generated(client, r):
    user = uid("u")
    resp = client.post("/v1/track", {"userId": user, "event": "No Id"})
    assert resp.status_code == 200
    [got] = events_for_user(r, user)
    assert len(got["messageId"]) == 36


def test_gzip_bodies_are_inflated(client, r):
    ev = track(uid("u"))
    resp = client.post("/v1/batch", {"batch": [ev]}, gzip_body=True)
    assert resp.status_code == 200, resp.text
    assert ev["messageId"] in events_by_message_id(r, [ev["messageId"]])


def test_gzip_bomb_is_refused_with_413(client):
    bomb = b'{"batch":[{"type":"track","event":"' + b"a" * 5_000_000 + b'"}]}'
    resp = client.post("/v1/batch", raw=bomb, gzip_body=True)
    assert resp.status_code == 413
    assert resp.json()["code"] == "payload_too_large"


def test_request_over_500kb_is_413(client):
    batch = [track(uid("u"), properties={"pad": "x" * 20_000}) for _ in range(30)]
    resp = client.post("/v1/batch", {"batch": batch})
    assert resp.status_code == 413
    assert "512000" in resp.json()["message"]


def test_invalid_events_are_reported_by_index_and_dead_lettered(client, r):
    good = track(uid("u"))
    bad_missing_event = {"type": "track", "userId": "u", "messageId": uid("m")}
    bad_type = {"type": "purchase", "userId": "u"}
    too_big = track(uid("u"), properties={"pad": "x" * 40_000})
    bad_ts = track(uid("u"), timestamp="yesterday")
    resp = client.post("/v1/batch", {"batch": [bad_missing_event, good, bad_type, too_big, bad_ts, "str"]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["accepted"] == 1
    rejected = {x["index"]: x for x in body["rejected"]}
    assert set(rejected) == {0, 2, 3, 4, 5}
    assert rejected[0]["field"] == "event"
    assert rejected[2]["field"] == "type"
    assert "32768" in rejected[3]["reason"]
    assert rejected[4]["field"] == "timestamp"
    assert good["messageId"] in events_by_message_id(r, [good["messageId"]])
    dl = [d for d in dead_letters(r) if d["_fields"]["rid"] == resp.headers["x-request-id"]]
    assert sorted(d["index"] for d in dl) == [0, 2, 3, 4, 5]
    assert json.loads([d for d in dl if d["index"] == 0][0]["event"])["messageId"] == bad_missing_event["messageId"]


def test_a_batch_of_only_invalid_events_is_400_and_dead_lettered(client, r):
    resp = client.post("/v1/batch", {"batch": [{"type": "track", "event": "x"}]})
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "invalid_events"
    assert body["rejected"][0] == {"index": 0, "field": "userId", "reason": "userId or anonymousId is required"}
    assert any(d["_fields"]["rid"] == resp.headers["x-request-id"] for d in dead_letters(r))


@pytest.mark.parametrize("raw,needle", [
    (b"", "empty"),
    (b"not json", "JSON"),
    (b"[1,2]", "JSON object"),
    (b'{"batch": {}}', "batch"),
    (b'{"batch": []}', "at least one"),
    (b'\xff\xfe', "UTF-8"),
])
def test_malformed_bodies_are_400_with_a_precise_message(client, raw, needle):
    resp = client.post("/v1/batch", raw=raw)
    assert resp.status_code == 400
    assert resp.json()["code"] == "malformed_body"
    assert needle in resp.json()["message"]


def test_write_keys(client, r):
    ev = lambda: {"userId": uid("u"), "event": "K"}  # noqa: E731
    assert client.post("/v1/track", ev(), key=None).status_code == 401
    bad = client.post("/v1/track", ev(), key="nope")
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_write_key"
    assert "nope" not in bad.text
    assert client.post("/v1/track", ev(), key=OTHER_KEY).status_code == 200
    assert client.post("/v1/track", ev(), key=HASHED_KEY).status_code == 200
    body = ev() | {"writeKey": KEY}
    assert client.post("/v1/track", body, key=None).status_code == 200


def test_unknown_routes_and_methods(client):
    assert client.request("GET", "/v1/batch").status_code == 405
    assert client.request("GET", "/v2/nothing").status_code == 404


def test_preflight_from_an_allowed_origin_passes(client):
    resp = client.request("OPTIONS", "/v1/batch", headers={
        "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    assert resp.status_code == 204
    assert resp.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type,authorization"


def test_preflight_and_post_from_another_origin_fail(client):
    resp = client.request("OPTIONS", "/v1/batch", headers={
        "Origin": "https://evil.example.net", "Access-Control-Request-Method": "POST"})
    assert resp.status_code == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    post = client.post("/v1/track", {"userId": "u", "event": "x"}, headers={"Origin": "https://evil.example.net"})
    assert post.status_code == 403 and post.json()["code"] == "origin_not_allowed"


def test_allowed_origin_gets_cors_headers_and_user_agent_enrichment(client, r):
    user = uid("u")
    resp = client.post("/v1/t", {"userId": user, "event": "Browser", "writeKey": KEY}, key=None, headers={
        "Origin": "https://a.shop.example", "Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 Test"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == "https://a.shop.example"
    [got] = events_for_user(r, user)
    assert got["context"]["userAgent"] == "Mozilla/5.0 Test"


def test_the_101st_request_in_a_window_gets_429(client):
    for i in range(100):
        resp = client.post("/v1/track", {"userId": "rl", "event": "n"})
        assert resp.status_code == 200, (i, resp.text)
    limited = client.post("/v1/track", {"userId": "rl", "event": "n"})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # another client (IP) of the same key is not affected
    client.ip = "198.19.255.254"
    assert client.post("/v1/track", {"userId": "rl", "event": "n"}).status_code == 200


def test_retried_request_is_stored_once(client, r):
    batch = {"batch": [track(uid("u")), track(uid("u"))]}
    ids = [e["messageId"] for e in batch["batch"]]
    first = client.post("/v1/batch", batch)
    assert first.status_code == 200 and "duplicate" not in first.json()
    batch["sentAt"] = "2030-01-01T00:00:05.000Z"  # SDKs refresh sentAt on retry
    again = client.post("/v1/batch", batch)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    found = events_by_message_id(r, ids)
    assert all(len(found[i]) == 1 for i in ids)


def test_timestamp_is_corrected_for_client_clock_skew(client, r):
    # The client's clock is 1 hour behind: it sent the event 2 s after it happened.
    ev = track(uid("u"), timestamp="2020-01-01T00:00:00.000Z")
    before = time.time()
    resp = client.post("/v1/batch", {"batch": [ev], "sentAt": "2020-01-01T00:00:02.000Z"})
    assert resp.status_code == 200
    [got] = events_by_message_id(r, [ev["messageId"]])[ev["messageId"]]
    from datetime import datetime
    ts = datetime.fromisoformat(got["timestamp"].replace("Z", "+00:00")).timestamp()
    received = datetime.fromisoformat(got["receivedAt"].replace("Z", "+00:00")).timestamp()
    assert abs((received - ts) - 2.0) < 0.01
    assert abs(received - before) < 60
    assert got["originalTimestamp"] == "2020-01-01T00:00:00.000Z"


def test_geo_from_the_platform_lands_in_context_location(client, r):
    user = uid("u")
    # Workers: request.cf (wrangler dev's placeholder); Spin: the CDN's visitor-location headers
    headers = via_proxy(client.ip, **{"CF-IPCountry": "NO", "CF-IPCity": "Oslo"})
    assert client.post("/v1/track", {"userId": user, "event": "Geo"}, headers=headers).status_code == 200
    [got] = events_for_user(r, user)
    loc = got["context"]["location"]
    assert loc["country"]
    if RUNTIME == "workers":
        assert isinstance(loc["asn"], int)
    else:
        assert (loc["country"], loc["city"]) == ("NO", "Oslo")


def test_responses_carry_a_request_id(client):
    resp = client.post("/v1/track", {"userId": "u", "event": "x"})
    assert len(resp.headers["x-request-id"]) == 16
