"""The migrations on the real engine (chdb behind infra/local/clickhouse_http.py, on its own
port and data directory): up, down and up again keep every row; under 0004's key a retried
event (same messageId and client timestamp, another skew-corrected timestamp) is one row,
and a dashboard-style query that filters on event_date reads only its days."""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = ROOT / "infra" / "clickhouse" / "migrate.py"
FRONT = ROOT / "infra" / "local" / "clickhouse_http.py"

# (message_id, write_key_id, timestamp (corrected), original_timestamp, received_at)
ROWS = [
    ("retry-1", "k1", "2026-11-20 10:00:00.100", "2026-11-20 09:59:59.000", "2026-11-20 10:00:00.200"),
    # the same event delivered again an hour later: another sentAt, so another corrected time
    ("retry-1", "k1", "2026-11-20 10:00:03.900", "2026-11-20 09:59:59.000", "2026-11-20 11:00:00.000"),
    # a retry that straddles midnight and a month boundary of received_at
    ("retry-2", "k1", "2026-11-30 23:59:59.950", "2026-11-30 23:59:59.000", "2026-11-30 23:59:59.990"),
    ("retry-2", "k1", "2026-12-01 00:00:00.400", "2026-11-30 23:59:59.000", "2026-12-01 00:05:00.000"),
    # no client timestamp: the 1970-01-01 bucket, still deduplicated by messageId
    ("no-client-ts", "k1", "2026-11-20 12:00:00.000", None, "2026-11-20 12:00:00.000"),
    ("no-client-ts", "k1", "2026-11-20 12:00:09.000", None, "2026-11-20 12:00:09.000"),
    # a client clock before 1970 (a reset device): Date32 keeps it, Date would wrap around
    ("old-clock", "k1", "2026-11-20 08:00:00.000", "1960-01-01 00:00:00.000", "2026-11-20 08:00:00.000"),
    ("other-key", "k2", "2026-11-20 10:00:00.000", "2026-11-20 10:00:00.000", "2026-11-20 10:00:00.000"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    port = free_port()
    data = tmp_path_factory.mktemp("chdb")
    proc = subprocess.Popen([sys.executable, str(FRONT), "--listen", f"127.0.0.1:{port}", "--data", str(data)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/ping", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local ClickHouse did not start on {url}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def migrate(url, *args):
    out = subprocess.run([sys.executable, str(MIGRATE), *args, "--local", "--url", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def query(url, sql, **params):
    resp = requests.post(url, params={f"param_{k}": v for k, v in params.items()}, data=sql, timeout=30)
    assert resp.ok, resp.text
    return resp


def rows(url, sql, **params):
    return [json.loads(line) for line in query(url, sql + " FORMAT JSONEachRow", **params).text.splitlines()]


def insert_rows(url):
    values = ", ".join(
        f"('{m}', 'track', 'Signed Up', '{k}', '{ts}', {repr(o) if o else 'NULL'}, '{r}', 'anon-1')"
        for m, k, ts, o, r in ROWS)
    query(url, "INSERT INTO analytics.events (message_id, type, event, write_key_id, timestamp, original_timestamp, "
               f"received_at, anonymous_id) VALUES {values}")


def sorting_keys(url):
    return {r["name"]: r["sorting_key"] for r in rows(
        url, "SELECT name, sorting_key FROM system.tables WHERE database = 'analytics' AND name IN ('events', 'sessions')")}


def final_ids(url):
    return sorted(r["message_id"] for r in rows(url, "SELECT message_id FROM analytics.events FINAL"))


DISTINCT = sorted({r[0] for r in ROWS})
NEW_KEYS = {"events": "write_key_id, event_date, type, event, message_id",
            "sessions": "write_key_id, session_start, visitor_id"}
OLD_KEYS = {"events": "write_key_id, message_id", "sessions": "write_key_id, visitor_id, session_start"}


def test_migrations_go_up_down_and_up_again_keeping_every_event_once(engine):
    migrate(engine, "up", "--to", "3")
    insert_rows(engine)
    assert final_ids(engine) == DISTINCT

    assert "ran  0004_sort_by_day.up.sql" in migrate(engine, "up")
    assert sorting_keys(engine) == NEW_KEYS
    assert final_ids(engine) == DISTINCT
    days = {r["message_id"]: r["event_date"] for r in rows(engine, "SELECT message_id, event_date FROM analytics.events FINAL")}
    assert days == {"retry-1": "2026-11-20", "retry-2": "2026-11-30", "no-client-ts": "1970-01-01",
                    "old-clock": "1960-01-01", "other-key": "2026-11-20"}

    assert "ran  0004_sort_by_day.down.sql" in migrate(engine, "down", "--to", "3")
    assert sorting_keys(engine) == OLD_KEYS
    assert final_ids(engine) == DISTINCT

    migrate(engine, "up")
    assert sorting_keys(engine) == NEW_KEYS
    assert final_ids(engine) == DISTINCT
    assert "0004 sort_by_day          applied" in migrate(engine, "status")


def test_retries_delivered_after_the_new_key_are_stored_once(engine):
    migrate(engine, "up")
    insert_rows(engine)  # every event of ROWS again, as if the processor re-sent the batch
    query(engine, "OPTIMIZE TABLE analytics.events FINAL")
    assert final_ids(engine) == DISTINCT
    # merges alone (no FINAL) collapse them too, except across received_at months
    raw = rows(engine, "SELECT message_id, count() AS n FROM analytics.events GROUP BY message_id ORDER BY message_id")
    assert {r["message_id"]: int(r["n"]) for r in raw} == {m: 2 if m == "retry-2" else 1 for m in DISTINCT}


def test_the_contract_filter_reads_only_the_range_and_finds_every_event_in_it(engine):
    migrate(engine, "up")
    # the filter of STORAGE_CONTRACT.md / docs/DASHBOARD-STORAGE.md
    contract = ("SELECT count() AS n FROM analytics.events FINAL WHERE write_key_id IN {keys:Array(String)} "
                "AND (event_date BETWEEN toDate32({from:DateTime64(3, 'UTC')}) - 1 AND toDate32({to:DateTime64(3, 'UTC')}) + 1 "
                "OR event_date = toDate32('1970-01-01')) "
                "AND timestamp >= {from:DateTime64(3, 'UTC')} AND timestamp < {to:DateTime64(3, 'UTC')}")
    params = {"keys": "['k1']", "from": "2026-11-20 00:00:00.000", "to": "2026-11-21 00:00:00.000"}
    # retry-1 and no-client-ts; old-clock (a client day 67 years off) is the documented miss
    assert rows(engine, contract, **params) == [{"n": 2}]
    exact = contract.replace("(event_date BETWEEN", "(1 OR event_date BETWEEN")
    assert rows(engine, exact, **params) == [{"n": 3}]

    # 500 k events of another project over 90 days: one day's query reads a few granules
    query(engine, "INSERT INTO analytics.events (message_id, type, event, write_key_id, timestamp, original_timestamp, "
                  "received_at) SELECT toString(number), 'track', 'e', 'k3', t, t, t FROM numbers(500000) "
                  "ARRAY JOIN [toDateTime64('2026-09-01 00:00:00', 3, 'UTC') + toIntervalSecond(intDiv(number * 7776, 500))] AS t")
    day = {"keys": "['k3']", "from": "2026-10-10 00:00:00.000", "to": "2026-10-11 00:00:00.000"}

    def read_rows(sql):
        resp = query(engine, sql + " FORMAT JSONEachRow", **day)
        return json.loads(resp.text)["n"], int(json.loads(resp.headers["X-ClickHouse-Summary"])["read_rows"])

    (n_pruned, read_pruned), (n_all, read_all) = read_rows(contract), read_rows(exact)
    assert n_pruned == n_all == 500000 // 90 + 1
    # the key prunes by event_date; without that line the ts_minmax skip index still prunes,
    # because rows sorted by client day have granules that each span about a day
    assert read_pruned <= 5 * 8192 and read_all <= 5 * 8192, (read_pruned, read_all)


def test_sessions_view_still_refreshes_from_events(engine):
    migrate(engine, "up")
    query(engine, "SYSTEM REFRESH VIEW analytics.sessions_mv")
    deadline = time.monotonic() + 30
    while not (got := rows(engine, "SELECT write_key_id, count() AS n FROM analytics.sessions FINAL GROUP BY write_key_id ORDER BY write_key_id")):
        assert time.monotonic() < deadline, "sessions_mv did not refresh"
        time.sleep(0.3)
    assert [r["write_key_id"] for r in got] == ["k1", "k2"]
