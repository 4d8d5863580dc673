"""The client identity the rate limit counts and `context.ip` stores comes from the
platform (Workers: CF-Connecting-IP; Spin: spin-client-addr), never from headers a client
can send itself. IPv6 clients are counted per /64."""

import ipaddress
import random

from conftest import events_for_user, uid, via_proxy


def test_forged_forwarding_headers_do_not_change_the_stored_ip(client, r):
    user = uid("ident")
    resp = client.post("/v1/track", {"userId": user, "event": "e"},
                       headers={"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "7.7.7.7"})
    assert resp.status_code == 200, resp.text
    [got] = events_for_user(r, user)
    assert got["context"]["ip"] == client.ip


def test_a_new_forged_forwarded_for_per_request_does_not_escape_the_rate_limit(client):
    for i in range(100):
        forged = str(ipaddress.IPv4Address(random.getrandbits(32)))
        resp = client.post("/v1/track", {"userId": "rl-forge", "event": "n"},
                           headers={"X-Forwarded-For": forged, "X-Real-IP": forged})
        assert resp.status_code == 200, (i, resp.text)
    resp = client.post("/v1/track", {"userId": "rl-forge", "event": "n"},
                       headers={"X-Forwarded-For": "203.0.113.99"})
    assert resp.status_code == 429, resp.text


def test_ipv6_clients_rotating_inside_one_64_share_one_bucket(client):
    net = ipaddress.IPv6Network(f"2001:db8:{random.getrandbits(16):x}:{random.getrandbits(16):x}::/64")
    for i in range(100):
        client.ip = str(net[random.getrandbits(64)])
        resp = client.post("/v1/track", {"userId": "rl-v6", "event": "n"})
        assert resp.status_code == 200, (i, resp.text)
    client.ip = str(net[random.getrandbits(64)])
    assert client.post("/v1/track", {"userId": "rl-v6", "event": "n"}).status_code == 429
    # the neighbouring /64 is another subscriber
    client.ip = str(ipaddress.IPv6Address(int(net.network_address) + 2**64 + 1))
    assert client.post("/v1/track", {"userId": "rl-v6", "event": "n"}).status_code == 200


def test_a_trusted_proxy_names_the_client_by_its_rightmost_hop(client, r):
    # The suite's stand-in CDN (PROXY_IP) is in TRUSTED_PROXIES: the client is the hop it
    # appended, not what the client wrote to the left of it.
    user = uid("proxied")
    resp = client.post("/v1/track", {"userId": user, "event": "e"}, headers=via_proxy(client.ip))
    assert resp.status_code == 200, resp.text
    [got] = events_for_user(r, user)
    assert got["context"]["ip"] == client.ip


def test_cdn_location_headers_from_an_untrusted_client_are_ignored(client, r):
    user = uid("geo-forged")
    resp = client.post("/v1/track", {"userId": user, "event": "e"},
                       headers={"CF-IPCountry": "KP", "CF-IPCity": "Forged"})
    assert resp.status_code == 200, resp.text
    [got] = events_for_user(r, user)
    # Workers: request.cf's own location; Spin: none from an untrusted peer
    assert got["context"].get("location", {}).get("city") != "Forged"


def test_message_ids_that_join_alike_are_different_requests(client, r):
    # Retry markers used to join messageIds with "\n": ["a\nb"] and ["a","b"] collided and
    # the second request was answered duplicate:true and dropped.
    base = uid("frame")
    ev = lambda m: {"type": "track", "event": "e", "userId": "u", "messageId": m}  # noqa: E731
    first = client.post("/v1/batch", {"batch": [ev(f"{base}-a\n{base}-b")]})
    assert first.status_code == 200 and "duplicate" not in first.json(), first.text
    second = client.post("/v1/batch", {"batch": [ev(f"{base}-a"), ev(f"{base}-b")]})
    assert second.status_code == 200 and "duplicate" not in second.json(), second.text


def test_an_unparsable_client_context_ip_leaves_one_ip_member(client, r):
    user = uid("one-ip")
    resp = client.post("/v1/track", {"userId": user, "event": "e", "context": {"ip": "not-an-ip"}})
    assert resp.status_code == 200, resp.text
    entry = [f for _, f in r.xrange("analytics_events", "-", "+") if user in f.get("events", "")]
    assert len(entry) == 1
    [event] = [e for e in __import__("json").loads(entry[0]["events"]) if e["userId"] == user]
    assert event["context"]["ip"] == client.ip
    assert entry[0]["events"].count('"ip":') == 1
