"""ASGI entry point for `clusterpbx web` (gunicorn's asgi worker): `clusterpbx.web.asgi:app`.

One asyncio loop per worker process. Every request except the live-calls stream goes to the Flask app,
run on a bounded thread pool exactly as a threaded WSGI server would run it (`WsgiBridge`). The stream
(/live/stream) is served on the loop itself: an open "Appels en cours" page is a parked coroutine and a
socket, not a thread. One Notifier per process reads the change log once a second and fans each
batch of changes out to every open stream (web/live/feed.py).

Authentication of the stream is Flask's own: the request's headers go through the Flask app's
request context (session cookie, Flask-Login's user loader with its session version and
"strong" session protection, remember cookie), on the thread pool, before anything is sent."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import logging
import os
import sys
import time
import types
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from flask import Flask
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.config import Config
from gunicorn.glogging import Logger

from . import create_app
from .live import feed, stream_scope

log = logging.getLogger("clusterpbx.web.asgi")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

STREAM_PATH = "/live/stream"
KEEPALIVE_SECONDS = 20.0  # a comment line now and then so that proxies keep the connection open
STREAM_SECONDS = 30 * 60  # then the browser reconnects, which checks the session again
RECHECK_SECONDS = 30.0  # open streams of a user signed out since (deactivated, new password) end
RETRY_MS = 3000


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP request (PEP 3333 strings: latin-1 bytes in str)."""
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client") or ("", 0)
    path = scope.get("path", "/")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode().decode("latin-1"),
        "PATH_INFO": path.encode().decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,  # the whole body is there, chunked or not
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            key = name
        else:
            key = f"HTTP_{name}"
        if key in environ:
            value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
        environ[key] = value
    return environ


class WsgiBridge:
    """Runs a WSGI app for ASGI requests on a bounded thread pool (the threads of a gthread worker)."""

    def __init__(self, app: Callable[..., Iterable[bytes]], threads: int, max_body: int):
        self.app = app
        self.max_body = max_body
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytearray()
        too_large = False
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if len(body) + len(message.get("body", b"")) <= self.max_body:
                body += message.get("body", b"")
            else:  # kept out of memory; with a Content-Length the app answers 413 (back to its form)
                too_large = True
            if not message.get("more_body"):
                break
        if too_large and not any(k.lower() == b"content-length" for k, _v in scope.get("headers", [])):
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body", "body": b"request body too large\n"})
            return
        loop = asyncio.get_running_loop()
        environ = wsgi_environ(scope, bytes(body))
        await loop.run_in_executor(self.pool, self._run, environ, send, loop)

    def _run(self, environ: dict[str, Any], send: Send, loop: asyncio.AbstractEventLoop) -> None:
        state: dict[str, Any] = {"started": False}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if exc_info and state["started"]:
                raise exc_info[1].with_traceback(exc_info[2])
            state["status"], state["headers"] = int(status.split(" ", 1)[0]), headers
            return lambda data: push(data, True)

        def post(message: dict[str, Any]) -> None:
            asyncio.run_coroutine_threadsafe(send(message), loop).result()

        def push(data: bytes, more: bool) -> None:
            if not state["started"]:
                state["started"] = True
                post({"type": "http.response.start", "status": state["status"],
                      "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in state["headers"]]})
            if data or not more:
                post({"type": "http.response.body", "body": data, "more_body": more})

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    push(chunk, True)
            push(b"", False)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


class Portal:
    """The ASGI application: the live-calls stream on the loop, everything else through the bridge."""

    def __init__(self, flask_app: Flask, threads: int = 16, recheck_seconds: float = RECHECK_SECONDS):
        self.flask = flask_app
        self.recheck_seconds = recheck_seconds
        self.bridge = WsgiBridge(flask_app, threads,
                                 int(flask_app.config.get("MAX_CONTENT_LENGTH") or 16 * 1024 * 1024))
        self.notifier = feed.Notifier(flask_app.extensions["clusterpbx.sessions"])
        self.streams = 0
        self.open: dict[asyncio.Event, feed.Scope] = {}  # each open stream's end signal and scope
        self._recheck: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope.get("path") == STREAM_PATH and scope["method"] in ("GET", "HEAD"):
            await self._stream(scope, receive, send)
        elif scope["type"] == "http":
            await self.bridge(scope, receive, send)
        else:  # websocket: not offered
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.notifier.stop()
                if self._recheck is not None:
                    self._recheck.cancel()
                self.bridge.pool.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        await self.notifier.start()
        self._recheck = asyncio.create_task(self._recheck_loop(), name="live-recheck")

    async def _recheck_loop(self) -> None:
        """Every RECHECK_SECONDS, one query for the users of every open stream of this process."""
        sessions = self.flask.extensions["clusterpbx.sessions"]

        def good(scopes: list[feed.Scope]) -> set[tuple[int, int]]:
            with sessions() as db:
                return feed.still_signed_in(db, scopes)

        while True:
            await asyncio.sleep(self.recheck_seconds)
            if not self.open:
                continue
            try:
                valid = await asyncio.to_thread(good, list(self.open.values()))
            except Exception:  # busy database: next time
                log.warning("live calls: checking open streams failed", exc_info=True)
                continue
            for ended, who in list(self.open.items()):
                if (who.user_id, who.session_version) not in valid:
                    ended.set()

    def _opening(self, scope_: feed.Scope, since: str, sent: set[str]) -> bytes:
        """An administrator's browser coming back with its cursor gets what changed since (feed.resume);
        a new one, one whose cursor is too old, or a user's (a few rows), the whole list."""
        if since and scope_.admin:
            with self.flask.extensions["clusterpbx.sessions"]() as db:
                data = feed.resume(db, scope_, since)
            if data is not None:
                return data
        data = self._snapshot(scope_)
        if not scope_.admin:
            sent.update(_ids(data))
        return data

    def _snapshot(self, scope_: feed.Scope) -> bytes:
        with self.flask.extensions["clusterpbx.sessions"]() as db:
            cursor, rows = feed.snapshot(db, scope_)
        when, now = feed.WhenText(scope_.timezone), feed.utcnow()
        return feed.encode("calls", [feed.public(r, when, now) for r in rows], cursor)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        environ = wsgi_environ(scope, b"")
        who = await loop.run_in_executor(self.bridge.pool, self._authorize_and_close, environ)
        if who is None:
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]})
            await send({"type": "http.response.body", "body": b"sign in first\n"})
            return
        if not self.notifier._task:  # a server without the lifespan protocol: start on first use
            await self._start()
        queue = self.notifier.subscribe()
        self.streams += 1
        disconnected, ended = asyncio.Event(), asyncio.Event()  # the browser left; the stream must end
        self.open[ended] = who

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()
            ended.set()

        watcher = asyncio.create_task(watch())
        sent: set[str] = set()
        try:
            first = await loop.run_in_executor(self.bridge.pool, self._opening, who, last_event_id(scope), sent)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream; charset=utf-8"),
                                    (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no"),
                                    (b"x-content-type-options", b"nosniff")]})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.body", "body": f"retry: {RETRY_MS}\n\n".encode() + first,
                        "more_body": True})
            deadline = time.monotonic() + STREAM_SECONDS
            while not ended.is_set() and time.monotonic() < deadline:
                getter = asyncio.ensure_future(queue.get())
                stop = asyncio.ensure_future(ended.wait())
                done, _pending = await asyncio.wait({getter, stop}, timeout=KEEPALIVE_SECONDS,
                                                    return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                if getter not in done:
                    getter.cancel()
                    if not ended.is_set():
                        await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                    continue
                batch = getter.result()
                if batch.reset:
                    data = await loop.run_in_executor(self.bridge.pool, self._snapshot, who)
                    if not who.admin:
                        sent = set(_ids(data))
                else:
                    data = batch.event_for(who, None if who.admin else sent) or b""
                if data:
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            if not disconnected.is_set():
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except (OSError, RuntimeError, ConnectionError):
            pass  # the browser went away while we wrote
        finally:
            self.notifier.unsubscribe(queue)
            self.open.pop(ended, None)
            self.streams -= 1
            watcher.cancel()

    def _authorize_and_close(self, environ: dict[str, Any]) -> feed.Scope | None:
        ctx = self.flask.request_context(environ)
        ctx.push()
        try:
            return stream_scope()
        finally:
            ctx.pop()  # teardown closes the request's database session


def last_event_id(scope: Scope) -> str:
    """The cursor a reconnecting EventSource sends (Last-Event-ID: its last event's id), or ""."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"last-event-id":
            return value.decode("latin-1")[:4096]
    return ""


def _ids(event: bytes) -> list[str]:
    data = event.split(b"data: ", 1)[1]
    return [c["id"] for c in json.loads(data)]


def make_app(flask_app: Flask | None = None, threads: int | None = None) -> Portal:
    """gunicorn: `clusterpbx.web.asgi:make_app()` (what `clusterpbx web` runs)."""
    threads = threads or int(os.environ.get("CLUSTERPBX_WEB_THREADS", "16"))
    recheck = float(os.environ.get("CLUSTERPBX_LIVE_RECHECK_SECONDS", RECHECK_SECONDS))
    return Portal(flask_app or create_app(), threads, recheck)




def serve(flask_app: Flask, host: str, port: int, threads: int = 16) -> None:
    """The demo's server (`clusterpbx run`): the same ASGI app and gunicorn's own HTTP protocol, on an
    event loop in this process (beside the demo's PBX and daemon threads), one process, no fork."""
    portal = Portal(flask_app, threads)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    cfg = Config()
    cfg.set("accesslog", "-")
    worker = types.SimpleNamespace(cfg=cfg, log=Logger(cfg), loop=loop, asgi=portal, alive=True, nr=0,
                                   max_requests=sys.maxsize, nr_conns=0, state={})
    loop.run_until_complete(portal._start())
    server = loop.run_until_complete(loop.create_server(lambda: ASGIProtocol(worker), host, port,
                                                        reuse_address=True))
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        worker.alive = False
        loop.run_until_complete(portal.notifier.stop())
        portal.bridge.pool.shutdown(wait=False)
