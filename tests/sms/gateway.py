"""A real local HTTP server standing in for an SMS provider: it records every request exactly as it came
over the wire and answers what the test tells it to (status, JSON, delay)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Gateway:
    url: str = ""
    requests: list[Captured] = field(default_factory=list)
    status: int = 201
    answer: Any = field(default_factory=lambda: {"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"})
    delay: float = 0.0


@contextmanager
def gateway() -> Iterator[Gateway]:
    """The gateway on a loopback port over http; while it runs, the outbound URL policy allows such
    targets (an operator's outbound_allow_http and outbound_allow_private), as it must be told to."""
    from clusterpbx.control import urlpolicy

    with urlpolicy.configured(urlpolicy.UrlPolicy(allow_http=True, allow_private=True)):
        yield from _gateway()


def _gateway() -> Iterator[Gateway]:
    gw = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            gw.requests.append(Captured("POST", self.path, {k: v for k, v in self.headers.items()}, body))
            if gw.delay:
                time.sleep(gw.delay)
            out = json.dumps(gw.answer).encode() if not isinstance(gw.answer, bytes) else gw.answer
            try:
                self.send_response(gw.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            except OSError:
                pass  # the client gave up (timeout test)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    gw.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield gw
    finally:
        server.shutdown()
        server.server_close()
