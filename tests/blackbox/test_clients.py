"""Reference clients against the local stack: the unmodified Segment Node SDK against the
collector, and the real @upstash/redis client against the local Upstash REST server."""

import json
import os
import subprocess
from pathlib import Path

from conftest import COLLECTOR_URL, KEY, UPSTASH_TOKEN, UPSTASH_URL, events_by_message_id, uid

ROOT = Path(__file__).resolve().parents[2]
NODE = str(ROOT / "node_modules" / ".bin" / "node")


def run_node(script, *args):
    env = dict(os.environ, NODE_PATH=str(ROOT / "node_modules"))
    out = subprocess.run([NODE, str(ROOT / "tests" / "js" / script), *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_segment_analytics_node_batch_lands_with_every_field(r):
    user = uid("sdk")
    result = run_node("analytics_node.mjs", COLLECTOR_URL, KEY, user)
    assert result["errors"] == []
    ids = [s["messageId"] for s in result["sent"]]
    found = events_by_message_id(r, ids)
    assert sorted(found) == sorted(ids)
    for s in result["sent"]:
        [got] = found[s["messageId"]]
        assert got["type"] == s["method"]
        assert got["userId"] == user
        for field in ("event", "name", "category", "groupId", "previousId", "traits", "integrations"):
            if field in s:
                assert got[field] == s[field], field
        # the SDK adds name/category to page properties; everything it sent must be there
        for k, v in s.get("properties", {}).items():
            assert got["properties"][k] == v, k
        assert got["context"]["library"]["name"] == "@segment/analytics-node"
        assert got["receivedAt"] and got["sentAt"]
    track = found[f"{user}-track"][0]
    assert track["originalTimestamp"] == "2024-05-01T10:00:00.000Z"
    assert track["context"]["campaign"] == {"source": "newsletter"}


def test_upstash_redis_npm_client_works_against_the_local_server():
    p = uid("compat")
    out = run_node("upstash_client.mjs", UPSTASH_URL, UPSTASH_TOKEN, p)
    assert out["ping"] == "PONG"
    assert out["set"] == "OK"
    assert out["get"] == "välue ✓"
    assert out["incr"] == 1 and out["pexpire"] == 1
    assert "-" in out["xadd"] and out["xlen"] == 1
    [[entry_id, fields]] = out["xrange"]
    assert entry_id == out["xadd"] and fields == ["events", '[{"a":1}]', "n", "1"]
    assert out["eval"] == [f"{p}:e", "x", 1]
    assert out["pipeline"] == [1, 2, "2"]
    assert out["multi"] == ["OK", 2, "ab"]
    assert "not an integer" in out["errorReply"]
    assert out["badToken"] and "Unauthorized" in out["badToken"]
