"""Shared fixtures of the black-box suite.

The suite talks to a running stack only through its public surfaces: the collector's base
URL (COLLECTOR_URL, so the same tests run against every runtime), the Redis stream, and
the Upstash REST front. `scripts/test` starts the stack and sets these variables; they
default to the test stack's ports.
"""

import base64
import contextlib
import gzip
import ipaddress
import itertools
import json
import os
import random
import subprocess
import uuid
from pathlib import Path

import pytest
import redis
import requests

COLLECTOR_URL = os.environ.get("COLLECTOR_URL", "http://127.0.0.1:18787").rstrip("/")
# Which runtime serves COLLECTOR_URL: "workers" (wrangler dev) or "spin" (wasmtime serve).
RUNTIME = os.environ.get("RUNTIME", "workers")
UPSTASH_URL = os.environ.get("UPSTASH_URL", "http://127.0.0.1:18079")
UPSTASH_TOKEN = os.environ.get("UPSTASH_TOKEN", "test-token")
REDIS_PORT = int(os.environ.get("REDIS_PORT", "16390"))
CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL", "http://127.0.0.1:18123").rstrip("/")
CLICKHOUSE_READER_PASSWORD = os.environ.get("CLICKHOUSE_READER_PASSWORD", "test-reader")
CLICKHOUSE_WRITER_PASSWORD = os.environ.get("CLICKHOUSE_WRITER_PASSWORD", "test-writer")
STREAM = os.environ.get("REDIS_STREAM_KEY", "analytics_events")
# Bearer token of the deep health routes (/health, /metrics): scripts/test sets it.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "test-metrics-token")
DEEP = {"Authorization": f"Bearer {METRICS_TOKEN}"}
# The test stack allows these keys (scripts/test): a plaintext one, a second plaintext one,
# and one configured only as sha256:<hex>.
KEY = "test_key_a"
OTHER_KEY = "test_key_b"
HASHED_KEY = "test_key_hashed"
ALLOWED_ORIGIN = "https://app.example.com"

_ips = itertools.count(random.randrange(1, 2**17))


def fresh_ip():
    """A client IP no other test uses, so each test has its own rate-limit bucket."""
    return str(ipaddress.IPv4Address("198.18.0.0") + (next(_ips) % (2**17)))


ROOT = Path(__file__).resolve().parents[1]


def stack(cmd, **env):
    """Run scripts/stack (stop-/start- a part of the stack the suite runs against)."""
    subprocess.run([str(ROOT / "scripts" / "stack"), cmd], check=True, timeout=180,
                   env={**os.environ, **env}, stdout=subprocess.DEVNULL)


def basic(key):
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def uid(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def peer_headers(ip):
    """The headers by which each runtime's platform names the client: Cloudflare's edge
    sets CF-Connecting-IP, the Spin host sets spin-client-addr (wasmtime serve sets
    none, so the suite plays the host's part). Other proxy headers are not believed."""
    host = f"[{ip}]" if ":" in ip else ip
    return {"CF-Connecting-IP": ip, "spin-client-addr": f"{host}:40000"}


# A proxy in TRUSTED_PROXIES of the test stack (scripts/test): its X-Forwarded-For, and on
# Spin its CDN location headers, are believed.
PROXY_IP = "203.0.113.7"


def via_proxy(client_ip, **headers):
    """Headers of a request that reached the collector through the trusted proxy."""
    return {**peer_headers(PROXY_IP), "X-Forwarded-For": f"6.6.6.6, {client_ip}", **headers}


class Client:
    """A thin HTTP client for the collector with a per-test client IP."""

    def __init__(self):
        self.session = requests.Session()
        self.ip = fresh_ip()

    def post(self, path, body=None, key=KEY, headers=None, raw=None, gzip_body=False):
        h = {**peer_headers(self.ip), "Content-Type": "application/json"}
        if key is not None:
            h["Authorization"] = basic(key)
        h.update(headers or {})
        data = raw if raw is not None else json.dumps(body).encode()
        if gzip_body:
            data = gzip.compress(data)
            h["Content-Encoding"] = "gzip"
        return self.session.post(COLLECTOR_URL + path, data=data, headers=h, timeout=30)

    def request(self, method, path, headers=None):
        h = peer_headers(self.ip)
        h.update(headers or {})
        return self.session.request(method, COLLECTOR_URL + path, headers=h, timeout=30)


@pytest.fixture
def client():
    return Client()


@pytest.fixture(scope="session")
def r():
    return redis.Redis(port=REDIS_PORT, decode_responses=True)


@contextlib.contextmanager
def unwritable_stream(r):
    """The stream cannot be appended to while inside: the real one (consumer group and
    entries included) is renamed aside and a string put where it lives; both are put back
    after."""
    aside = STREAM + ":aside-for-test"
    assert r.type(STREAM) == "stream"
    r.rename(STREAM, aside)
    try:
        r.set(STREAM, "not a stream")
        yield
    finally:
        r.delete(STREAM)
        r.rename(aside, STREAM)


def stream_entries(r, stream=STREAM):
    return r.xrange(stream, "-", "+")


def stored_events(r, stream=STREAM):
    """Every event in the stream, unpacked from the per-request entries."""
    out = []
    for entry_id, fields in stream_entries(r, stream):
        for ev in json.loads(fields["events"]):
            ev["_entry"] = entry_id
            ev["_fields"] = {k: v for k, v in fields.items() if k != "events"}
            out.append(ev)
    return out


def events_by_message_id(r, ids):
    ids = set(ids)
    found = {}
    for ev in stored_events(r):
        if ev.get("messageId") in ids:
            found.setdefault(ev["messageId"], []).append(ev)
    return found


def events_for_user(r, user_id):
    return [e for e in stored_events(r) if e.get("userId") == user_id or e.get("anonymousId") == user_id]


def dead_letters(r):
    """The collector's rejected events. The processor's dead letters (`source_id`, `reason`,
    `entry`) share the stream and are left out; Redis keeps both across restarts (AOF)."""
    out = []
    for entry_id, fields in stream_entries(r, STREAM + ":invalid"):
        if "rejects" not in fields:
            continue
        for rej in json.loads(fields["rejects"]):
            rej["_entry"] = entry_id
            rej["_fields"] = fields
            out.append(rej)
    return out


def ch_query(sql, user="analytics_reader", password=None, **params):
    """Run a query on ClickHouse over HTTP; returns parsed JSONEachRow rows."""
    password = CLICKHOUSE_READER_PASSWORD if password is None else password
    q = {"query": sql + " FORMAT JSONEachRow", **{f"param_{k}": v for k, v in params.items()}}
    resp = requests.post(CLICKHOUSE_URL + "/", params=q, timeout=60,
                         headers={"X-ClickHouse-User": user, "X-ClickHouse-Key": password})
    assert resp.status_code == 200, resp.text
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def wait_for_rows(sql, expected, timeout=30, **params):
    """Poll until the query's single count equals `expected`; returns the last value."""
    import time
    deadline = time.time() + timeout
    while True:
        got = int(list(ch_query(sql, **params)[0].values())[0])
        if got >= expected or time.time() > deadline:
            return got
        time.sleep(0.2)
