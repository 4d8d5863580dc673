#!/usr/bin/env python3
"""Development ClickHouse: the real ClickHouse engine (PyPI chdb-core, in-process) behind a
thin front speaking the subset of the ClickHouse HTTP interface this project uses.

* ``GET /ping`` and ``GET /`` without a query -> ``Ok.``
* the query in ``?query=`` (then the body is appended, e.g. ``INSERT ... FORMAT JSONEachRow``
  rows) or as the body; ``database``, ``default_format``, ``query_id``, ``param_<name>``
  (``{name:Type}`` placeholders), every other parameter is a setting (``async_insert``,
  ``insert_deduplication_token``, ...), applied to that query only;
* ``Content-Encoding: gzip`` request bodies; gzip responses when the client sends
  ``enable_http_compression=1`` and ``Accept-Encoding: gzip``;
* users from ``--user name:password:role`` (role ``all``, ``insert`` or ``select``) via
  ``X-ClickHouse-User``/``X-ClickHouse-Key``, Basic auth or ``user``/``password`` parameters;
  the roles stand in for the GRANTs of infra/clickhouse (chdb has no access control);
* errors as ClickHouse sends them: ``Code: N. DB::Exception: ...`` with
  ``X-ClickHouse-Exception-Code`` and the HTTP status ClickHouse maps that code to;
* ``X-ClickHouse-Summary``, ``X-ClickHouse-Query-Id``, ``X-ClickHouse-Format`` headers;
  TCP_NODELAY on every connection (small responses otherwise stall ~40 ms).

One process owns the data directory; queries run one at a time (chdb serialises them).
"""

import argparse
import asyncio
import base64
import gzip
import json
import logging
import re
import socket
import threading
import time
import uuid

import chdb
from aiohttp import web

log = logging.getLogger("clickhouse-http")

# ClickHouse's exceptionCodeToHTTPStatus, by error name (chdb reports "(NAME)").
STATUS_BY_NAME = {
    **{n: 403 for n in ("UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED")},
    "REQUIRED_PASSWORD": 401,
    **{n: 400 for n in (
        "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
        "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
        "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
        "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST", "TOO_BIG_AST",
        "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE")},
    **{n: 404 for n in (
        "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
        "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
        "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE")},
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "TIMEOUT_EXCEEDED": 408,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}

# URL parameters that are not settings.
NOT_SETTINGS = {"query", "database", "default_format", "query_id", "user", "password", "session_id",
                "session_timeout", "session_check", "compress", "decompress", "quota_key", "buffer_size",
                "wait_end_of_query", "_"}
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
READ_ONLY = re.compile(r"^\s*(SELECT|WITH|SHOW|DESCRIBE|DESC|EXISTS|EXPLAIN)\b", re.IGNORECASE)
INSERT = re.compile(r"^\s*INSERT\b", re.IGNORECASE)
# Reads that ClickHouse allows every user: no table at all, or only system tables.
PROBE = re.compile(r"^\s*SELECT\b(?!.*\bFROM\s+(?!system\.)\S)", re.IGNORECASE | re.DOTALL)
VERSION = "26.9"


def exception_body(code, name, message):
    return f"Code: {code}. DB::Exception: {message}. ({name}) (version {VERSION} chdb)\n"


class ClickHouseError(Exception):
    def __init__(self, code, name, message, status=None):
        super().__init__(message)
        self.code, self.name, self.message = code, name, message
        self.status = status or STATUS_BY_NAME.get(name, 500)


def from_chdb_error(err):
    text = str(err).strip()
    m = re.match(r"Code:\s*(\d+)\.\s*(?:DB::Exception:\s*)?(.*)", text, re.S)
    code = int(m.group(1)) if m else 1001
    rest = m.group(2) if m else text
    nm = re.search(r"\(([A-Z_]+)\)(?:\s*\(version[^)]*\))?\s*$", rest)
    name = nm.group(1) if nm else "STD_EXCEPTION"
    message = rest[: nm.start()].rstrip(". ") if nm else rest
    return ClickHouseError(code, name, message)


class Engine:
    """One chdb connection; every query holds the lock (chdb serialises anyway)."""

    def __init__(self, path):
        self.conn = chdb.connect(path)
        self.lock = threading.Lock()

    def run(self, sql, fmt, params, database, settings):
        with self.lock:
            try:
                applied = []
                if database:
                    self.conn.query(f"USE `{database.replace('`', '')}`")
                for k, v in settings.items():
                    self.conn.query(f"SET {k} = {quote_setting(v)}")
                    applied.append(k)
                try:
                    res = self.conn.query(sql, fmt, params=params or None)
                    # chdb's rows_read() counts result rows; storage_rows_read() is what
                    # ClickHouse's read_rows means: rows read from tables.
                    return res.bytes(), {
                        "read_rows": res.storage_rows_read(), "read_bytes": res.storage_bytes_read(),
                        "written_rows": res.rows_written(), "written_bytes": res.bytes_written(),
                        "result_rows": res.rows_read()}
                finally:
                    for k in applied:
                        try:
                            self.conn.query(f"SET {k} = DEFAULT")
                        except Exception:  # noqa: BLE001 - best effort reset
                            pass
                    if database:
                        self.conn.query("USE default")
            except ClickHouseError:
                raise
            except Exception as e:  # noqa: BLE001 - chdb raises ChdbError / RuntimeError
                raise from_chdb_error(e) from None


def quote_setting(v):
    if re.fullmatch(r"-?\d+(\.\d+)?", v):
        return v
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Users:
    def __init__(self, specs):
        self.users = {}
        for spec in specs:
            name, password, role = (spec.split(":", 2) + ["all"])[:3]
            if role not in ("all", "insert", "select"):
                raise SystemExit(f"--user {name}: role must be all, insert or select")
            self.users[name] = (password, role)
        if not self.users:
            self.users["default"] = ("", "all")

    def authenticate(self, request):
        h = request.headers
        q = request.query
        user = h.get("X-ClickHouse-User")
        key = h.get("X-ClickHouse-Key")
        auth = h.get("Authorization", "")
        if user is None and auth.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:  # noqa: BLE001
                user, key = "", ""
        if user is None:
            user, key = q.get("user", "default"), q.get("password", "")
        entry = self.users.get(user)
        if entry is None or entry[0] != (key or ""):
            raise ClickHouseError(516, "AUTHENTICATION_FAILED",
                                  f"{user}: Authentication failed: password is incorrect, or there is no user with such name")
        return user, entry[1]


def authorize(user, role, sql):
    if role == "all":
        return
    if role == "select" and READ_ONLY.match(sql):
        return
    if role == "insert" and (INSERT.match(sql) or PROBE.match(sql)):
        return
    raise ClickHouseError(497, "ACCESS_DENIED", f"{user}: Not enough privileges for this query (role {role})")


class Front:
    def __init__(self, engine, users):
        self.engine = engine
        self.users = users

    async def handle(self, request):
        if request.path == "/ping":
            return web.Response(text="Ok.\n")
        if request.path not in ("/", ""):
            return web.Response(status=404, text="There is no handle " + request.path + "\n")
        q = request.query
        body = await request.read()
        # aiohttp already inflates Content-Encoding: gzip bodies; inflate only what is still gzip.
        if body[:2] == b"\x1f\x8b" and (request.headers.get("Content-Encoding", "").lower() == "gzip" or q.get("decompress") == "1"):
            try:
                body = gzip.decompress(body)
            except OSError as e:
                return self.error(request, ClickHouseError(432, "UNKNOWN_CODEC", f"cannot decompress body: {e}", 400))
        sql = q.get("query", "")
        if sql and body:
            sql = sql + "\n" + body.decode("utf-8", errors="replace")
        elif not sql:
            sql = body.decode("utf-8", errors="replace")
        if not sql.strip():
            if request.method == "GET":
                return web.Response(text="Ok.\n")
            return self.error(request, ClickHouseError(62, "SYNTAX_ERROR", "Empty query"))
        query_id = q.get("query_id") or str(uuid.uuid4())
        try:
            user, role = self.users.authenticate(request)
            authorize(user, role, sql)
            params = {k[6:]: v for k, v in q.items() if k.startswith("param_")}
            settings = {k: v for k, v in q.items() if k not in NOT_SETTINGS and not k.startswith("param_")}
            for k in settings:
                if not SETTING_NAME.match(k):
                    raise ClickHouseError(115, "UNKNOWN_SETTING", f"Unknown setting {k}")
            if request.method == "GET" and not READ_ONLY.match(sql) and settings.get("readonly", "0") == "0":
                settings["readonly"] = "1"  # ClickHouse: GET requests are readonly
            fm = FORMAT_CLAUSE.search(sql) if not INSERT.match(sql) else None
            fmt = fm.group(1) if fm else q.get("default_format", "TabSeparated")
            started = time.perf_counter()
            out, counts = await asyncio.to_thread(self.engine.run, sql, fmt, params, q.get("database"), settings)
            elapsed = time.perf_counter() - started
        except ClickHouseError as e:
            log.info("failed query: %s", " ".join(sql.split())[:300])
            return self.error(request, e, query_id)
        summary = {"read_rows": str(counts["read_rows"]), "read_bytes": str(counts["read_bytes"]),
                   "written_rows": str(counts["written_rows"]), "written_bytes": str(counts["written_bytes"]),
                   "total_rows_to_read": str(counts["read_rows"]), "result_rows": str(counts["result_rows"]),
                   "result_bytes": str(len(out)), "elapsed_ns": str(int(elapsed * 1e9))}
        headers = {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Format": fmt,
                   "X-ClickHouse-Summary": json.dumps(summary, separators=(",", ":")),
                   "X-ClickHouse-Server-Display-Name": "chdb-local",
                   "Content-Type": content_type(fmt)}
        if q.get("enable_http_compression") == "1" and "gzip" in request.headers.get("Accept-Encoding", ""):
            out = gzip.compress(out, 1)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=out, headers=headers)

    def error(self, request, e, query_id=""):
        log.info("query failed: %s %s", e.name, e.message[:200])
        return web.Response(status=e.status, text=exception_body(e.code, e.name, e.message), headers={
            "X-ClickHouse-Exception-Code": str(e.code), "X-ClickHouse-Query-Id": query_id,
            "Content-Type": "text/plain; charset=UTF-8"})


def content_type(fmt):
    f = fmt.lower()
    if f.startswith("json"):
        return "application/json; charset=UTF-8"
    if f in ("native", "rowbinary", "rowbinarywithnamesandtypes", "parquet", "arrow", "arrowstream"):
        return "application/octet-stream"
    return "text/tab-separated-values; charset=UTF-8"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:8123")
    ap.add_argument("--data", required=True, help="chdb data directory")
    ap.add_argument("--user", action="append", default=[], help="name:password:role (all|insert|select)")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s clickhouse-http %(message)s")
    front = Front(Engine(a.data), Users(a.user))
    app = web.Application(client_max_size=256 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", front.handle)
    host, port = a.listen.rsplit(":", 1)

    async def start():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, int(port)))
        sock.listen(1024)
        await web.SockSite(runner, sock).start()
        log.info("listening on http://%s:%s, data %s", host, port, a.data)
        await asyncio.Event().wait()

    asyncio.run(start())


if __name__ == "__main__":
    main()
