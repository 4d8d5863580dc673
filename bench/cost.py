#!/usr/bin/env python3
"""What one million events cost: billed Redis commands, Workers requests and CPU, dollars.

Driven by scripts/cost, which starts its own stack. Subcommands:

  measure --out FILE   run the load (wrk + bench/cost.lua) against each runtime and traffic
                       shape, read ``INFO commandstats`` from the real redis-server before
                       and after every run, and write the raw counts as JSON;
  render FILE          print the tables (``--json`` for machine-readable output,
                       ``--markdown`` for the README block).

Billing model (Upstash): every command counts, including each command a Lua script runs,
plus the EVAL itself. redis-server's commandstats counts the same way, so the difference
of ``cmdstat_*:calls`` across a run is the billed count, once this tool's own INFO / XINFO
calls and the local emulator's connection setup (``CLIENT SETINFO``, which Upstash's REST
front never sends) are taken out; both are reported, not hidden.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "bench" / "prices.json"

# Connection set-up commands of the local Upstash emulator's redis-py pool: not billed by
# Upstash (its REST front holds its own connections), so kept out of the billed figure.
NOT_BILLED = {"client|setinfo", "client|setname", "hello", "select", "auth"}

SHAPES = {
    "single": {"events": 1, "connections": 16, "label": "1-event requests, 16 connections"},
    "batch": {"events": 100, "connections": 4, "label": "100-event batches, 4 connections"},
    # Issue 12's group-commit target (<= 0.5 billed commands per event on Workers); not a default shape.
    "single32": {"events": 1, "connections": 32, "label": "1-event requests, 32 connections"},
}
RUNTIME_LABEL = {"workers": "Workers (wrangler dev)", "spin": "Spin (wasmtime serve)"}


# ---------------------------------------------------------------- parsing and arithmetic


def parse_commandstats(text):
    """``INFO commandstats`` text -> {command: calls}."""
    calls = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("cmdstat_"):
            continue
        name, _, fields = line[len("cmdstat_"):].partition(":")
        for field in fields.split(","):
            k, _, v = field.partition("=")
            if k == "calls":
                calls[name] = int(v)
                break
        else:
            raise ValueError(f"commandstats line without calls=: {line!r}")
    return calls


def delta(before, after, own=None):
    """Calls made between two snapshots, split into (billed, not_billed).

    ``own`` holds the commands this tool sent between the snapshots (the first snapshot's
    INFO is counted by redis only after it answered, so it shows up in the difference);
    they are subtracted exactly. A negative count means the server restarted or its
    statistics were reset mid-run: an error, never a silent zero.
    """
    own = dict(own or {})
    billed, not_billed = {}, {}
    for name in sorted(set(before) | set(after)):
        n = after.get(name, 0) - before.get(name, 0) - own.pop(name, 0)
        if n < 0:
            raise ValueError(f"commandstats went backwards for {name} ({n}): redis restarted or CONFIG RESETSTAT ran")
        if n:
            (not_billed if name in NOT_BILLED else billed)[name] = n
    if any(v for v in own.values()):
        raise ValueError(f"own commands not seen in commandstats: {own}")
    return billed, not_billed


def per(counts, n):
    return {k: v / n for k, v in counts.items()} if n else {}


def load_prices(path=PRICES):
    p = json.loads(Path(path).read_text())
    for k in ("checked", "workers", "upstash"):
        if k not in p:
            raise ValueError(f"{path}: missing '{k}'")
    return p


def price_per_command(prices):
    return prices["upstash"]["per_100k_commands"] / 100_000


def cost_row(run, prices, ingest_only=None):
    """Figures of one load run (see measure()). ``ingest_only`` is the same runtime and
    shape measured with the drain after ack off, when this run had it on: the difference
    is the drain's share."""
    req = run["answered"]
    if req <= 0:
        raise ValueError(f"{run['runtime']}/{run['shape']}: no answered requests")
    ev_per_req = run["events_per_request"]
    events = (req - run["non2xx"]) * ev_per_req
    if events <= 0:
        raise ValueError(f"{run['runtime']}/{run['shape']}: no event accepted ({run['non2xx']} non-2xx answers)")
    billed = sum(run["billed"].values())
    ppc = price_per_command(prices)
    row = {
        "runtime": run["runtime"],
        "shape": run["shape"],
        "drain_after_ack": run["drain_after_ack_ms"] > 0,
        "requests": req,
        "non2xx": run["non2xx"],
        "events": events,
        "requests_per_s": req / run["seconds"],
        "events_per_s": events / run["seconds"],
        "p50_ms": run.get("p50_ms"),
        "p99_ms": run.get("p99_ms"),
        "billed_commands": billed,
        "commands_per_request": billed / req,
        "commands_per_event": billed / events,
        "breakdown_per_request": per(run["billed"], req),
        "not_billed": run["not_billed"],
        "redis_usd_per_m_events": billed / events * 1e6 * ppc,
        "max_events_per_s_per_db": prices["upstash"]["max_commands_per_second"] / (billed / events),
    }
    w = prices["workers"]
    if run["runtime"] == "workers":
        cpu_ms_req = run["cpu_ms"] / req
        req_per_m = 1e6 / ev_per_req
        row.update(
            cpu_ms_per_request=cpu_ms_req,
            workers_requests_per_m_events=req_per_m,
            workers_cpu_ms_per_m_events=cpu_ms_req * req_per_m,
            workers_usd_per_m_events=req_per_m / 1e6 * w["per_million_requests"]
            + cpu_ms_req * req_per_m / 1e6 * w["per_million_cpu_ms"],
        )
    else:
        row.update(cpu_ms_per_request=run["cpu_ms"] / req, workers_requests_per_m_events=None,
                   workers_cpu_ms_per_m_events=None, workers_usd_per_m_events=None)
    row["usd_per_m_events"] = row["redis_usd_per_m_events"] + (row["workers_usd_per_m_events"] or 0)
    if ingest_only is not None:
        base = cost_row(ingest_only, prices)
        row["drain_commands_per_event"] = row["commands_per_event"] - base["commands_per_event"]
        row["drain_breakdown_per_request"] = {
            k: row["breakdown_per_request"].get(k, 0) - base["breakdown_per_request"].get(k, 0)
            for k in set(row["breakdown_per_request"]) | set(base["breakdown_per_request"])
        }
    return row


def drain_row(d, prices):
    """The native processor draining a backlog of ``entries`` stream entries."""
    billed = sum(d["billed"].values())
    if d["entries"] <= 0 or d["events"] <= 0:
        raise ValueError(f"drain {d['shape']}: nothing drained")
    per_event = billed / d["events"]
    return {
        "shape": d["shape"],
        "runtime": d["runtime"],
        "entries": d["entries"],
        "events": d["events"],
        "seconds": d["seconds"],
        "billed_commands": billed,
        "commands_per_entry": billed / d["entries"],
        "commands_per_event": per_event,
        "breakdown": d["billed"],
        "redis_usd_per_m_events": per_event * 1e6 * price_per_command(prices),
    }


def break_even(prices, commands_per_event):
    """Events per month at which each fixed plan costs what pay-as-you-go would."""
    ppc = price_per_command(prices)
    out = []
    for plan in prices["upstash"]["fixed_plans"]:
        cmds = plan["per_month"] / ppc
        out.append({"plan": plan["name"], "per_month": plan["per_month"], "commands_per_month": cmds,
                    "events_per_month": cmds / commands_per_event if commands_per_event else None})
    return out


def summarize(results, prices):
    runs = results["runs"]
    by_key = {(r["runtime"], r["shape"], r["drain_after_ack_ms"] > 0): r for r in runs}
    rows = []
    for r in runs:
        base = None
        if r["drain_after_ack_ms"] > 0:
            base = by_key.get((r["runtime"], r["shape"], False))
        rows.append(cost_row(r, prices, base))
    drains = [drain_row(d, prices) for d in results.get("drains", [])]
    idle = results.get("processor_idle")
    if idle:
        cmds = sum(idle["billed"].values())
        idle = dict(idle, commands_per_hour=cmds / idle["seconds"] * 3600,
                    usd_per_month=cmds / idle["seconds"] * 3600 * 24 * 30 * price_per_command(prices))
    # Break-even on the ingest path plus the processor's drain of the same shape.
    drain_by_shape = {}
    for d in drains:
        drain_by_shape.setdefault(d["shape"], d["commands_per_event"])
    be = []
    for row in rows:
        if row["drain_after_ack"]:
            continue
        total = row["commands_per_event"] + drain_by_shape.get(row["shape"], 0)
        be.append({"runtime": row["runtime"], "shape": row["shape"], "commands_per_event": total,
                   "plans": break_even(prices, total)})
    return {"prices_checked": prices["checked"], "meta": results.get("meta", {}), "rows": rows,
            "drains": drains, "processor_idle": idle, "break_even": be, "sizes": results.get("sizes")}


# ---------------------------------------------------------------- formatting


def fmt(x, digits=2):
    if x is None:
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.{digits}f}".rstrip("0").rstrip(".") if "." in f"{x:.{digits}f}" else f"{x:.{digits}f}"


def breakdown_text(b, digits=2):
    items = sorted(b.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{k.upper().replace('|', ' ')} {fmt(v, digits)}" for k, v in items if abs(v) >= 0.5 * 10 ** -digits) or "none"


def count(x):
    return "n/a" if x is None else f"{x:,.0f}"


def millions(x):
    return "n/a" if x is None else f"{x / 1e6:,.1f} M"


def render_markdown(s):
    out = []
    meta = s["meta"]
    code = meta.get("code_commit")
    code = f" (collector code as of {code}{', with uncommitted changes' if meta.get('dirty') else ''})" if code else ""
    out.append(f"Measured {meta.get('date', '?')} on commit {meta.get('commit', '?')}{code} with `scripts/cost` "
               f"(prices checked {s['prices_checked']}, bench/prices.json). Rate limit on (never reached), "
               f"fresh messageIds, processor stopped during the load."
               + (f" Load average {' '.join(meta['loadavg'])} at the start (2 cores, shared: rates move with it; "
                  f"command counts do not)." if meta.get("loadavg") else ""))
    out.append("")
    out.append("| traffic | runtime | drain after ack | requests/s | billed Redis commands per request | per event "
               "| Workers requests / M events | Workers CPU-ms / M events (est.) | $ / M events (Redis + Workers) |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in s["rows"]:
        shape = SHAPES[r["shape"]]["label"]
        usd = f"{fmt(r['usd_per_m_events'])} (Redis {fmt(r['redis_usd_per_m_events'])}"
        usd += f", Workers {fmt(r['workers_usd_per_m_events'], 3)})" if r["workers_usd_per_m_events"] is not None else ")"
        cmd = f"{fmt(r['commands_per_request'])} ({breakdown_text(r['breakdown_per_request'])})"
        drain = "on" if r["drain_after_ack"] else "off"
        if r.get("drain_commands_per_event") is not None:
            drain += f" (+{fmt(r['drain_commands_per_event'], 3)} per event)"
        out.append(f"| {shape} | {RUNTIME_LABEL[r['runtime']]} | {drain} | {fmt(r['requests_per_s'], 0)} | {cmd} "
                   f"| {fmt(r['commands_per_event'], 3)} | {count(r['workers_requests_per_m_events'])} "
                   f"| {count(r['workers_cpu_ms_per_m_events'])} | {usd} |")
    out.append("")
    out.append("Billed commands: `INFO commandstats` of the real redis-server, difference across the run (EVAL and every "
               "command its script ran, as Upstash bills). Workers CPU-ms: CPU time of wrangler dev's workerd processes "
               "(the runtime and its dev proxy) over the run / requests, an estimate on the high side of what Cloudflare "
               "bills. $: pay-as-you-go beyond the included amounts; Spin hosting is not priced. Drain after ack "
               "\"on\" is as deployed (wrangler.toml); \"+x per event\" is its difference to \"off\", the drain's share "
               "(lock tries in the ingest script plus the drain passes in the isolate).")
    if s["drains"]:
        out.append("")
        out.append("| native processor draining the backlog | entries | billed commands per entry | per event | $ / M events |")
        out.append("|---|---|---|---|---|")
        for d in s["drains"]:
            out.append(f"| {SHAPES[d['shape']]['label'].split(',')[0]} (from {RUNTIME_LABEL[d['runtime']]}) | {d['entries']:,} "
                       f"| {fmt(d['commands_per_entry'], 3)} ({breakdown_text(per(d['breakdown'], d['entries']), 3)}) "
                       f"| {fmt(d['commands_per_event'], 4)} | {fmt(d['redis_usd_per_m_events'], 3)} |")
    if s.get("processor_idle"):
        i = s["processor_idle"]
        out.append("")
        out.append(f"Idle processor polling: {fmt(i['commands_per_hour'], 0)} billed commands per hour "
                   f"({breakdown_text(per(i['billed'], i['seconds'] / 3600), 0)} per hour) = "
                   f"${fmt(i['usd_per_month'])} per month per processor.")
    if s["break_even"]:
        plans = s["break_even"][0]["plans"]
        out.append("")
        head = " | ".join(f"{p['plan']} ${p['per_month']}" for p in plans[:4])
        out.append(f"| Upstash fixed plan break-even (events per month; ingest + processor drain) | commands / event | {head} |")
        out.append("|---|---|" + "---|" * len(plans[:4]))
        for b in s["break_even"]:
            cells = " | ".join(millions(p["events_per_month"]) for p in b["plans"][:4])
            out.append(f"| {SHAPES[b['shape']]['label'].split(',')[0]}, {RUNTIME_LABEL[b['runtime']]} | {fmt(b['commands_per_event'], 4)} | {cells} |")
    if s.get("sizes"):
        z = s["sizes"]
        out.append("")
        out.append("Sizes of what was measured: " + "; ".join(
            f"{k} {v['raw'] / 1000:,.0f} KB raw, {v['gzip'] / 1000:,.0f} KB gzip" for k, v in z.items()) + ".")
    return "\n".join(out)


def render_text(s):
    return render_markdown(s)


def replace_block(text, name, body):
    """Replace what lies between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    if text.count(begin) != 1 or text.count(end) != 1 or text.index(begin) > text.index(end):
        raise ValueError(f"expected one '{begin}' ... '{end}' block")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{body.strip()}\n{end}{tail}"


# ---------------------------------------------------------------- measuring


class Redis:
    """Minimal RESP client: no handshake commands, and it counts what it sends, so its own
    calls can be subtracted from commandstats exactly."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.sent = {}

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _read(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis closed the connection")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode()
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def call(self, *args, counts_as=None):
        name = counts_as or args[0].lower()
        self.sent[name] = self.sent.get(name, 0) + 1
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            b = str(a).encode()
            out += f"${len(b)}\r\n".encode() + b + b"\r\n"
        self.sock.sendall(out)
        return self._read()

    def stats(self):
        return parse_commandstats(self.call("INFO", "commandstats"))

    def take_sent(self):
        s, self.sent = self.sent, {}
        return s

    def snap(self):
        """A commandstats snapshot and the commands this client sent since the previous
        snap(). Redis counts an INFO only after answering it, so a snapshot never holds
        its own INFO but the next one does: that INFO is counted into the next interval."""
        own = self.take_sent()
        return self.stats(), own


def proc_cpu_ms(pgid, names):
    """CPU time (user + system) of the processes in process group ``pgid`` whose command
    name starts with one of ``names``, in milliseconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) != pgid or not comm.startswith(tuple(names)):
            continue
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / tick


def stack(*args, env=None):
    e = dict(os.environ, **(env or {}))
    r = subprocess.run([str(ROOT / "scripts" / "stack"), *args], env=e, text=True, capture_output=True)
    if r.returncode:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"cost: scripts/stack {' '.join(args)} failed (exit {r.returncode})")
    return r.stdout


def pid_of(name):
    f = Path(os.environ["STACK_DIR"]) / f"{name}.pid"
    if not f.exists():
        raise SystemExit(f"cost: {f} missing: is the stack's {name} running?")
    return int(f.read_text().strip())


def wrk(url, shape, requests, cap_s, exact=True, log=None):
    sh = SHAPES[shape]
    threads = 2
    per_thread = -(-requests // threads)
    env = dict(os.environ, COST_EVENTS=str(sh["events"]), COST_REQUESTS=str(per_thread))
    cmd = ["wrk", f"-t{threads}", f"-c{sh['connections']}", f"-d{cap_s}s", "--timeout", "10s",
           "-s", str(ROOT / "bench" / "cost.lua"), url]
    done_dir = Path(tempfile.mkdtemp(prefix="cost-wrk-"))
    env["COST_DONE_DIR"] = str(done_dir)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Each wrk thread drops a file once all its ingest answers are in; wrk would otherwise
    # idle until -d. The load's duration is from start to the last thread's file.
    seconds = None
    while proc.poll() is None:
        if len(list(done_dir.iterdir())) >= threads:
            seconds = time.monotonic() - t0
            proc.send_signal(signal.SIGINT)  # wrk stops and prints its summary
            break
        time.sleep(0.02)
    stdout, stderr = proc.communicate()
    if seconds is None:
        seconds = time.monotonic() - t0
    shutil.rmtree(done_dir, ignore_errors=True)
    r = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    if log:
        Path(log).write_text(" ".join(cmd) + "\n" + r.stdout + r.stderr)
    line = next((l for l in r.stdout.splitlines() if l.startswith("COST ")), None)
    if r.returncode or line is None:
        raise SystemExit(f"cost: wrk failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    vals = dict(kv.split("=", 1) for kv in line.split()[1:])
    out = {k: (float(v) if "." in v else int(v)) for k, v in vals.items()}
    out["seconds"] = seconds
    if exact and out["sent"] != out["answered"]:
        raise SystemExit(f"cost: {out['sent'] - out['answered']} of {out['sent']} requests unanswered after "
                         f"{cap_s}s (COST_CAP_SECONDS; {out['socket_errors']} socket errors): counts would not be "
                         f"exact; raise the cap or lower the request count. wrk output: {log}")
    return out


def quiesce(r, max_s=60):
    """Wait until commandstats stop moving (a drain after ack may still be running in
    the isolate after the last answer)."""
    last = r.stats()
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = r.stats()
        moved = {k: v - last.get(k, 0) for k, v in now.items() if k != "info" and v != last.get(k, 0)}
        if not moved:
            return
        last = now
    raise SystemExit(f"cost: Redis still busy {max_s}s after the load ended: is a processor running?")


def measure_run(r, runtime, shape, url, requests, cap_s, drain_ms):
    warm = max(SHAPES[shape]["connections"] * 4, 40)
    sd = Path(os.environ["STACK_DIR"])
    # Warm-up (not measured, need not be exact): first compile, connections, carried metrics.
    wrk(url, shape, warm, min(cap_s, 20), exact=False, log=sd / f"wrk-{runtime}-{shape}-warmup.txt")
    quiesce(r)
    before, _ = r.snap()
    pgid = pid_of("worker" if runtime == "workers" else "spin")
    names = ("workerd",) if runtime == "workers" else ("wasmtime",)
    cpu0 = proc_cpu_ms(pgid, names)
    w = wrk(url, shape, requests, cap_s, log=sd / f"wrk-{runtime}-{shape}-drain{drain_ms}.txt")
    cpu1 = proc_cpu_ms(pgid, names)
    quiesce(r)
    after, own = r.snap()
    billed, not_billed = delta(before, after, own)
    run = dict(runtime=runtime, shape=shape, drain_after_ack_ms=drain_ms, answered=w["answered"],
               non2xx=w["non2xx"], events_per_request=w["events_per_request"], seconds=w["seconds"],
               p50_ms=w["p50_ms"], p99_ms=w["p99_ms"], cpu_ms=cpu1 - cpu0, cpu_processes=list(names),
               billed=billed, not_billed=not_billed)
    print(f"cost: {runtime} {shape} drain_after_ack={drain_ms}: {w['answered']} requests in {w['seconds']:.1f}s, "
          f"{sum(billed.values())} billed commands ({breakdown_text(billed, 0)})", file=sys.stderr)
    return run


def group_info(r, stream, group):
    for g in r.call("XINFO", "GROUPS", stream, counts_as="xinfo|groups") or []:
        d = dict(zip(g[::2], g[1::2]))
        if d.get("name") == group:
            return d
    return None


def last_stream_id(r, stream):
    info = r.call("XINFO", "STREAM", stream, counts_as="xinfo|stream")
    return dict(zip(info[::2], info[1::2])).get("last-generated-id")


def stream_events(r, stream, first_id):
    """Entries and events (field ``n``) after ``first_id``: read after the measurement."""
    entries = events = 0
    cursor = first_id
    while True:
        batch = r.call("XRANGE", stream, f"({cursor}", "+", "COUNT", 1000)
        if not batch:
            return entries, events
        for eid, fields in batch:
            d = dict(zip(fields[::2], fields[1::2]))
            entries += 1
            events += int(d.get("n", 1))
            cursor = eid
        if len(batch) < 1000:
            return entries, events


def measure_drain(r, runtime, shape, stream, group, max_s, idle_s=0):
    """Start the native processor, let it drain the backlog, stop it: billed commands per
    drained entry and event. Optionally keeps it idle ``idle_s`` seconds more."""
    g = group_info(r, stream, group)
    last_id = g["last-delivered-id"] if g else "0-0"
    before, _ = r.snap()
    t0 = time.monotonic()
    stack("start-processor", env={"STACK_PROCESSOR": "yes"})
    deadline = t0 + max_s
    while True:
        g = group_info(r, stream, group)
        if g and g.get("pending") == 0:
            lag = g.get("lag")
            if lag == 0 or (lag is None and g.get("last-delivered-id") == last_stream_id(r, stream)):
                break
        if time.monotonic() > deadline:
            stack("stop-processor")
            raise SystemExit(f"cost: processor did not drain the stream in {max_s}s (group: {g})")
        time.sleep(0.2)
    seconds = time.monotonic() - t0
    idle = None
    if idle_s:
        mid, own = r.snap()
        billed, not_billed = delta(before, mid, own)
        time.sleep(idle_s)
        end, own = r.snap()
        stack("stop-processor")
        ib, _ = delta(mid, end, own)
        idle = {"seconds": idle_s, "billed": ib}
    else:
        stack("stop-processor")
        after, own = r.snap()
        billed, not_billed = delta(before, after, own)
    entries, events = stream_events(r, stream, last_id)
    d = dict(runtime=runtime, shape=shape, entries=entries, events=events, seconds=seconds, billed=billed,
             not_billed=not_billed)
    print(f"cost: processor drained {entries} entries ({events} events) from {runtime} {shape}: "
          f"{sum(billed.values())} billed commands ({breakdown_text(billed, 0)})", file=sys.stderr)
    return d, idle


def file_sizes(paths):
    import gzip as gz
    out = {}
    for label, p in paths.items():
        p = Path(p)
        if p.exists():
            data = p.read_bytes()
            out[label] = {"path": str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p),
                          "raw": len(data), "gzip": len(gz.compress(data, 9))}
    return out


def measure(args):
    r = Redis(int(os.environ["REDIS_PORT"]))
    ports = {"workers": int(os.environ["WORKER_PORT"]), "spin": int(os.environ["SPIN_PORT"])}
    counts = {"single": args.single_requests, "single32": args.single_requests, "batch": args.batch_requests}
    stream, group = "analytics_events", "processors"
    results = {"meta": {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "commit": subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h"], text=True,
                                 capture_output=True).stdout.strip(),
        "code_commit": subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h", "--", "shared", "functions",
                                       "Cargo.toml", "Cargo.lock", "wrangler.toml"], text=True,
                                      capture_output=True).stdout.strip(),
        "dirty": bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "shared", "functions"],
                                     text=True, capture_output=True).stdout.strip()),
        "requests": counts, "cap_seconds": args.cap_seconds,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }, "runs": [], "drains": []}
    idle_done = False
    for runtime in args.runtimes:
        for shape in args.shapes:
            url = f"http://127.0.0.1:{ports[runtime]}"
            results["runs"].append(measure_run(r, runtime, shape, url, counts[shape], args.cap_seconds, 0))
            d, idle = measure_drain(r, runtime, shape, stream, group, args.drain_seconds,
                                    idle_s=0 if idle_done or not args.idle_seconds else args.idle_seconds)
            results["drains"].append(d)
            if idle:
                results["processor_idle"] = idle
                idle_done = True
    if "workers" in args.runtimes and args.drain_after_ack_ms > 0:
        # The same traffic with the drain after ack on, as deployed (wrangler.toml).
        stack("stop-worker")
        stack("start-worker", env={"STACK_DRAIN_AFTER_ACK_MS": str(args.drain_after_ack_ms)})
        for shape in args.shapes:
            url = f"http://127.0.0.1:{ports['workers']}"
            results["runs"].append(measure_run(r, "workers", shape, url, counts[shape], args.cap_seconds,
                                               args.drain_after_ack_ms))
            measure_drain(r, "workers", shape, stream, group, args.drain_seconds)  # clean up, not reported
    sd = Path(os.environ["STACK_DIR"])
    results["sizes"] = file_sizes({
        "Worker wasm (scripts/build-worker: wasm-opt -Oz)": ROOT / "functions/collector/build/index_bg.wasm",
        "Spin collector component": sd / "spin/collector.wasm",
        "Spin processor component": sd / "spin/processor.wasm",
    })
    Path(args.out).write_text(json.dumps(results, indent=1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--out", required=True)
    m.add_argument("--runtimes", nargs="+", default=["workers", "spin"], choices=["workers", "spin"])
    m.add_argument("--shapes", nargs="+", default=["single", "batch"], choices=list(SHAPES))
    m.add_argument("--single-requests", type=int, default=2000)
    m.add_argument("--batch-requests", type=int, default=400)
    m.add_argument("--cap-seconds", type=int, default=90)
    m.add_argument("--drain-seconds", type=int, default=120)
    m.add_argument("--idle-seconds", type=int, default=10)
    m.add_argument("--drain-after-ack-ms", type=int, default=0)
    rm = sub.add_parser("readme", help="rewrite the README's cost block from a measurement")
    rm.add_argument("file")
    rm.add_argument("readme")
    rm.add_argument("--prices", default=str(PRICES))
    rd = sub.add_parser("render")
    rd.add_argument("file")
    rd.add_argument("--json", action="store_true")
    rd.add_argument("--prices", default=str(PRICES))
    a = ap.parse_args(argv)
    if a.cmd == "measure":
        measure(a)
    elif a.cmd == "readme":
        s = summarize(json.loads(Path(a.file).read_text()), load_prices(a.prices))
        readme = Path(a.readme)
        readme.write_text(replace_block(readme.read_text(), "cost", render_markdown(s)))
        print(f"cost: {a.readme}: cost block rewritten")
    else:
        s = summarize(json.loads(Path(a.file).read_text()), load_prices(a.prices))
        print(json.dumps(s, indent=1) if a.json else render_text(s))


if __name__ == "__main__":
    main()
