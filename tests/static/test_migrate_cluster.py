"""migrate.py's cluster mode, checked on the SQL it emits (no cluster runs here): every DDL
statement of every migration, up and down, gets ON CLUSTER; every MergeTree engine becomes
its Replicated variant with the Keeper path and replica name first and its own arguments
after; DROPs are SYNC; and everything it emits parses in ClickHouse's own parser (chdb)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import chdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = ROOT / "infra" / "clickhouse" / "migrate.py"
_spec = importlib.util.spec_from_file_location("migrate", MIGRATE)
migrate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(migrate)

CLUSTER = migrate.Cluster("analytics_cluster")
ON = "ON CLUSTER 'analytics_cluster'"
FILES = [m[d] for m in migrate.migrations().values() for d in ("up", "down")]
ENGINE_ARGS = re.compile(r"\bENGINE\s*=\s*(\w*MergeTree)\b\s*(?:\((.*?)\))?\s*(?:\n|PARTITION|ORDER|$)", re.S)


def pairs(path):
    """(statement as written, statement for the cluster) for every statement of a file."""
    stmts = migrate.statements(path.read_text())
    return list(zip(stmts, migrate.prepared(stmts, CLUSTER)))


def engine(sql):
    m = ENGINE_ARGS.search(sql)
    return (m.group(1), (m.group(2) or "").strip()) if m else None


def parses(sql):
    """ClickHouse's parser accepts `sql` (formatQuery parses without running it)."""
    escaped = sql.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")  # parameter values are TSV-escaped
    res = chdb.query("SELECT formatQuery({q:String})", "TSVRaw", params={"q": escaped})
    return res.bytes().decode()


def test_every_migration_is_checked():
    assert {p.name for p in FILES} >= {"0001_events.up.sql", "0004_sort_by_day.down.sql"}
    assert all(pairs(p) for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_ddl_statement_runs_on_the_cluster(path):
    for written, emitted in pairs(path):
        if written.sql.upper().startswith("INSERT"):
            assert emitted == written.sql  # INSERT has no ON CLUSTER: replication carries it
        else:
            assert emitted.count(ON) == 1, emitted


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_mergetree_engine_becomes_replicated_with_path_and_replica_first(path):
    for written, emitted in pairs(path):
        before = engine(written.sql)
        if before is None:
            assert "MergeTree" not in emitted
            continue
        family, args = before
        if written.local:
            assert engine(emitted) == before
            continue
        expected = ", ".join(["'/clickhouse/tables/{shard}/{database}/{table}'", "'{replica}'"] + ([args] if args else []))
        assert engine(emitted) == (f"Replicated{family}", expected), emitted


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_drops_of_tables_and_views_are_sync_so_keeper_paths_free_at_once(path):
    for _, emitted in pairs(path):
        if re.match(r"DROP\s+(TABLE|VIEW)\b", emitted):
            assert emitted.endswith(f"{ON} SYNC"), emitted


def test_the_new_events_table_and_the_tracking_table_are_replicated():
    up = dict((w.sql.split("(")[0].strip(), e) for w, e in pairs(migrate.MIGRATIONS / "0004_sort_by_day.up.sql"))
    events = up["CREATE TABLE analytics.events_0004_new"]
    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')" in events
    assert "ORDER BY (write_key_id, event_date, type, event, message_id)" in events
    tracking = migrate.prepared([migrate.Statement(migrate.TRACKING)], CLUSTER)[0]
    assert f"analytics.schema_migrations {ON}" in tracking
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', changed_at)" in tracking


def test_the_sessions_table_stays_one_copy_per_node():
    for name in ("0002_sessions.up.sql", "0004_sort_by_day.up.sql", "0004_sort_by_day.down.sql"):
        created = [(w, e) for w, e in pairs(migrate.MIGRATIONS / name) if "TABLE analytics.sessions" in w.sql
                   and w.sql.startswith("CREATE") or "TABLE IF NOT EXISTS analytics.sessions" in w.sql]
        assert created and all(w.local for w, _ in created), name
        assert all(f"analytics.sessions {ON}" in e and "ENGINE = ReplacingMergeTree\n" in e for _, e in created)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_emitted_sql_parses_in_clickhouse(path):
    for written, emitted in pairs(path):
        text = re.sub(r"\$\{[A-Z0-9_]+\}", "0" * 64, emitted)
        formatted = parses(text)
        if not written.sql.upper().startswith("INSERT"):
            assert "ON CLUSTER analytics_cluster" in formatted, formatted


@pytest.mark.parametrize("written, expected", [
    ("CREATE TABLE a.t (x UInt8, s Int8) ENGINE = CollapsingMergeTree(s) ORDER BY x",
     "ENGINE = ReplicatedCollapsingMergeTree('p/{table}', 'r', s) ORDER BY x"),
    ("CREATE TABLE a.t (x UInt8, s Int8, v UInt8) ENGINE = VersionedCollapsingMergeTree(s, v) ORDER BY x",
     "ENGINE = ReplicatedVersionedCollapsingMergeTree('p/{table}', 'r', s, v) ORDER BY x"),
    ("CREATE TABLE a.t (x UInt8, y UInt8, z UInt8) ENGINE = SummingMergeTree((y, z)) ORDER BY x",
     "ENGINE = ReplicatedSummingMergeTree('p/{table}', 'r', (y, z)) ORDER BY x"),
    ("CREATE TABLE a.t (x UInt8) ENGINE = MergeTree() ORDER BY x",
     "ENGINE = ReplicatedMergeTree('p/{table}', 'r') ORDER BY x"),
    ("CREATE TABLE a.t (x UInt8) ENGINE=AggregatingMergeTree ORDER BY x",
     "ENGINE = ReplicatedAggregatingMergeTree('p/{table}', 'r') ORDER BY x"),
])
def test_engine_arguments_follow_path_and_replica(written, expected):
    emitted = migrate.for_cluster(migrate.Statement(written), migrate.Cluster("c", "p/{table}", "r"))
    assert emitted.endswith(expected) and "a.t ON CLUSTER 'c'" in emitted
    parses(emitted)


@pytest.mark.parametrize("sql, problem", [
    ("CREATE TABLE a.t (x UInt8) ENGINE = ReplicatedMergeTree('p', 'r') ORDER BY x", "written out"),
    ("CREATE TABLE a.t ON CLUSTER c (x UInt8) ENGINE = MergeTree ORDER BY x", "already names a cluster"),
    ("BACKUP TABLE a.t TO Disk('b', 'x')", "does not know where ON CLUSTER goes"),
])
def test_statements_cluster_mode_cannot_place_are_refused_by_name(sql, problem):
    with pytest.raises(migrate.Fail, match=problem):
        migrate.for_cluster(migrate.Statement(sql), CLUSTER)


def test_cluster_settings_refuse_quotes():
    for bad in ("a'b", "", "x y"):
        with pytest.raises(migrate.Fail, match="letters, digits"):
            migrate.Cluster(bad)
    with pytest.raises(migrate.Fail, match="ZooKeeper path"):
        migrate.Cluster("c", zk_path="/x'); DROP")


def test_a_cluster_local_comment_must_precede_a_statement():
    with pytest.raises(migrate.Fail, match="not followed by a statement"):
        migrate.statements("SELECT 1;\n-- cluster: local\n")


def test_sql_command_prints_the_cluster_plan_offline_without_secrets():
    out = subprocess.run([sys.executable, str(MIGRATE), "sql", "down", "--cluster", "prod", "--url", "http://127.0.0.1:9"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.index("-- 0004_sort_by_day.down.sql") < out.index("-- 0001_events.down.sql")
    assert "DROP TABLE IF EXISTS analytics.events ON CLUSTER 'prod' SYNC;" in out
    assert "${WRITER_PASSWORD_SHA256}" not in out  # down of 0003 has no passwords; up keeps placeholders
    up = subprocess.run([sys.executable, str(MIGRATE), "sql", "up", "--cluster", "prod"],
                        capture_output=True, text=True, timeout=30, check=True).stdout
    assert "BY '${WRITER_PASSWORD_SHA256}'" in up
