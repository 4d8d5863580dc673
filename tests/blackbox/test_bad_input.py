"""The bad-input table: hostile and malformed requests, each with the precise status and
error code the collector answers, run against every runtime. docs/BAD_INPUT.md is this
table in prose; `python tests/blackbox/test_bad_input.py` prints it, and a test checks the
two agree.

Write keys are public (every page that loads analytics.js has one), so every case here
is one anybody on the internet can send."""

import gzip
import hashlib
import hmac
import json
import os
import sys
import time
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import ALLOWED_ORIGIN, COLLECTOR_URL, KEY, basic, fresh_ip, peer_headers  # noqa: E402

SIGNED_KEY, SIGNING_SECRET = "test_key_signed", "test-signing-secret"
DOC = Path(__file__).resolve().parents[2] / "docs" / "BAD_INPUT.md"
EV = {"type": "track", "event": "e", "userId": "u"}


def batch(*events, **top):
    return json.dumps({"batch": list(events), **top}).encode()


def sign_v2(body, path="/v1/batch", ts=None, method="POST"):
    ts = int(time.time()) if ts is None else ts
    msg = b"v2\n" + method.encode() + b"\n" + path.encode() + b"\n" + str(ts).encode() + b"\n" + body
    mac = hmac.new(SIGNING_SECRET.encode(), msg, hashlib.sha256).hexdigest()
    return {"X-Signature": f"v2={mac}", "X-Signature-Timestamp": str(ts)}


def signed(body, **kw):
    return {"Authorization": basic(SIGNED_KEY), **sign_v2(body, **kw)}


BIG_CONTEXT = {"pad": "x" * 30_000}
GZIP_BOMB = gzip.compress(b" " * 10_000_000)
AMPLIFIER = gzip.compress(batch(*([EV] * 3000), context=BIG_CONTEXT))

# (case, method, path, headers, body, status, code). `body` may be a callable (built
# lazily) and `headers` may carry "Authorization": None to send no write key.
CASES = [
    # malformed bodies
    ("empty body", "POST", "/v1/batch", {}, b"", 400, "malformed_body"),
    ("whitespace body", "POST", "/v1/batch", {}, b"  \n ", 400, "malformed_body"),
    ("body is not UTF-8", "POST", "/v1/batch", {}, b"\xff\xfe{}", 400, "malformed_body"),
    ("body is a JSON array", "POST", "/v1/batch", {}, b'["k",[1]]', 400, "malformed_body"),
    ("body is a JSON number", "POST", "/v1/track", {}, b"42", 400, "malformed_body"),
    ("truncated JSON", "POST", "/v1/batch", {}, b'{"batch":[{"type":', 400, "malformed_body"),
    ("duplicate batch member", "POST", "/v1/batch", {}, b'{"batch":[],"batch":[1]}', 400, "malformed_body"),
    ("batch is not an array", "POST", "/v1/batch", {}, b'{"batch":{"type":"track"}}', 400, "malformed_body"),
    ("batch is empty", "POST", "/v1/batch", {}, b'{"batch":[]}', 400, "malformed_body"),
    ("batch member missing", "POST", "/v1/batch", {}, b'{"events":[]}', 400, "malformed_body"),
    # events that are all invalid
    ("batch of numbers", "POST", "/v1/batch", {}, b'{"batch":[1,1,1]}', 400, "invalid_events"),
    ("no userId or anonymousId", "POST", "/v1/batch", {}, batch({"type": "track", "event": "e"}), 400, "invalid_events"),
    ("unknown type", "POST", "/v1/batch", {}, batch({"type": "buy", "userId": "u"}), 400, "invalid_events"),
    ("event over 32 KB", "POST", "/v1/batch", {}, batch({**EV, "properties": {"p": "x" * 40_000}}), 400, "invalid_events"),
    ("messageId over 255 bytes", "POST", "/v1/batch", {}, batch({**EV, "messageId": "m" * 300}), 400, "invalid_events"),
    ("userId is an object", "POST", "/v1/batch", {}, batch({"type": "track", "event": "e", "userId": {"a": 1}}), 400, "invalid_events"),
    ("timestamp not ISO-8601", "POST", "/v1/batch", {}, batch({**EV, "timestamp": "yesterday"}), 400, "invalid_events"),
    ("timestamp year 0000 with offset", "POST", "/v1/batch", {}, batch({**EV, "timestamp": "0000-01-01T00:00:00+01:00"}), 400, "invalid_events"),
    ("timestamp year 9999 with offset", "POST", "/v1/batch", {}, batch({**EV, "timestamp": "9999-12-31T23:59:59+05:00"}), 400, "invalid_events"),
    ("properties is a string", "POST", "/v1/batch", {}, batch({**EV, "properties": "x"}), 400, "invalid_events"),
    ("track without event name", "POST", "/v1/track", {}, b'{"userId":"u"}', 400, "invalid_events"),
    # write keys
    ("no write key", "POST", "/v1/batch", {"Authorization": None}, batch(EV), 401, "missing_write_key"),
    ("unknown write key", "POST", "/v1/batch", {"Authorization": basic("nope")}, batch(EV), 401, "invalid_write_key"),
    ("Authorization not Basic", "POST", "/v1/batch", {"Authorization": "Bearer " + KEY}, batch(EV), 401, "missing_write_key"),
    ("writeKey in body is a number", "POST", "/v1/batch", {"Authorization": None}, batch(EV, writeKey=7), 401, "missing_write_key"),
    # signatures (test_key_signed must sign)
    ("signed key without signature", "POST", "/v1/batch", {"Authorization": basic(SIGNED_KEY)}, batch(EV), 401, "invalid_signature"),
    ("wrong signature", "POST", "/v1/batch", {"Authorization": basic(SIGNED_KEY), "X-Signature": "v2=" + "0" * 64,
                                               "X-Signature-Timestamp": str(int(time.time()))}, batch(EV), 401, "invalid_signature"),
    ("signature timestamp i64::MIN", "POST", "/v1/batch", {"Authorization": basic(SIGNED_KEY), "X-Signature": "v2=00",
                                                            "X-Signature-Timestamp": str(-2**63)}, batch(EV), 401, "invalid_signature"),
    ("signature timestamp not a number", "POST", "/v1/batch", {"Authorization": basic(SIGNED_KEY), "X-Signature": "v2=00",
                                                               "X-Signature-Timestamp": "soon"}, batch(EV), 401, "invalid_signature"),
    ("v2 signature made for another path", "POST", "/v1/batch", lambda: signed(batch(EV), path="/v1/track"),
     batch(EV), 401, "invalid_signature"),
    ("v2 signature made for another method", "POST", "/v1/batch", lambda: signed(batch(EV), method="PUT"),
     batch(EV), 401, "invalid_signature"),
    ("signature timestamp 10 minutes old", "POST", "/v1/batch", lambda: signed(batch(EV), ts=int(time.time()) - 600),
     batch(EV), 401, "invalid_signature"),
    # browser origins (the test stack allows https://app.example.com and https://*.shop.example)
    ("origin not allowed", "POST", "/v1/batch", {"Origin": "https://evil.example"}, batch(EV), 403, "origin_not_allowed"),
    ("origin wildcard bypass by path", "POST", "/v1/batch", {"Origin": "https://evil.com/.shop.example"}, batch(EV), 403, "origin_not_allowed"),
    ("origin wildcard bypass by suffix", "POST", "/v1/batch", {"Origin": "https://evilshop.example"}, batch(EV), 403, "origin_not_allowed"),
    ("origin null (sandboxed frame)", "POST", "/v1/batch", {"Origin": "null"}, batch(EV), 403, "origin_not_allowed"),
    # encodings and sizes
    ("Content-Encoding br", "POST", "/v1/batch", {"Content-Encoding": "br"}, batch(EV), 415, "unsupported_content_encoding"),
    ("gzip header, body not gzip", "POST", "/v1/batch", {"Content-Encoding": "gzip"}, batch(EV), 400, "malformed_body"),
    ("gzip bomb (10 MB of spaces in 10 KB)", "POST", "/v1/batch", {"Content-Encoding": "gzip"}, GZIP_BOMB, 413, "payload_too_large"),
    ("body over 512,000 bytes", "POST", "/v1/batch", {}, b" " * 600_000, 413, "payload_too_large"),
    ("chunked body over the cap (no Content-Length)", "POST", "/v1/batch", {}, lambda: iter([b" " * 65536] * 10),
     413, "payload_too_large"),
    ("more than 5,000 events", "POST", "/v1/batch", {}, b'{"batch":[' + b"1," * 5001 + b"1]}", 413, "batch_too_large"),
    ("batch-level context over 32 KB", "POST", "/v1/batch", {}, batch(EV, context={"pad": "x" * 40_000}), 413, "batch_too_large"),
    ("batch context x 3,000 events in a 2 KB gzip body", "POST", "/v1/batch", {"Content-Encoding": "gzip"}, AMPLIFIER,
     413, "batch_too_large"),
    # routes and methods
    ("GET on an ingest route", "GET", "/v1/batch", {}, b"", 405, "method_not_allowed"),
    ("PUT on an ingest route", "PUT", "/v1/track", {}, batch(EV), 405, "method_not_allowed"),
    ("unknown route", "POST", "/v2/batch", {}, batch(EV), 404, "not_found"),
    ("settings with a forged Host", "GET", f"/v1/projects/{KEY}/settings", {"Host": "evil..example"}, b"", 400, "invalid_host"),
    ("health without the metrics token", "GET", "/health", {}, b"", 401, "-"),
    ("metrics with a wrong token", "GET", "/metrics", {"Authorization": "Bearer nope"}, b"", 401, "-"),
]


def send(method, path, headers, body):
    h = {**peer_headers(fresh_ip()), "Authorization": basic(KEY), "Content-Type": "application/json"}
    h.update(headers() if callable(headers) else headers)
    h = {k: v for k, v in h.items() if v is not None}
    data = body() if callable(body) else body
    return requests.request(method, COLLECTOR_URL + path, data=data, headers=h, timeout=60)


@pytest.mark.parametrize("case,method,path,headers,body,status,code", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_its_precise_answer(case, method, path, headers, body, status, code):
    resp = send(method, path, headers, body)
    assert resp.status_code == status, f"{case}: {resp.status_code} {resp.text[:300]}"
    if code != "-":
        assert resp.json()["code"] == code, resp.text[:300]
    assert len(resp.content) < 16 * 1024, f"{case}: a {len(resp.content)}-byte answer"


def test_many_invalid_events_next_to_a_valid_one_get_a_bounded_answer():
    body = b'{"batch":[' + json.dumps(EV).encode() + b"," + b"1," * 3999 + b"1]}"
    resp = send("POST", "/v1/batch", {}, body)
    assert resp.status_code == 200, resp.text[:300]
    v = resp.json()
    assert v["accepted"] == 1 and v["rejected_count"] == 4000 and len(v["rejected"]) == 100
    assert len(resp.content) < 16 * 1024


def test_a_replayed_v2_signature_is_refused():
    body = batch(EV)
    headers = signed(body)
    first = send("POST", "/v1/batch", headers, body)
    assert first.status_code == 200, first.text
    again = send("POST", "/v1/batch", headers, body)
    assert again.status_code == 401 and "already used" in again.json()["message"], again.text


def test_the_docs_table_lists_every_case():
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].isdigit():
            rows[cells[1]] = (cells[3], cells[4].strip("`"))
    for case, _m, _p, _h, _b, status, code in CASES:
        assert rows.get(case) == (str(status), code), f"docs/BAD_INPUT.md: {case}"
    assert len(CASES) >= 40


def render_doc():
    out = [
        "# Bad input: what the collector answers",
        "",
        "Write keys are public, so anyone can send anything. Each row is a black-box test",
        "(`tests/blackbox/test_bad_input.py`) run against every runtime (Workers under",
        "`wrangler dev`, Spin under `wasmtime serve`). Every answer is JSON with `success:",
        "false`, the `code` below and a `message` naming the field; none is larger than 16 KB.",
        "Regenerate this table with `python3 tests/blackbox/test_bad_input.py > docs/BAD_INPUT.md`.",
        "",
        "| # | case | request | status | code |",
        "|---|---|---|---|---|",
    ]
    for i, (case, method, path, _h, _b, status, code) in enumerate(CASES, 1):
        out.append(f"| {i} | {case} | `{method} {path}` | {status} | `{code}` |")
    out += [
        "",
        "Also tested: one valid event in front of 4,000 invalid ones is accepted (200) with the",
        "first 100 rejects listed and `rejected_count: 4000`; a v2 signature sent twice is",
        "refused the second time (401 `invalid_signature`, \"already used\"); the 101st request",
        "of a client in a window is 429 `rate_limited`, and neither forged `X-Forwarded-For`",
        "values nor rotating IPv6 addresses inside one /64 escape it (`test_identity.py`).",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(render_doc(), end="")
