"""Spin backend calls have a deadline (10 s per phase, like the Workers Upstash timeout): a
Redis front that accepts the connection and never answers gives a 503 with Retry-After,
not a request that hangs. Runs a second `wasmtime serve` of the collector component
against a black-hole port this test opens itself."""

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import KEY, RUNTIME, basic, peer_headers

STACK_DIR = Path(os.environ.get("STACK_DIR", ""))
COMPONENT = STACK_DIR / "spin" / "collector.wasm"
pytestmark = pytest.mark.skipif(
    RUNTIME != "spin" or not COMPONENT.exists() or not shutil.which("wasmtime"),
    reason="the Spin build under wasmtime serve (scripts/test's Spin pass)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_backend_that_never_answers_gives_503_within_the_deadline():
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)
    held = []
    stop = threading.Event()

    def accept():  # accept and hold connections, never answer
        hole.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(hole.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    port = free_port()
    proc = subprocess.Popen(
        ["wasmtime", "serve", "-Scli", "--addr", f"127.0.0.1:{port}",
         "--env", f"ALLOWED_WRITE_KEYS={KEY}", "--env", f"REDIS_URL=http://127.0.0.1:{hole.getsockname()[1]}",
         "--env", "REDIS_TOKEN=t", str(COMPONENT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/livez", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        started = time.time()
        resp = requests.post(f"http://127.0.0.1:{port}/v1/track", json={"userId": "u", "event": "e"},
                             headers={"Authorization": basic(KEY), **peer_headers("198.51.100.77")}, timeout=60)
        took = time.time() - started
        assert resp.status_code == 503, resp.text
        assert resp.headers.get("Retry-After")
        assert resp.json()["code"] == "backend_unavailable"
        assert 9 <= took < 30, f"answered after {took:.1f} s"
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=10)
        for c in held:
            c.close()
        hole.close()
