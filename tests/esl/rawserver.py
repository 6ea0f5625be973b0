"""A scripted event socket server on a plain thread for the tests that must see the exact bytes a client
wrote (injection) or feed it frames no real FreeSWITCH would send (greenswitch defects)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable

Responder = Callable[[str], bytes | None]

AUTH_OK = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(body: str) -> bytes:
    data = body.encode()
    return f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data


def plain_event(payload: bytes) -> bytes:
    return f"Content-Length: {len(payload)}\nContent-Type: text/event-plain\n\n".encode() + payload


def default_responder(command: str) -> bytes | None:
    if command.startswith("auth "):
        return AUTH_OK
    if command.startswith("event "):
        return reply("+OK event listener enabled plain")
    if command.startswith("api "):
        return api_response("+OK\n")
    if command.startswith("bgapi "):
        return reply("+OK Job-UUID: 00000000-0000-0000-0000-000000000001")
    return reply("-ERR command not found")


class RawServer:
    """Accepts connections, answers each command (read up to the blank line) with ``responder(command)``
    (None: no answer) and records every byte received, per connection and in total."""

    def __init__(self, responder: Responder = default_responder) -> None:
        self.responder = responder
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.commands: list[str] = []
        self.conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with contextlib.suppress(OSError):
            conn.sendall(b"Content-Type: auth/request\n\n")
            while not self._stop:
                data = conn.recv(65536)
                if not data:
                    return
                with self._lock:
                    self.received += data
                buf += data
                while b"\n\n" in buf:
                    raw, buf = buf.split(b"\n\n", 1)
                    command = raw.decode("utf-8", "replace")
                    with self._lock:
                        self.commands.append(command)
                    out = self.responder(command)
                    if out:
                        conn.sendall(out)

    def push(self, data: bytes) -> None:
        """Write raw bytes to every connection."""
        for c in list(self.conns):
            with contextlib.suppress(OSError):
                c.sendall(data)

    def drop(self) -> None:
        for c in list(self.conns):
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
                c.close()
        self.conns.clear()

    def wait_for(self, pred: Callable[[], bool], timeout: float = 30.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.01)
        return pred()

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self.sock.close()
        self.drop()
