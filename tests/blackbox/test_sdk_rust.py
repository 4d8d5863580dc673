"""The Rust SDK (sdk/rust) against the collector: every call type lands with its fields,
signed requests pass for a key that requires them, unsigned ones are refused."""

import json
import subprocess

from conftest import COLLECTOR_URL, KEY, ROOT, events_by_message_id, uid

SEND = ROOT / "target" / "release" / "examples" / "send"
SIGNED_KEY, SIGNING_SECRET = "test_key_signed", "test-signing-secret"


def run_sender(prefix, count, key=KEY, secret=None, timeout=120):
    args = [str(SEND), COLLECTOR_URL, key, prefix, str(count)] + ([secret] if secret else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_rust_sdk_events_land_with_their_fields(r):
    prefix = uid("rs")
    report = run_sender(prefix, 250)
    assert report == {"sent": 250, "dropped": 0, "queued": 0, "error": None}
    found = events_by_message_id(r, [f"{prefix}-{i}" for i in range(250)])
    assert len(found) == 250 and all(len(v) == 1 for v in found.values())
    kinds = {found[f"{prefix}-{i}"][0]["type"] for i in range(6)}
    assert kinds == {"track", "identify", "page", "screen", "group", "alias"}
    track = found[f"{prefix}-0"][0]
    assert track["event"] == "Order Completed" and track["properties"] == {"revenue": 19.5, "index": 0}
    assert track["context"]["library"]["name"] == "ingest-sdk-rust"
    assert track["context"]["app"] == {"name": "sdk-test"}
    assert found[f"{prefix}-4"][0]["groupId"] == "acme"
    assert found[f"{prefix}-5"][0]["previousId"] == "anon-1"


def test_signed_requests_pass_and_unsigned_ones_are_refused(r):
    prefix = uid("signed")
    assert run_sender(prefix, 3, key=SIGNED_KEY, secret=SIGNING_SECRET)["sent"] == 3
    assert len(events_by_message_id(r, [f"{prefix}-{i}" for i in range(3)])) == 3
    refused = run_sender(uid("unsigned"), 3, key=SIGNED_KEY)
    assert refused["sent"] == 0 and "401" in refused["error"] and "signature" in refused["error"].lower()
    wrong = run_sender(uid("wrong"), 1, key=SIGNED_KEY, secret="not-the-secret")
    assert wrong["sent"] == 0 and "401" in wrong["error"]


def test_the_send_example_explains_its_usage_instead_of_panicking():
    import subprocess
    for args, why in (([], "are required"), ([COLLECTOR_URL, KEY, "p", "many"], "COUNT must be"),
                      (["ftp://x", KEY, "p", "1"], "http(s) URL")):
        out = subprocess.run([str(SEND), *args], capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and "usage: send" in out.stderr and why in out.stderr, (args, out.stderr)
        assert "panicked" not in out.stderr
    ok = subprocess.run([str(SEND), "--help"], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and ok.stdout.startswith("usage: send")
