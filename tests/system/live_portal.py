"""`clusterpbx web` started as production starts it (gunicorn, its asgi worker) on a loopback port, and
a small server-sent-events reader over a plain socket, for the live-calls tests and bench/live.py."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.conftest import PASSWORD


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def portal(database_url: str, instance: Path, workers: int = 1, threads: int = 4,
           boot_timeout: float = 90.0, env: dict[str, str] | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Yield (base URL, the gunicorn master process)."""
    port = free_port()
    instance.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CLUSTERPBX_DATABASE_URL": database_url, "CLUSTERPBX_INSTANCE": str(instance),
           "CLUSTERPBX_SESSION_COOKIE_SECURE": "false", "CLUSTERPBX_RATELIMIT_STORAGE_URL": "memory://",
           "CLUSTERPBX_LOG_LEVEL": "WARNING", **(env or {})}  # the caller's `env` wins (e.g. a Redis storage)
    log = open(instance / "web.log", "wb")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-c", "from clusterpbx import main; main()", "web", "--bind", f"127.0.0.1:{port}",
           "--workers", str(workers), "--threads", str(threads)]
    # A session of its own: gunicorn's master and its workers are stopped together (below).
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + boot_timeout
        while True:
            try:
                if requests.get(f"{base}/login", timeout=30).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("clusterpbx web did not start:\n" + (instance / "web.log").read_text())
            time.sleep(0.3)
        yield base, proc
    finally:
        # Killed, not stopped: every answer the test waited for is in the database already, and a
        # graceful stop costs 1.5-2 s (gunicorn's master and its asgi worker each notice a signal once a
        # second) in each of the twenty-odd tests that start a server.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def login(base: str, email: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = "live-test"
    html = s.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert token, "no CSRF token on /login"
    resp = s.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token.group(1)},
                  allow_redirects=False, timeout=30)
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"], resp.status_code
    return s


class Stream:
    """One open GET /live/stream on its own socket; `events()` parses what has arrived."""

    def __init__(self, base: str, session: requests.Session | None = None, timeout: float = 30.0,
                 last_event_id: str = ""):
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies) if session else ""
        ua = session.headers.get("User-Agent", "live-test") if session else "live-test"
        request = (f"GET /live/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
                   f"User-Agent: {ua}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "")
                   + (f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else "") + "\r\n")
        self.sock.sendall(request.encode())
        self.buffer = b""
        self.status = 0
        self.headers: dict[str, str] = {}
        self.received = 0
        self.last_id = ""
        self._body = b""

    def _fill(self, timeout: float) -> bool:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        if not data:
            raise EOFError("stream closed")
        self.received += len(data)
        self.buffer += data
        return True

    def head(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buffer:
            if time.monotonic() > deadline:
                raise AssertionError("no response head")
            self._fill(max(0.05, deadline - time.monotonic()))
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        return self.status

    def _dechunk(self) -> None:
        """The body so far, chunked transfer encoding removed."""
        while True:
            if b"\r\n" not in self.buffer:
                return
            size_line, rest = self.buffer.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if len(rest) < size + 2:
                return
            self._body += rest[:size]
            self.buffer = rest[size + 2:]
            if size == 0:
                return

    def events(self, timeout: float = 0.0) -> list[tuple[str, Any, int]]:
        """Complete events (name, data, bytes of the event) received within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        out: list[tuple[str, Any, int]] = []
        while True:
            if self.headers.get("transfer-encoding") == "chunked":
                self._dechunk()
            else:
                self._body, self.buffer = self._body + self.buffer, b""
            while b"\n\n" in self._body:
                raw, self._body = self._body.split(b"\n\n", 1)
                name, data = "message", None
                for line in raw.decode().split("\n"):
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                    elif line.startswith("id: "):
                        self.last_id = line[4:]  # what an EventSource sends back as Last-Event-ID
                if data is not None:
                    out.append((name, data, len(raw) + 2))
            left = deadline - time.monotonic()
            if out or left <= 0:
                return out
            self._fill(min(left, 1.0))

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> list[tuple[str, Any, int]]:
        """Every event until one satisfies `predicate` (an AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        seen: list[tuple[str, Any, int]] = []
        while time.monotonic() < deadline:
            for event in self.events(timeout=min(1.0, deadline - time.monotonic())):
                seen.append(event)
                if predicate(event):
                    return seen
        raise AssertionError(f"no matching event within {timeout}s; got {[(n, d) for n, d, _ in seen]}")

    def close(self) -> None:
        self.sock.close()
