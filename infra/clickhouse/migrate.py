#!/usr/bin/env python3
"""Apply (or roll back) the ClickHouse schema in infra/clickhouse/migrations over HTTP.

The one source of truth for the schema: the local stack runs it on start, Terraform runs it
after creating the service, and a person can run it by hand. Idempotent: applied versions
are recorded in analytics.schema_migrations and skipped.

  migrate.py up [--to N]       apply pending migrations (up to N)
  migrate.py down --to N       roll back every applied migration above N (0 = all)
  migrate.py status            list migrations and whether each is applied

Connection: --url / CLICKHOUSE_URL (default http://127.0.0.1:8123), --user / CLICKHOUSE_USER,
--password / CLICKHOUSE_PASSWORD. Files whose first line is `-- access-control` (users and
grants) need ${WRITER_PASSWORD_SHA256} and ${READER_PASSWORD_SHA256} in the environment;
--local skips them (the local engine has no access control). Standard library only.
"""

import argparse
import base64
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIGRATIONS = HERE / "migrations"
NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")
TRACKING = """CREATE TABLE IF NOT EXISTS analytics.schema_migrations
(version UInt32, name String, applied UInt8, changed_at DateTime64(3, 'UTC') DEFAULT now64(3))
ENGINE = ReplacingMergeTree(changed_at) ORDER BY version"""


class Fail(Exception):
    pass


class Client:
    def __init__(self, url, user, password):
        self.url = url.rstrip("/") + "/"
        self.headers = {}
        if user:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def run(self, sql, **params):
        query = {"wait_end_of_query": "1", "async_insert": "0"}
        query.update({f"param_{k}": str(v) for k, v in params.items()})
        req = urllib.request.Request(self.url + "?" + urllib.parse.urlencode(query), data=sql.encode(),
                                     headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as e:
            raise Fail(f"ClickHouse answered {e.code}: {e.read().decode(errors='replace').strip()}\n--- statement:\n{sql}") from None
        except urllib.error.URLError as e:
            raise Fail(f"cannot reach ClickHouse at {self.url}: {e.reason}") from None


def statements(text):
    """Split a migration into statements: `;` at the end of a line ends one."""
    body = "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", body) if s.strip()]


def substitute(sql, path):
    def repl(m):
        value = os.environ.get(m.group(1))
        if not value:
            raise Fail(f"{path.name} needs ${{{m.group(1)}}} in the environment")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
            raise Fail(f"{m.group(1)} must be 64 hex digits (sha256 of the password)")
        return value
    return re.sub(r"\$\{([A-Z0-9_]+)\}", repl, sql)


def migrations():
    found = {}
    for p in sorted(MIGRATIONS.iterdir()):
        m = NAME.match(p.name)
        if not m:
            continue
        version = int(m.group(1))
        found.setdefault(version, {"name": m.group(2)})[m.group(3)] = p
    for v, m in found.items():
        if "up" not in m or "down" not in m:
            raise Fail(f"migration {v:04d} needs both .up.sql and .down.sql")
    return dict(sorted(found.items()))


def applied(client):
    client.run("CREATE DATABASE IF NOT EXISTS analytics")
    client.run(TRACKING)
    out = client.run("SELECT version FROM analytics.schema_migrations FINAL WHERE applied = 1 FORMAT TSV")
    return {int(x) for x in out.split()}


def is_access_control(path):
    return path.read_text().lstrip().startswith("-- access-control")


def run_file(client, path, local):
    if local and is_access_control(path):
        print(f"  skip {path.name} (access control; the local engine has none)")
        return
    for stmt in statements(substitute(path.read_text(), path)):
        client.run(stmt)
    print(f"  ran  {path.name}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="ClickHouse schema migrations")
    ap.add_argument("command", choices=["up", "down", "status"])
    ap.add_argument("--to", type=int, default=None)
    ap.add_argument("--url", default=os.environ.get("CLICKHOUSE_URL", "http://127.0.0.1:8123"))
    ap.add_argument("--user", default=os.environ.get("CLICKHOUSE_USER", "default"))
    ap.add_argument("--password", default=os.environ.get("CLICKHOUSE_PASSWORD", ""))
    ap.add_argument("--local", action="store_true", help="skip access-control migrations")
    a = ap.parse_args(argv)
    client = Client(a.url, a.user, a.password)
    try:
        all_m = migrations()
        done = applied(client)
        if a.command == "status":
            for v, m in all_m.items():
                print(f"{v:04d} {m['name']:<20} {'applied' if v in done else 'pending'}")
            return 0
        if a.command == "up":
            target = a.to if a.to is not None else max(all_m, default=0)
            todo = [v for v in all_m if v not in done and v <= target]
            print(f"migrate up: {len(todo)} pending" + (f" (to {target})" if a.to is not None else ""))
            for v in todo:
                run_file(client, all_m[v]["up"], a.local)
                client.run("INSERT INTO analytics.schema_migrations (version, name, applied) VALUES ({v:UInt32}, {n:String}, 1)",
                           v=v, n=all_m[v]["name"])
            return 0
        if a.to is None:
            raise Fail("down needs --to N (0 rolls back everything)")
        todo = sorted((v for v in done if v > a.to), reverse=True)
        print(f"migrate down: {len(todo)} to roll back (to {a.to})")
        for v in todo:
            if v not in all_m:
                raise Fail(f"version {v} is applied but has no files here")
            run_file(client, all_m[v]["down"], a.local)
            client.run("INSERT INTO analytics.schema_migrations (version, name, applied) VALUES ({v:UInt32}, {n:String}, 0)",
                       v=v, n=all_m[v]["name"])
        return 0
    except Fail as e:
        print(f"migrate: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
