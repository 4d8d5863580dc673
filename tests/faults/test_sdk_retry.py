"""The Rust SDK retries through a Redis outage: the collector answers 503, the SDK backs off
and retries, and once Redis is back every event lands exactly once."""

import json
import subprocess
import time

from conftest import COLLECTOR_URL, KEY, ROOT, events_by_message_id, stack, uid

SEND = ROOT / "target" / "release" / "examples" / "send"


def test_sdk_retries_after_503_and_delivers_once(r):
    prefix = uid("retry")
    stack("stop-redis")
    try:
        proc = subprocess.Popen([str(SEND), COLLECTOR_URL, KEY, prefix, "40"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(3)  # the first attempts get 503
        assert proc.poll() is None, "the SDK gave up instead of retrying"
    finally:
        stack("start-redis")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["sent"] == 40
    found = events_by_message_id(r, [f"{prefix}-{i}" for i in range(40)])
    assert len(found) == 40 and all(len(v) == 1 for v in found.values())
