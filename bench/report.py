#!/usr/bin/env python3
"""Rewrite the README's bench table from one `scripts/bench` run (scripts/bench --report).

Reads what scripts/bench left in its stack directory: wrk-<runtime>.txt (wrk output with
bench/batch100.lua's summary line), sdk-<runtime>.txt (the throughput example's line),
sizes.txt (label, raw bytes, gzip bytes, path) and, when present, ratio-native.txt and
ratio-wasm.txt (shared/examples/ratio's `ratio:` lines), and replaces the block between
``<!-- bench:begin -->`` and ``<!-- bench:end -->``. A missing or unparsable input is an
error naming the file: the table is regenerated whole or not at all.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from cost import replace_block  # noqa: E402

RUNTIMES = {"workers": "Workers build under `wrangler dev`", "spin": "Spin build under `wasmtime serve`"}
SIZE_LABELS = {
    "worker": "Worker wasm (`scripts/build-worker`: worker-build, wasm-opt -Oz, no names section; `index_bg.wasm`)",
    "spin-collector": "Spin collector component (`wasm32-wasip2` release, no wasm-opt)",
    "spin-processor": "Spin processor component",
    "spin-health": "Spin health component",
}

WRK_SUMMARY = re.compile(r"requests (\d+), events (\d+), non-2xx (\d+), p50 ([\d.]+) ms, p95 ([\d.]+) ms, p99 ([\d.]+) ms")
WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
RATIO = re.compile(r"^ratio: (\S+): plan ([\d.]+) µs/request \(([\d.]+) µs/event\), floor ([\d.]+) µs/request, "
                   r"ratio ([\d.]+)", re.M)
RATIO_RUNS = {
    "native": ("native (x86_64)", "`cargo run --release -p ingest-core --example ratio`"),
    "wasm": ("WASM (`wasm32-wasip1` under wasmtime, no wasm-opt)",
             "`cargo build --release -p ingest-core --example ratio --target wasm32-wasip1`, "
             "`wasmtime run target/wasm32-wasip1/release/examples/ratio.wasm`"),
}
SDK = re.compile(r"throughput: (\d+) events sent in ([\d.]+) s = (\d+) events/s \(dropped (\d+)")


def parse_wrk(text, name):
    s, r = WRK_SUMMARY.search(text), WRK_RATE.search(text)
    if not s or not r:
        raise ValueError(f"{name}: no wrk summary (batch100.lua's 'requests …' line and 'Requests/sec')")
    e = WRK_ERRORS.search(text)
    return {"requests": int(s[1]), "events": int(s[2]), "non2xx": int(s[3]), "p50": float(s[4]),
            "p95": float(s[5]), "p99": float(s[6]), "rps": float(r[1]),
            "socket_errors": sum(map(int, e.groups())) if e else 0}


def parse_sdk(text, name):
    m = SDK.search(text)
    if not m:
        raise ValueError(f"{name}: no 'throughput: … events/s' line")
    return {"events": int(m[1]), "seconds": float(m[2]), "eps": int(m[3]), "dropped": int(m[4])}


def parse_ratio(text, name):
    rows = [{"workload": m[1], "plan_us": float(m[2]), "plan_us_event": float(m[3]), "floor_us": float(m[4]),
             "ratio": float(m[5])} for m in RATIO.finditer(text)]
    if not rows:
        raise ValueError(f"{name}: no 'ratio: <workload>: plan … µs/request' line")
    return rows


def us(x):
    return f"{x / 1000:,.2f} ms" if x >= 1000 else f"{x:,.1f} µs"


def parse_sizes(text):
    out = {}
    for line in text.splitlines():
        label, raw, gz, path = line.split("\t")
        out[label] = {"raw": int(raw), "gzip": int(gz), "path": path}
    return out


def kb(n):
    return f"{n / 1000:,.0f} KB"


def render(d, seconds, conn, sdk_events, meta):
    rows = ["| What | Number | Command |", "|---|---|---|"]
    for label, text in SIZE_LABELS.items():
        if label in d["sizes"]:
            z = d["sizes"][label]
            rows.append(f"| {text} | {kb(z['raw'])} raw, {kb(z['gzip'])} gzip -9 | `scripts/bench` (`{z['path']}`) |")
    for rt, label in RUNTIMES.items():
        if rt in d["wrk"]:
            w = d["wrk"][rt]
            errs = w["non2xx"] + w["socket_errors"]
            rows.append(f"| Collector, 100-event batches, real Redis (AOF on), {conn} connections, {seconds} s: {label} "
                        f"| {w['rps']:,.0f} requests/s = {w['rps'] * 100:,.0f} events/s, p50 {w['p50']:g} ms, "
                        f"p99 {w['p99']:g} ms, {errs} errors | `BENCH_SECONDS={seconds} scripts/bench` |")
    sdk = " , ".join(f"{d['sdk'][rt]['eps']:,} events/s to {'`wrangler dev`' if rt == 'workers' else 'the Spin build'}"
                     for rt in RUNTIMES if rt in d["sdk"])
    if sdk:
        rows.append(f"| One native Rust SDK client (100-event gzipped batches, one in flight, {sdk_events:,} events) "
                    f"| {sdk.replace(' , ', ', ')} | `scripts/bench` (runs `sdk/rust/examples/throughput`) |")
    for run, (label, command) in RATIO_RUNS.items():
        if run in d.get("ratio", {}):
            cells = "; ".join(f"{r['workload']}: {r['ratio']:.2f}x ({us(r['plan_us'])} vs {us(r['floor_us'])})"
                              for r in d["ratio"][run])
            rows.append(f"| Planning a batch (parse, auth, validate, enrich, encode the Upstash call) vs the naive floor "
                        f"(the same body into a `serde_json::Value` and back to text), best of 5 rounds: {label} "
                        f"| {cells} | {command} |")
    load = f", load average {meta['loadavg']} before the runs" if meta.get("loadavg") else ""
    head = (f"From one `scripts/bench --report` run on {meta['date']}, commit {meta['commit']} (this 2-core machine is "
            f"shared{load}: rates move with what else runs). Regenerated whole; do not edit by hand.")
    return head + "\n\n" + "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stack_dir")
    ap.add_argument("readme")
    ap.add_argument("--seconds", type=int, required=True)
    ap.add_argument("--conn", type=int, required=True)
    ap.add_argument("--sdk-events", type=int, required=True)
    a = ap.parse_args(argv)
    sd = Path(a.stack_dir)
    d = {"wrk": {}, "sdk": {}, "sizes": parse_sizes((sd / "sizes.txt").read_text())}
    for rt in RUNTIMES:
        if (sd / f"wrk-{rt}.txt").exists():
            d["wrk"][rt] = parse_wrk((sd / f"wrk-{rt}.txt").read_text(), f"wrk-{rt}.txt")
            d["sdk"][rt] = parse_sdk((sd / f"sdk-{rt}.txt").read_text(), f"sdk-{rt}.txt")
    d["ratio"] = {run: parse_ratio((sd / f"ratio-{run}.txt").read_text(encoding="utf-8"), f"ratio-{run}.txt")
                  for run in RATIO_RUNS if (sd / f"ratio-{run}.txt").exists()}
    if not d["wrk"]:
        raise SystemExit(f"report: no wrk-*.txt in {sd}")
    meta = {"date": time.strftime("%Y-%m-%d", time.gmtime()),
            "commit": subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h"], text=True,
                                     capture_output=True).stdout.strip()}
    if (sd / "loadavg.txt").exists():
        meta["loadavg"] = (sd / "loadavg.txt").read_text().strip()
    readme = Path(a.readme)
    readme.write_text(replace_block(readme.read_text(), "bench", render(d, a.seconds, a.conn, a.sdk_events, meta)))
    print(f"bench: {a.readme}: bench table rewritten from {sd}")


if __name__ == "__main__":
    main()
