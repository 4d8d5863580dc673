"""Helpers of the dashboard tests: the function's URL on the runtime under test, logins,
tokens forged with the stack's JWT_SECRET (to test refusals), and the committed SQL files
run directly against ClickHouse as the reader."""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import requests

from conftest import CLICKHOUSE_READER_PASSWORD, CLICKHOUSE_URL, ROOT, RUNTIME, fresh_ip, peer_headers

DASHBOARD_URL = os.environ.get(
    "DASHBOARD_URL", "http://127.0.0.1:18792" if RUNTIME == "workers" else "http://127.0.0.1:18793").rstrip("/")
JWT_SECRET = os.environ.get("DASHBOARD_JWT_SECRET", "test-jwt-secret-0123456789abcdef0123456789")
USER = os.environ.get("DASHBOARD_USER", "dev")
PASSWORD = os.environ.get("DASHBOARD_PASSWORD", "test-dashboard-password")
SQL_DIR = ROOT / "shared" / "src" / "dashboard" / "sql"


def key_id(write_key):
    """The write_key_id column of a key: first 16 hex digits of its SHA-256."""
    return hashlib.sha256(write_key.encode()).hexdigest()[:16]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(claims=None, header=None, secret=JWT_SECRET, **overrides):
    """A token signed like the function signs them (HS256), with any claims or header."""
    now = int(time.time())
    body = {"sub": "test", "keys": [], "iat": now, "nbf": now, "exp": now + 3600,
            "jti": uuid.uuid4().hex, "iss": "edge-ingest-dashboard", **(claims or {}), **overrides}
    head = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(body).encode())
    sig = b64(hmac.new(secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest())
    return f"{head}.{payload}.{sig}"


class Dashboard:
    """A client of the dashboard function with its own client address (login bucket)."""

    def __init__(self):
        self.s = requests.Session()
        self.ip = fresh_ip()

    def headers(self, token=None, **extra):
        h = dict(peer_headers(self.ip))
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(extra)
        return h

    def get(self, path, token=None, params=None, headers=None):
        return self.s.get(DASHBOARD_URL + path, params=params, timeout=60,
                          headers=self.headers(token, **(headers or {})))

    def post(self, path, body=None, token=None, raw=None, headers=None):
        data = raw if raw is not None else json.dumps(body).encode()
        return self.s.post(DASHBOARD_URL + path, data=data, timeout=60,
                           headers=self.headers(token, **{"Content-Type": "application/json", **(headers or {})}))

    def login(self, user=USER, password=PASSWORD):
        return self.post("/api/login", {"user": user, "password": password})

    def token(self):
        r = self.login()
        assert r.status_code == 200, r.text
        return r.json()["token"]


def run_sql(endpoint, **params):
    """The endpoint's committed SQL file, run directly against ClickHouse as the reader."""
    sql = (SQL_DIR / f"{endpoint}.sql").read_text()
    # The function sends the file without its header comment lines; so does this.
    lines = sql.splitlines()
    while lines and lines[0].lstrip().startswith("--"):
        lines.pop(0)
    # Posted here rather than with conftest.ch_query, whose `user` argument would take
    # events.sql's `user` parameter.
    q = {"query": "\n".join(lines) + " FORMAT JSONEachRow", **{f"param_{k}": v for k, v in params.items()}}
    resp = requests.post(CLICKHOUSE_URL + "/", params=q, timeout=60,
                         headers={"X-ClickHouse-User": "analytics_reader", "X-ClickHouse-Key": CLICKHOUSE_READER_PASSWORD})
    assert resp.status_code == 200, resp.text
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def ch_time(ms):
    """A DateTime64(3, 'UTC') parameter value."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}"


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
