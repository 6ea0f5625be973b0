"""A raw AMI server for tests: records every byte it receives, answers Login and then whatever the test
scripts (by default a bare Success to each action), and can go silent, drop clients or push raw bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

Responder = Callable[["RawAmiServer", dict[str, str]], "bytes | None"]


def frame(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


def success(req: dict[str, str], **extra: str) -> bytes:
    return frame(("Response", "Success"), ("ActionID", req.get("ActionID", "")), *extra.items())


@dataclass
class RawAmiServer:
    login_ok: bool = True
    silent: bool = False  # read requests, answer nothing (a stalled Asterisk)
    responder: Responder | None = None
    received: bytearray = field(default_factory=bytearray)
    requests: list[dict[str, str]] = field(default_factory=list)
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.AbstractServer | None = None
    # Answers never land in the middle of a pushed frame.
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_all(self) -> None:
        for w in self.writers:
            w.close()
        self.writers.clear()

    def actions(self, name: str) -> list[dict[str, str]]:
        return [r for r in self.requests if r.get("Action", "").lower() == name.lower()]

    async def push(self, data: bytes, pieces: list[int] | None = None, pause: float = 0.02) -> None:
        """Write ``data`` to every client, cut at the byte offsets in ``pieces`` into separate writes."""
        cuts = [0, *(pieces or []), len(data)]
        async with self._lock:
            for w in list(self.writers):
                for a, b in zip(cuts, cuts[1:], strict=False):
                    w.write(data[a:b])
                    await w.drain()
                    await asyncio.sleep(pause)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                self.received += raw
                req = {}
                for line in raw.decode("utf-8", "replace").split("\r\n"):
                    k, sep, v = line.partition(": ")
                    if sep:
                        req[k] = v
                self.requests.append(req)
                if self.silent:
                    continue
                if req.get("Action", "").lower() == "login":
                    if self.login_ok:
                        answer: bytes | None = success(req, Message="Authentication accepted")
                    else:
                        answer = frame(("Response", "Error"), ("ActionID", req.get("ActionID", "")),
                                       ("Message", "Authentication failed"))
                else:
                    answer = self.responder(self, req) if self.responder else success(req)
                if answer:
                    async with self._lock:
                        writer.write(answer)
                        await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            writer.close()
