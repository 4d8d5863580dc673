#!/usr/bin/env python3
"""Dashboard query latency before and after migration 0004's sorting key.

Starts its own local ClickHouse (infra/local/clickhouse_http.py over chdb) on --port with
its data under .local/bench-dashboard/, migrates it to 0003 (events ordered by
(write_key_id, message_id)), generates --events events server side (INSERT ... SELECT ...
FROM numbers(): five projects of different sizes, 90 days, sessions of visitors, page
views, track events with realistic names, referrers, countries, client clock skew, 1 % of
events delivered twice), and runs every dashboard query (`*.sql` in --sql-dir, parameters
from PARAMS below) --runs times. Then it applies 0004 (the migration's own swap and copy,
timed) and runs the same queries again. Per query it prints p50 and p95 latency (seen by
the client, over HTTP) and the rows read (X-ClickHouse-Summary), and it checks that both
keys give the same answer.

  .venv/bin/python bench/dashboard_load.py                      # 10 M events, 15 runs
  .venv/bin/python bench/dashboard_load.py --events 10000 --runs 2   # smoke

Bounded: one load, --runs runs per query and phase, each query with a timeout.
"""

import argparse
import hashlib
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONT = ROOT / "infra" / "local" / "clickhouse_http.py"
MIGRATE = ROOT / "infra" / "clickhouse" / "migrate.py"

PROJECTS = 5  # write keys bench_key_0 .. bench_key_4 hold about 50/25/12/8/5 % of the events
DAYS = 90
END = datetime(2026, 11, 27, tzinfo=timezone.utc)  # the data covers [END - 90 days, END)
# The dashboard's range: the last 7 days, ending mid-afternoon (not on a day boundary).
TO = END - timedelta(hours=9)
FROM = TO - timedelta(days=7)


def key_id(key):
    """write_key_id as the collector stores it: the first 16 hex of sha256(key)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def ts(dt):
    return dt.strftime("%Y-%m-%d %H:%M:%S.000")


# Parameter values: common ones, then per file (by stem). A file's {name:Type} placeholder
# without a value here is an error, so a new parameter cannot be silently left out.
COMMON = {"keys": f"['{key_id('bench_key_0')}']", "from": ts(FROM), "to": ts(TO)}
PARAMS = {
    "overview": {"prev_from": ts(FROM - (TO - FROM))},
    "timeseries": {"interval_s": "3600", "event": "", "by_event": "0", "limit": "10"},
    "top_events": {"limit": "10"},
    "top_pages": {"limit": "10"},
    "top_referrers": {"limit": "10"},
    "countries": {"limit": "10"},
    "sessions": {},
    "funnel": {"steps": "['Product Viewed','Product Added','Checkout Started','Order Completed']", "window_s": "3600"},
    "events": {"cursor_ts": ts(TO), "cursor_id": "", "type": "", "event": "", "user": "", "limit": "50"},
}

TRACK_EVENTS = ["Product Viewed", "Product List Viewed", "Products Searched", "Product Clicked", "Product Added",
                "Cart Viewed", "Checkout Started", "Checkout Step Completed", "Payment Info Entered", "Order Completed",
                "Signed Up", "Logged In", "Logged Out", "Promotion Viewed", "Coupon Applied", "Product Removed",
                "Wishlist Product Added", "Product Shared", "Video Playback Started", "Video Playback Completed",
                "Feature Used", "Settings Updated", "Invite Sent", "Subscription Started"]
PAGE_NAMES = ["", "", "Home", "Product", "Category", "Cart", "Checkout", "Search", "Blog", "Pricing", "Docs", "Account"]
PATHS = ["/", "/pricing", "/blog", "/docs", "/docs/getting-started", "/search", "/cart", "/checkout", "/account",
         "/login", "/signup", "/about", "/contact", "/careers", "/blog/release-notes", "/docs/api", "/category/shoes",
         "/category/shirts", "/category/hats", "/sale"]
REFERRERS = ["https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/", "https://t.co/abc",
             "https://www.facebook.com/", "https://news.ycombinator.com/", "https://www.reddit.com/r/webdev/",
             "https://www.linkedin.com/feed/", "https://github.com/", "https://www.youtube.com/", "https://mail.google.com/",
             "https://stackoverflow.com/questions", "https://www.producthunt.com/", "https://medium.com/"]
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "BR", "CA", "JP", "NL", "ES", "IT", "AU", "PL", "SE", "MX", "KR", "CH", "BE",
             "AT", "IE", "SG", "ZA", "NG", "AR", "TR"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
          "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "analytics-node/2.1.2"]


def arr(values):
    return "[" + ", ".join("'" + v.replace("'", "\\'") + "'" for v in values) + "]"


def skewed(h, n):
    """An index into an n-item list, 1-based, favouring the first items (Zipf-like)."""
    return f"1 + toUInt32(pow(({h} % 1000) / 1000, 2.2) * {n})"


def generate_sql(start, count):
    """INSERT ... SELECT generating events start .. start+count-1 (deterministic)."""
    end_ms = int(END.timestamp() * 1000)
    span_ms = DAYS * 86_400_000
    return f"""
INSERT INTO analytics.events (message_id, type, event, user_id, anonymous_id, group_id, previous_id, write_key_id,
    timestamp, original_timestamp, sent_at, received_at, ip, country, region, city, user_agent, library_name,
    library_version, page_url, page_path, page_referrer, page_title, properties, traits, context, integrations,
    extra, stream_id)
SELECT
    lower(hex(cityHash64(n, 7))) || lower(hex(cityHash64(n, 8))) AS message_id,
    kind AS type,
    multiIf(kind = 'track', {arr(TRACK_EVENTS)}[{skewed('bitShiftRight(he, 16)', len(TRACK_EVENTS))}],
            kind IN ('page', 'screen'), {arr(PAGE_NAMES)}[1 + bitShiftRight(he, 24) % {len(PAGE_NAMES)}], '') AS event,
    if(visitor % 10 < 3, 'user_' || toString(visitor), '') AS user_id,
    'anon-' || lower(hex(cityHash64(proj, visitor))) AS anonymous_id,
    '' AS group_id, '' AS previous_id,
    {arr([key_id(f'bench_key_{p}') for p in range(PROJECTS)])}[proj + 1] AS write_key_id,
    t AS timestamp,
    multiIf(he % 1000 = 0, NULL,                                               -- no client timestamp
            he % 100 = 1, t - toIntervalHour(toInt64(bitShiftRight(he, 40) % 27) - 12),  -- a wrong time zone
            he % 5000 = 2, t - toIntervalDay(2 + bitShiftRight(he, 40) % 38),            -- a wrong date
            t - toIntervalMillisecond(40 + bitShiftRight(he, 40) % 3000)) AS original_timestamp,
    t + toIntervalMillisecond(20) AS sent_at,
    t + toIntervalMillisecond(60 + bitShiftRight(he, 44) % 400) AS received_at,
    IPv4NumToString(toUInt32(cityHash64(proj, visitor, 9) % 4294967295)) AS ip,
    country,
    '' AS region, '' AS city,
    {arr(AGENTS)}[1 + bitShiftRight(hv, 20) % {len(AGENTS)}] AS user_agent,
    if(kind = 'screen', 'analytics-ios', 'analytics.js') AS library_name,
    '5.2.0' AS library_version,
    'https://shop' || toString(proj) || '.example' || path AS page_url,
    path AS page_path,
    if(bitShiftRight(he, 32) % 10 < 4, '', {arr(REFERRERS)}[{skewed('bitShiftRight(he, 36)', len(REFERRERS))}]) AS page_referrer,
    'Shop ' || path AS page_title,
    '{{"plan":"' || ['free', 'pro', 'team'][1 + he % 3] || '","value":' || toString(he % 10000 / 100) || '}}' AS properties,
    '{{}}' AS traits,
    '{{"library":{{"name":"analytics.js","version":"5.2.0"}},"locale":"en-US","page":{{"path":"' || path || '"}}}}' AS context,
    '{{}}' AS integrations, '{{}}' AS extra,
    toString({end_ms} - (he % {span_ms})) || '-0' AS stream_id
FROM
(
    SELECT
        number AS n,
        intDiv(number, 6) AS sess,                          -- six events a session ...
        cityHash64(sess, 1) AS hs,
        cityHash64(number, 2) AS he,
        bitShiftRight(he, 8) % 10 < 2 AS stray,                        -- ... except 20 %: elsewhere, another visitor
        if(stray, cityHash64(number, 3), hs) AS hv,
        multiIf(hv % 100 < 50, 0, hv % 100 < 75, 1, hv % 100 < 87, 2, hv % 100 < 95, 3, 4) AS proj,
        bitShiftRight(hv, 8) % 200000 AS visitor,
        {end_ms} - toInt64(if(stray, cityHash64(number, 4), cityHash64(sess, 5)) % {span_ms})
            + if(stray, 0, toInt64(number % 6) * (20000 + toInt64(he % 100000))) AS t_ms,
        fromUnixTimestamp64Milli(least(t_ms, {end_ms - 1}), 'UTC') AS t,
        multiIf(bitShiftRight(he, 4) % 100 < 45, 'page', bitShiftRight(he, 4) % 100 < 90, 'track', bitShiftRight(he, 4) % 100 < 97, 'identify', 'screen') AS kind,
        if(bitShiftRight(hv, 12) % 100 < 60, {arr(PATHS)}[{skewed('bitShiftRight(hv, 28)', len(PATHS))}],
           '/products/' || toString(bitShiftRight(he, 28) % 400)) AS path,
        {arr(COUNTRIES)}[{skewed('bitShiftRight(hv, 40)', len(COUNTRIES))}] AS country
    FROM numbers({start}, {count})
)"""


def retry_sql(start, count):
    """1 % of the events again, as SDK retries deliver them: same messageId and client
    timestamp, a later sentAt and so another skew-corrected timestamp."""
    return f"""
INSERT INTO analytics.events SELECT * REPLACE (timestamp + toIntervalMillisecond(1500) AS timestamp,
    received_at + toIntervalMillisecond(1500) AS received_at, 'retry' AS stream_id)
FROM analytics.events
WHERE cityHash64(message_id) % 100 = 5  -- (a condition on stream_id would see the REPLACE'd value)
  AND message_id IN (SELECT lower(hex(cityHash64(number, 7))) || lower(hex(cityHash64(number, 8)))
                     FROM numbers({start}, {count}))"""


class Fail(Exception):
    pass


class ClickHouse:
    def __init__(self, url, timeout):
        self.url, self.timeout = url.rstrip("/") + "/", timeout

    def run(self, sql, params=None, settings=None):
        """(body, seconds, X-ClickHouse-Summary) of one query."""
        query = {"wait_end_of_query": "1", **(settings or {})}
        query.update({f"param_{k}": v for k, v in (params or {}).items()})
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(query), data=sql.encode(), method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body = resp.read()
                summary = json.loads(resp.headers.get("X-ClickHouse-Summary") or "{}")
        except urllib.error.HTTPError as e:
            raise Fail(f"ClickHouse answered {e.code}: {e.read().decode(errors='replace').strip()[:500]}\n"
                       f"--- query:\n{sql[:800]}") from None
        except urllib.error.URLError as e:
            raise Fail(f"cannot reach ClickHouse at {self.url}: {e.reason}") from None
        return body, time.perf_counter() - started, summary

    def value(self, sql):
        return self.run(sql)[0].decode().strip()


def free_port(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise Fail(f"port {port} is taken: pass another with --port") from None


def start_engine(data, port, log):
    free_port(port)
    proc = subprocess.Popen([sys.executable, str(FRONT), "--listen", f"127.0.0.1:{port}", "--data", str(data)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Fail(f"local ClickHouse exited with {proc.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise Fail(f"local ClickHouse did not answer on {url} within 60 s")


def migrate(url, *args):
    out = subprocess.run([sys.executable, str(MIGRATE), *args, "--local", "--url", url, "--timeout", "3600"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise Fail(f"migrate.py {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):[^}]+\}")


RANGE_START = re.compile(r"AND timestamp >= \{(\w+):DateTime64\(3, 'UTC'\)\}")
DAY_FILTER = ("AND (event_date BETWEEN toDate32({{{start}:DateTime64(3, 'UTC')}}) - 1 "
              "AND toDate32({{to:DateTime64(3, 'UTC')}}) + 1 OR event_date = toDate32('1970-01-01'))\n  ")


def with_day_filter(sql):
    """The query with STORAGE_CONTRACT.md's event_date condition before each
    `AND timestamp >= {start:...}`, for dashboard SQL that does not carry it yet."""
    if "event_date" in sql:
        return sql
    return RANGE_START.sub(lambda m: DAY_FILTER.format(start=m.group(1)) + m.group(0), sql)


def load_queries(sql_dir, day_filter=False):
    """{stem: (sql, params)} for every .sql file in sql_dir, with values from PARAMS."""
    files = sorted(Path(sql_dir).glob("*.sql"))
    if not files:
        raise Fail(f"no .sql files in {sql_dir}")
    out = {}
    for f in files:
        sql = with_day_filter(f.read_text()) if day_filter else f.read_text()
        values = {**COMMON, **PARAMS.get(f.stem, {})}
        names = set(PLACEHOLDER.findall(sql))
        missing = sorted(names - values.keys())
        if missing:
            raise Fail(f"{f.name} uses parameters with no value in bench/dashboard_load.py PARAMS: {', '.join(missing)}")
        out[f.stem] = (sql, {k: v for k, v in values.items() if k in names})
    return out


def percentile(samples, p):
    """Nearest-rank percentile."""
    s = sorted(samples)
    return s[max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))]


def measure(ch, queries, runs):
    """{stem: {p50_ms, p95_ms, read_rows, answer}}: one warm-up run, then `runs` timed ones."""
    results = {}
    for stem, (sql, params) in queries.items():
        body, _, _ = ch.run(sql, params, {"default_format": "JSONCompact"})
        times, reads = [], set()
        for _ in range(runs):
            again, secs, summary = ch.run(sql, params, {"default_format": "JSONCompact"})
            times.append(secs * 1000)
            reads.add(int(summary.get("read_rows", 0)))
            if json.loads(again)["data"] != json.loads(body)["data"]:
                raise Fail(f"{stem}: two runs on the same data gave different answers")
        results[stem] = {"p50_ms": round(percentile(times, 50), 1), "p95_ms": round(percentile(times, 95), 1),
                         "read_rows": max(reads), "answer": json.loads(body)["data"]}
        print(f"  {stem:<14} p50 {results[stem]['p50_ms']:>8.1f} ms  p95 {results[stem]['p95_ms']:>8.1f} ms"
              f"  rows read {results[stem]['read_rows']:>11,}", flush=True)
    return results


def fill_sessions(ch):
    """Stop the refreshable view (a refresh every minute would run beside the queries) and
    fill analytics.sessions once with the view's own query."""
    ch.run("SYSTEM STOP VIEW analytics.sessions_mv")
    deadline = time.monotonic() + 600
    while ch.value("SELECT countIf(status NOT IN ('Scheduled', 'Disabled')) FROM system.view_refreshes "
                   "WHERE database = 'analytics' AND view = 'sessions_mv'") != "0":
        if time.monotonic() > deadline:
            raise Fail("sessions_mv kept refreshing for 10 minutes")
        time.sleep(0.5)
    select = ch.value("SELECT as_select FROM system.tables WHERE database = 'analytics' AND name = 'sessions_mv' "
                      "FORMAT TSVRaw")
    ch.run("TRUNCATE TABLE analytics.sessions")
    ch.run("INSERT INTO analytics.sessions " + select)
    ch.run("OPTIMIZE TABLE analytics.sessions FINAL")


def markdown(before, after, events, runs):
    lines = [f"| Endpoint ({events:,} events, 7-day range, biggest project, {runs} runs) | before: p50 / p95 | "
             "before: rows read | after: p50 / p95 | after: rows read | same answer |", "|---|---|---|---|---|---|"]
    for stem in before:
        b, a = before[stem], after[stem]
        lines.append(f"| {stem} | {b['p50_ms']:.0f} / {b['p95_ms']:.0f} ms | {b['read_rows']:,} | "
                     f"{a['p50_ms']:.0f} / {a['p95_ms']:.0f} ms | {a['read_rows']:,} | "
                     f"{'yes' if b['answer'] == a['answer'] else 'NO'} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=15, help="timed runs per query and phase (after one warm-up)")
    ap.add_argument("--sql-dir", default=str(ROOT / "shared" / "src" / "dashboard" / "sql"))
    ap.add_argument("--port", type=int, default=19223)
    ap.add_argument("--dir", default=str(ROOT / ".local" / "bench-dashboard"), help="data directory (wiped first)")
    ap.add_argument("--chunk", type=int, default=1_000_000, help="events generated per INSERT")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for one statement")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--add-day-filter", action="store_true",
                    help="add STORAGE_CONTRACT.md's event_date condition to queries that lack it")
    a = ap.parse_args(argv)
    if a.events < 1 or a.runs < 1:
        ap.error("--events and --runs must be positive")
    proc = None
    try:
        queries = load_queries(a.sql_dir, a.add_day_filter)
        work = Path(a.dir)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        log = open(work / "clickhouse.log", "w")
        proc, url = start_engine(work / "data", a.port, log)
        ch = ClickHouse(url, a.timeout)
        print(f"bench: local ClickHouse {url}, data {work}; queries from {a.sql_dir}: {', '.join(queries)}")
        print(migrate(url, "up", "--to", "3").strip())
        ch.run("SYSTEM STOP VIEW analytics.sessions_mv")
        started = time.perf_counter()
        for start in range(0, a.events, a.chunk):
            count = min(a.chunk, a.events - start)
            ch.run(generate_sql(start, count), settings={"async_insert": "0", "max_insert_threads": "2"})
            ch.run(retry_sql(start, count), settings={"async_insert": "0"})
            print(f"bench: generated {start + count:,} events", flush=True)
        load_s = time.perf_counter() - started
        raw = int(ch.value("SELECT count() FROM analytics.events"))
        # The old table lacks event_date; as an ALIAS (computed, not stored, not in the key) the
        # same SQL runs on both keys.
        ch.run("ALTER TABLE analytics.events ADD COLUMN IF NOT EXISTS event_date Date32 "
               "ALIAS toDate32(ifNull(original_timestamp, toDateTime64(0, 3, 'UTC')))")
        ch.run("OPTIMIZE TABLE analytics.events FINAL")
        distinct = int(ch.value("SELECT count() FROM analytics.events FINAL"))
        fill_sessions(ch)
        print(f"bench: loaded {raw:,} rows ({distinct:,} events after FINAL) in {load_s:.1f} s; "
              f"{ch.value('SELECT count() FROM analytics.sessions FINAL')} sessions")
        print("bench: before (ORDER BY write_key_id, message_id)")
        before = measure(ch, queries, a.runs)

        started = time.perf_counter()
        print(migrate(url, "up").strip())
        migrate_s = time.perf_counter() - started
        ch.run("OPTIMIZE TABLE analytics.events FINAL")
        after_distinct = int(ch.value("SELECT count() FROM analytics.events FINAL"))
        if after_distinct != distinct:
            raise Fail(f"0004 changed the number of distinct events: {distinct:,} before, {after_distinct:,} after")
        fill_sessions(ch)
        print(f"bench: 0004 applied in {migrate_s:.1f} s (swap and copy of {raw:,} rows)")
        print("bench: after (ORDER BY write_key_id, event_date, type, event, message_id)")
        after = measure(ch, queries, a.runs)
        table = markdown(before, after, a.events, a.runs)
        print()
        print(table)
        if a.json:
            Path(a.json).write_text(json.dumps({"events": a.events, "rows": raw, "distinct": distinct, "runs": a.runs,
                                                "load_s": load_s, "migrate_s": migrate_s, "before": before,
                                                "after": after}, indent=1))
        differ = [s for s in before if before[s]["answer"] != after[s]["answer"]]
        if differ:
            raise Fail(f"the new key changed the answer of: {', '.join(differ)}")
        return 0
    except Fail as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
