#!/usr/bin/env python3
"""Development server speaking the Upstash Redis REST protocol in front of a real redis-server.

No packaged Upstash server exists, so the local stack runs this one. It implements what
the edge functions and the @upstash/redis client use:

* ``Authorization: Bearer <token>`` or ``?_token=<token>``; anything else gets 401.
* ``POST /`` with a JSON command array -> ``{"result": ...}`` or 400 ``{"error": "ERR ..."}``.
* ``POST /pipeline`` with an array of commands -> one ``{"result"}``/``{"error"}`` each (not atomic).
* ``POST /multi-exec`` -> the same shape, atomically; a transaction that cannot run -> one ``{"error"}``.
* ``Upstash-Encoding: base64`` -> every string in results base64-encoded, except ``"OK"``.
* Redis unreachable -> 503 ``{"error": ...}`` (the collector then answers 503, never a false 200).

Usage: upstash_rest.py --listen 127.0.0.1:8079 --redis redis://127.0.0.1:6390 --token TOKEN
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import socket

import redis.asyncio as aioredis
from aiohttp import web
from redis import exceptions as rexc

log = logging.getLogger("upstash-rest")


def encode(value, b64):
    """Convert a raw RESP reply into Upstash's JSON shape."""
    if isinstance(value, bytes):
        if b64 and value != b"OK":
            return base64.b64encode(value).decode("ascii")
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        return [encode(v, b64) for v in value]
    if isinstance(value, dict):  # RESP3 maps never happen with protocol 2; keep it total
        out = []
        for k, v in value.items():
            out.extend([encode(k, b64), encode(v, b64)])
        return out
    if isinstance(value, rexc.ResponseError):
        return {"error": error_text(value)}
    return value  # int, None


def error_text(exc):
    text = str(exc)
    # redis-py strips the code of the errors it has a class for; Redis (and Upstash) send it.
    if isinstance(exc, rexc.NoScriptError):
        return f"NOSCRIPT {text}"
    first = text.split(" ", 1)[0]
    return text if first.isupper() and len(first) > 1 else f"ERR {text}"


def parse_command(cmd):
    if not isinstance(cmd, list) or not cmd:
        raise ValueError("command must be a non-empty JSON array")
    args = []
    for a in cmd:
        if isinstance(a, bool) or a is None or isinstance(a, (dict, list)):
            raise ValueError("command arguments must be strings or numbers")
        args.append(a if isinstance(a, str) else json.dumps(a))
    return args


# Upstash-only script flags: Upstash reads them from the script's shebang, redis-server
# refuses a flag it does not know. The front takes them out before Redis sees the script
# and remembers which SHA the client knows the script by.
UPSTASH_FLAGS = {"allow-key-locking"}


def redis_script(text):
    """The script as redis-server accepts it: Upstash-only shebang flags removed."""
    if not text.startswith("#!lua"):
        return text
    line, nl, rest = text.partition("\n")
    words = line.split()
    flags = [f for w in words[1:] if w.startswith("flags=") for f in w[6:].split(",") if f]
    kept = [f for f in flags if f not in UPSTASH_FLAGS]
    if kept == flags:
        return text
    return ("#!lua flags=" + ",".join(kept) if kept else "#!lua") + nl + rest


class Server:
    def __init__(self, redis_url, token):
        self.script_shas = {}  # the client's SHA -> the SHA of what Redis holds
        self.token = token.encode()
        self.redis = aioredis.from_url(redis_url, decode_responses=False, max_connections=256, protocol=2)
        self.redis.response_callbacks.clear()  # raw RESP replies, like Upstash

    def authorized(self, request):
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else request.query.get("_token", "")
        return hmac.compare_digest(given.encode(), self.token)

    @staticmethod
    def reply(payload, status=200):
        return web.json_response(payload, status=status, dumps=lambda o: json.dumps(o, separators=(",", ":")))

    async def body(self, request):
        raw = await request.read()
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError:
            return None

    def scripts(self, args):
        """EVAL / EVALSHA / SCRIPT LOAD of a script with Upstash-only flags, as Redis takes it."""
        name = args[0].upper()
        if name in ("EVAL", "EVAL_RO") and len(args) > 1:
            text = redis_script(args[1])
            if text != args[1]:
                self.script_shas[hashlib.sha1(args[1].encode()).hexdigest()] = hashlib.sha1(text.encode()).hexdigest()
                args = [args[0], text, *args[2:]]
        elif name in ("EVALSHA", "EVALSHA_RO") and len(args) > 1:
            args = [args[0], self.script_shas.get(args[1].lower(), args[1]), *args[2:]]
        return args

    async def handle(self, request):
        if not self.authorized(request):
            return self.reply({"error": "Unauthorized"}, 401)
        b64 = request.headers.get("Upstash-Encoding", "").lower() == "base64"
        body = await self.body(request)
        path = request.path.rstrip("/")
        try:
            if path == "":
                args = self.scripts(parse_command(body))
                try:
                    result = await self.redis.execute_command(*args)
                except rexc.ResponseError as e:
                    return self.reply({"error": error_text(e)}, 400)
                return self.reply({"result": encode(result, b64)})
            if path in ("/pipeline", "/multi-exec"):
                if not isinstance(body, list) or not body:
                    return self.reply({"error": "ERR body must be an array of commands"}, 400)
                commands = [parse_command(c) for c in body]
                pipe = self.redis.pipeline(transaction=path == "/multi-exec")
                for args in commands:
                    pipe.execute_command(*args)
                try:
                    results = await pipe.execute(raise_on_error=False)
                except rexc.ResponseError as e:  # EXECABORT and friends: the transaction did not run
                    return self.reply({"error": error_text(e)}, 400)
                return self.reply([
                    {"error": error_text(r)} if isinstance(r, rexc.ResponseError) else {"result": encode(r, b64)}
                    for r in results
                ])
            return self.reply({"error": f"ERR unknown path {request.path}"}, 404)
        except ValueError as e:
            return self.reply({"error": f"ERR {e}"}, 400)
        except (rexc.ConnectionError, rexc.TimeoutError, OSError) as e:
            log.warning("redis unavailable: %s", e)
            return self.reply({"error": f"ERR redis unavailable: {e}"}, 503)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:8079")
    ap.add_argument("--redis", default="redis://127.0.0.1:6390")
    ap.add_argument("--token", required=True)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s upstash-rest %(message)s")
    host, port = a.listen.rsplit(":", 1)
    server = Server(a.redis, a.token)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("POST", "/{tail:.*}", server.handle)

    async def start():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, int(port)))
        sock.listen(1024)
        await web.SockSite(runner, sock).start()
        log.info("listening on http://%s:%s, redis %s", host, port, a.redis)
        await asyncio.Event().wait()

    asyncio.run(start())


if __name__ == "__main__":
    main()
