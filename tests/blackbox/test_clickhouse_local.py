"""The local ClickHouse (real engine via chdb, behind the project's HTTP front), driven by
the official Python client, clickhouse-connect."""

import clickhouse_connect
import pytest
import requests
from clickhouse_connect.driver.exceptions import DatabaseError

from conftest import CLICKHOUSE_READER_PASSWORD, CLICKHOUSE_URL, CLICKHOUSE_WRITER_PASSWORD, uid

HOST, PORT = CLICKHOUSE_URL.split("//")[1].split(":")


def client(user="default", password=""):
    return clickhouse_connect.get_client(host=HOST, port=int(PORT), username=user, password=password,
                                         compress=False, autogenerate_session_id=False)


def test_schema_is_migrated():
    tables = {r[0] for r in client().query("SHOW TABLES FROM analytics").result_rows}
    assert {"events", "sessions", "sessions_mv", "schema_migrations"} <= tables
    engine = client().query("SELECT engine FROM system.tables WHERE database = 'analytics' AND name = 'events'").result_rows
    assert engine == [("ReplacingMergeTree",)]


def test_insert_select_settings_and_parameters():
    c = client()
    t = f"default.t_{uid('x').replace('-', '_')}"
    c.command(f"CREATE TABLE {t} (id UInt32, name String) ENGINE = MergeTree ORDER BY id")
    c.insert(t, [[1, "a"], [2, "b"]], column_names=["id", "name"])
    rows = c.query(f"SELECT name FROM {t} WHERE id = {{id:UInt32}}", parameters={"id": 2}).result_rows
    assert rows == [("b",)]
    assert c.query("SELECT getSetting('max_threads')", settings={"max_threads": 3}).result_rows == [(3,)]
    c.command(f"DROP TABLE {t}")


def test_wrong_password_is_refused_with_516():
    with pytest.raises(DatabaseError) as e:
        client("analytics_reader", "wrong").query("SELECT 1")
    assert "516" in str(e.value) or "AUTHENTICATION_FAILED" in str(e.value)
    resp = requests.get(CLICKHOUSE_URL + "/", params={"query": "SELECT 1", "user": "nobody"}, timeout=10)
    assert resp.status_code == 403 and resp.headers["X-ClickHouse-Exception-Code"] == "516"


def test_errors_carry_clickhouse_codes_and_statuses():
    for sql, code, status in [("SELEC 1", "62", 400), ("SELECT * FROM analytics.nope", "60", 404),
                              ("SELECT nope", "47", 404)]:
        resp = requests.post(CLICKHOUSE_URL + "/", data=sql, timeout=10)
        assert resp.status_code == status, (sql, resp.text)
        assert resp.headers["X-ClickHouse-Exception-Code"] == code
        assert resp.text.startswith(f"Code: {code}. DB::Exception:")


def test_writer_can_only_insert_and_reader_can_only_read():
    writer = client("analytics_writer", CLICKHOUSE_WRITER_PASSWORD)
    reader = client("analytics_reader", CLICKHOUSE_READER_PASSWORD)
    with pytest.raises(DatabaseError) as e:
        writer.query("SELECT count() FROM analytics.events")
    assert "497" in str(e.value) or "ACCESS_DENIED" in str(e.value)
    assert reader.query("SELECT count() >= 0 FROM analytics.events").result_rows == [(True,)]
    with pytest.raises(DatabaseError):
        reader.command("INSERT INTO analytics.events (message_id) VALUES ('x')")


def test_ping_and_gzip_bodies():
    assert requests.get(CLICKHOUSE_URL + "/ping", timeout=10).text == "Ok.\n"
    import gzip
    resp = requests.post(CLICKHOUSE_URL + "/", data=gzip.compress(b"SELECT 40 + 2"),
                         headers={"Content-Encoding": "gzip"}, timeout=10)
    assert resp.text.strip() == "42"
