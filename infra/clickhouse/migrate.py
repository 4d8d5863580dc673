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

Cluster mode (self-hosted replicated ClickHouse): --cluster NAME / CLICKHOUSE_CLUSTER makes every
DDL statement run `ON CLUSTER 'NAME'` and every *MergeTree engine Replicated*MergeTree with
--zk-path (default /clickhouse/tables/{shard}/{database}/{table}) and --replica-name
(default {replica}), the macros each node defines; DROPs get SYNC so a table can be
created again at once. A statement preceded by a `-- cluster: local` comment keeps its
engine (still ON CLUSTER): one copy per node. Do not use it on ClickHouse Cloud, which
replicates (SharedMergeTree) by itself. `migrate.py sql up|down [--cluster NAME]` prints
what would run, without connecting.
"""

import argparse
import base64
import dataclasses
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
    def __init__(self, url, user, password, timeout=300):
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
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
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as e:
            raise Fail(f"ClickHouse answered {e.code}: {e.read().decode(errors='replace').strip()}\n--- statement:\n{sql}") from None
        except urllib.error.URLError as e:
            raise Fail(f"cannot reach ClickHouse at {self.url}: {e.reason}") from None


@dataclasses.dataclass(frozen=True)
class Statement:
    sql: str
    local: bool = False  # preceded by `-- cluster: local`: keep the engine in cluster mode


LOCAL_DIRECTIVE = re.compile(r"^--\s*cluster:\s*local\b")


def statements(text):
    """Split a migration into statements: `;` at the end of a line ends one. Comment lines
    are dropped; a `-- cluster: local` among them marks the statement that follows."""
    out, lines, local = [], [], False
    for line in text.splitlines() + [";"]:
        stripped = line.strip()
        if stripped.startswith("--"):
            local = local or bool(LOCAL_DIRECTIVE.match(stripped))
            continue
        lines.append(line)
        if stripped.endswith(";"):
            sql = "\n".join(lines).strip().rstrip(";").strip()
            if sql:
                out.append(Statement(sql, local))
            elif local:
                raise Fail("a `-- cluster: local` comment is not followed by a statement")
            lines, local = [], False
    return out


@dataclasses.dataclass(frozen=True)
class Cluster:
    """How to run the schema on a self-hosted cluster of replicated nodes."""
    name: str
    zk_path: str = "/clickhouse/tables/{shard}/{database}/{table}"
    replica: str = "{replica}"

    def __post_init__(self):
        for what, value in (("cluster name", self.name), ("ZooKeeper path", self.zk_path),
                            ("replica name", self.replica)):
            if not value or not re.fullmatch(r"[A-Za-z0-9_.{}/-]+", value):
                raise Fail(f"{what} {value!r}: use letters, digits, _ . - / and {{macro}} braces only")


OBJECT = r"(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*))?"
# Statement heads that take ON CLUSTER right after the object's name.
AFTER_NAME = re.compile(
    r"^(?P<head>(?:CREATE|ATTACH)\s+(?:OR\s+REPLACE\s+)?(?:DATABASE|TABLE|(?:MATERIALIZED\s+)?VIEW|DICTIONARY|USER|ROLE)"
    r"(?:\s+IF\s+NOT\s+EXISTS)?\s+" + OBJECT + r"|"
    r"(?:DROP|DETACH)\s+(?:DATABASE|TABLE|VIEW|DICTIONARY|USER|ROLE)(?:\s+IF\s+EXISTS)?\s+" + OBJECT + r"|"
    r"(?:ALTER|TRUNCATE)\s+TABLE(?:\s+IF\s+EXISTS)?\s+" + OBJECT + r")",
    re.IGNORECASE)
# Heads that take it at the very end, and those that take it right after the keyword.
AT_END = re.compile(r"^(?:EXCHANGE\s+(?:TABLES|DICTIONARIES)|RENAME\s+(?:TABLE|DICTIONARY|DATABASE))\b", re.IGNORECASE)
AFTER_KEYWORD = re.compile(r"^(?P<head>GRANT|REVOKE)\b", re.IGNORECASE)
# Statements that are not DDL: they run on the node we talk to (an INSERT into a replicated
# table reaches the other replicas through replication).
NOT_DDL = re.compile(r"^(?:INSERT|SELECT|WITH|SYSTEM|OPTIMIZE)\b", re.IGNORECASE)
ENGINE = re.compile(r"\bENGINE\s*=\s*(?P<family>[A-Za-z]*)MergeTree\b", re.IGNORECASE)


def for_cluster(stmt, cluster):
    """The statement as it must run on `cluster`: ON CLUSTER, Replicated engines, DROP ... SYNC."""
    sql = stmt.sql
    on = f"ON CLUSTER '{cluster.name}'"
    if re.search(r"\bON\s+CLUSTER\b", sql, re.IGNORECASE):
        raise Fail(f"statement already names a cluster; migrate.py adds it: {sql[:80]}")
    if NOT_DDL.match(sql):
        return sql
    if m := AFTER_NAME.match(sql):
        sql = f"{sql[:m.end()]} {on}{sql[m.end():]}"
        if re.match(r"^DROP\s+(?:TABLE|VIEW|DICTIONARY|DATABASE)\b", sql, re.IGNORECASE) and \
                not re.search(r"\bSYNC\s*$", sql, re.IGNORECASE):
            sql += " SYNC"
    elif AT_END.match(sql):
        sql = f"{sql} {on}"
    elif m := AFTER_KEYWORD.match(sql):
        sql = f"{sql[:m.end()]} {on}{sql[m.end():]}"
    else:
        raise Fail(f"cluster mode does not know where ON CLUSTER goes in: {sql[:80]}")
    if not stmt.local:
        sql = replicated_engine(sql, cluster)
    return sql


def replicated_engine(sql, cluster):
    """`ENGINE = XMergeTree(args)` -> `ENGINE = ReplicatedXMergeTree('path', 'replica', args)`."""
    m = ENGINE.search(sql)
    if not m:
        return sql
    family = m.group("family")
    if family.lower().startswith(("replicated", "shared")):
        raise Fail(f"engine {family}MergeTree is written out; write the plain engine and let migrate.py choose: {sql[:80]}")
    rest = sql[m.end():]
    args, after = "", rest
    stripped = rest.lstrip()
    if stripped.startswith("("):
        depth, quote = 0, None
        for i, ch in enumerate(stripped):
            if quote:
                quote = None if ch == quote and stripped[i - 1] != "\\" else quote
            elif ch in "'\"`":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    args, after = stripped[1:i].strip(), stripped[i + 1:]
                    break
        else:
            raise Fail(f"unbalanced engine arguments: {sql[:80]}")
    new_args = ", ".join([f"'{cluster.zk_path}'", f"'{cluster.replica}'"] + ([args] if args else []))
    return f"{sql[:m.start()]}ENGINE = Replicated{family}MergeTree({new_args}){after}"


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


def prepared(stmts, cluster):
    """The SQL to send for each statement: as written, or as `cluster` needs it."""
    return [for_cluster(st, cluster) if cluster else st.sql for st in stmts]


def applied(client, cluster):
    for sql in prepared([Statement("CREATE DATABASE IF NOT EXISTS analytics"), Statement(TRACKING)], cluster):
        client.run(sql)
    out = client.run("SELECT version FROM analytics.schema_migrations FINAL WHERE applied = 1 FORMAT TSV")
    return {int(x) for x in out.split()}


def is_access_control(path):
    return path.read_text().lstrip().startswith("-- access-control")


def file_sql(path, cluster, secrets=True):
    """The statements of one migration file, ready to send. Without `secrets` the
    ${...} placeholders stay as they are (for printing)."""
    text = path.read_text()
    return prepared(statements(substitute(text, path) if secrets else text), cluster)


def run_file(client, path, local, cluster):
    if local and is_access_control(path):
        print(f"  skip {path.name} (access control; the local engine has none)")
        return
    for sql in file_sql(path, cluster):
        client.run(sql)
    print(f"  ran  {path.name}")


def print_sql(all_m, direction, local, cluster):
    """Every migration's SQL in the order `direction` would run it, without connecting."""
    order = sorted(all_m, reverse=direction == "down")
    if cluster:
        print(f"-- cluster {cluster.name!r}: ON CLUSTER and Replicated engines")
        for sql in prepared([Statement("CREATE DATABASE IF NOT EXISTS analytics"), Statement(TRACKING)], cluster):
            print(sql + ";\n")
    for v in order:
        path = all_m[v][direction]
        if local and is_access_control(path):
            continue
        print(f"-- {path.name}")
        for sql in file_sql(path, cluster, secrets=False):
            print(sql + ";\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description="ClickHouse schema migrations")
    ap.add_argument("command", choices=["up", "down", "status", "sql"])
    ap.add_argument("direction", nargs="?", choices=["up", "down"], help="for `sql`: which files to print")
    ap.add_argument("--to", type=int, default=None)
    ap.add_argument("--url", default=os.environ.get("CLICKHOUSE_URL", "http://127.0.0.1:8123"))
    ap.add_argument("--user", default=os.environ.get("CLICKHOUSE_USER", "default"))
    ap.add_argument("--password", default=os.environ.get("CLICKHOUSE_PASSWORD", ""))
    ap.add_argument("--local", action="store_true", help="skip access-control migrations")
    ap.add_argument("--cluster", default=os.environ.get("CLICKHOUSE_CLUSTER", ""),
                    help="self-hosted replicated cluster: ON CLUSTER NAME and Replicated* engines")
    ap.add_argument("--zk-path", default=os.environ.get("CLICKHOUSE_ZK_PATH", Cluster.zk_path),
                    help="Keeper path of a replicated table (cluster mode)")
    ap.add_argument("--replica-name", default=os.environ.get("CLICKHOUSE_REPLICA_NAME", Cluster.replica),
                    help="replica name of a replicated table (cluster mode)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one statement")
    a = ap.parse_args(argv)
    try:
        cluster = Cluster(a.cluster, a.zk_path, a.replica_name) if a.cluster else None
        all_m = migrations()
        if a.command == "sql":
            if a.direction is None:
                raise Fail("sql needs a direction: up or down")
            print_sql(all_m, a.direction, a.local, cluster)
            return 0
        if a.direction is not None:
            raise Fail(f"{a.command} takes no direction ({a.direction!r})")
        client = Client(a.url, a.user, a.password, a.timeout)
        done = applied(client, cluster)
        if a.command == "status":
            for v, m in all_m.items():
                print(f"{v:04d} {m['name']:<20} {'applied' if v in done else 'pending'}")
            return 0
        if a.command == "up":
            target = a.to if a.to is not None else max(all_m, default=0)
            todo = [v for v in all_m if v not in done and v <= target]
            print(f"migrate up: {len(todo)} pending" + (f" (to {target})" if a.to is not None else "")
                  + (f" on cluster {cluster.name}" if cluster else ""))
            for v in todo:
                run_file(client, all_m[v]["up"], a.local, cluster)
                client.run("INSERT INTO analytics.schema_migrations (version, name, applied) VALUES ({v:UInt32}, {n:String}, 1)",
                           v=v, n=all_m[v]["name"])
            return 0
        if a.to is None:
            raise Fail("down needs --to N (0 rolls back everything)")
        todo = sorted((v for v in done if v > a.to), reverse=True)
        print(f"migrate down: {len(todo)} to roll back (to {a.to})" + (f" on cluster {cluster.name}" if cluster else ""))
        for v in todo:
            if v not in all_m:
                raise Fail(f"version {v} is applied but has no files here")
            run_file(client, all_m[v]["down"], a.local, cluster)
            client.run("INSERT INTO analytics.schema_migrations (version, name, applied) VALUES ({v:UInt32}, {n:String}, 0)",
                       v=v, n=all_m[v]["name"])
        return 0
    except Fail as e:
        print(f"migrate: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
