"""scripts/verify (the deployment check) against the local stack: passes when everything
is up, fails with a clear message naming ClickHouse when ClickHouse is down."""

import os
import subprocess

from conftest import CLICKHOUSE_READER_PASSWORD, CLICKHOUSE_URL, COLLECTOR_URL, KEY, ROOT, stack


def verify(timeout="30"):
    env = {**os.environ, "CLICKHOUSE_URL": CLICKHOUSE_URL, "CLICKHOUSE_USER": "analytics_reader",
           "CLICKHOUSE_PASSWORD": CLICKHOUSE_READER_PASSWORD, "VERIFY_WRITE_KEY": KEY}
    return subprocess.run(["python3", str(ROOT / "scripts" / "verify"), COLLECTOR_URL, "--timeout", timeout],
                          capture_output=True, text=True, timeout=120, env=env)


def test_verify_passes_against_the_local_stack():
    out = verify()
    assert out.returncode == 0, out.stderr
    assert "verify: OK" in out.stdout


def test_verify_fails_clearly_when_clickhouse_is_down():
    stack("stop-clickhouse")
    try:
        out = verify("5")
    finally:
        stack("start-clickhouse")
    assert out.returncode == 1
    assert "FAILED at health" in out.stderr and "clickhouse" in out.stderr.lower()
