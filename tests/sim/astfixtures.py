"""Parser for the Asterisk AMI capture format in shared/fixtures/asterisk (see the fixtures README)."""
from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.components import shared_fixtures

_BLOCK = re.compile(r"^\[(?P<ts>[^\]]+) \+(?P<rel>[0-9.]+)s\] (?P<dir>S->C|C->S) (?P<n>\d+) bytes$")


def fixtures_dir() -> Path:
    return shared_fixtures()


def asterisk_dir() -> Path:
    return fixtures_dir() / "asterisk"


@dataclass
class Chunk:
    direction: str               # "S->C" or "C->S"
    data: bytes
    rel: float
    size: int = 0                # byte count from the block header, checked against the pieces
    notes: list[str] = field(default_factory=list)   # NOTE lines that follow this chunk


@dataclass
class Capture:
    name: str
    header: list[str]
    chunks: list[Chunk]
    notes: list[tuple[float, str]]   # (+seconds, text) for every "# NOTE" line

    def client_bytes(self) -> list[bytes]:
        return [c.data for c in self.chunks if c.direction == "C->S"]

    def server_bytes(self) -> bytes:
        return b"".join(c.data for c in self.chunks if c.direction == "S->C")

    @property
    def eof(self) -> bool:
        return any("EOF" in n for _, n in self.notes)


def unescape(piece: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(piece):
        ch = piece[i]
        if ch == "\\" and i + 1 < len(piece):
            nxt = piece[i + 1]
            if nxt in "\\rnt":
                out += {"\\": b"\\", "r": b"\r", "n": b"\n", "t": b"\t"}[nxt]
                i += 2
                continue
            if nxt == "x":
                out.append(int(piece[i + 2:i + 4], 16))
                i += 4
                continue
        out += ch.encode()
        i += 1
    return bytes(out)


def parse(path: Path) -> Capture:
    header: list[str] = []
    chunks: list[Chunk] = []
    notes: list[tuple[float, str]] = []
    cur: Chunk | None = None
    for line in path.read_text(encoding="ascii").splitlines():
        m = _BLOCK.match(line)
        if m:
            cur = Chunk(m["dir"], b"", float(m["rel"]), int(m["n"]))
            chunks.append(cur)
            continue
        if line.startswith("    |") and cur is not None:
            cur.data += unescape(line[5:line.rindex("|")])
            continue
        if line.startswith("# NOTE"):
            nm = re.match(r"# NOTE \+([0-9.]+)s: (.*)", line)
            if nm:
                notes.append((float(nm[1]), nm[2]))
                if cur is not None:
                    cur.notes.append(nm[2])
            continue
        if line.startswith("#") and not chunks:
            header.append(line)
    for c in chunks:
        if c.size != len(c.data):
            raise ValueError(f"{path.name}: block at +{c.rel}s says {c.size} bytes, pieces give {len(c.data)}")
    return Capture(path.stem, header, chunks, notes)


def split_messages(data: bytes) -> list[list[tuple[str, str]]]:
    """Split an AMI byte stream (after the banner) into messages, each a list of (header, value)."""
    msgs: list[list[tuple[str, str]]] = []
    for block in data.split(b"\r\n\r\n"):
        if not block.strip():
            continue
        hdrs: list[tuple[str, str]] = []
        for line in block.split(b"\r\n"):
            text = line.decode("utf-8", "replace")
            k, sep, v = text.partition(":")
            hdrs.append((k, v[1:] if v.startswith(" ") else v) if sep else (text, ""))
        msgs.append(hdrs)
    return msgs


def all_captures() -> list[Path]:
    return sorted(p for p in asterisk_dir().glob("[0-9][0-9]*_*.txt"))


class RawAmi:
    """A blocking AMI client over a plain socket, for byte-level checks; every read has a deadline."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except ConnectionError:
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, marker: bytes, timeout: float | None = None) -> bytes:
        """Bytes up to and including marker; raises TimeoutError if it does not come in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while marker not in self.buf:
            if not self._fill(deadline):
                raise TimeoutError(f"no {marker!r} in time; got {self.buf[-300:]!r}")
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_message(self, timeout: float | None = None) -> list[tuple[str, str]]:
        return split_messages(self.read_until(b"\r\n\r\n", timeout))[0]

    def wait_for(self, pred: Callable[[list[tuple[str, str]]], bool],
                 timeout: float | None = None) -> list[list[tuple[str, str]]]:
        """Read messages until pred(message) is true; returns every message read, the match last."""
        seen = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            msg = self.read_message(max(0.01, deadline - time.monotonic()))
            seen.append(msg)
            if pred(msg):
                return seen

    def read_to_eof(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            if not self._fill(deadline) and not self.eof:
                raise TimeoutError("connection not closed in time")
        out, self.buf = self.buf, b""
        return out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def action(self, name: str, **headers: str) -> None:
        lines = [f"Action: {name}"] + [f"{k}: {v}" for k, v in headers.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def login(self, user: str = "portal", secret: str = "portalsecret",  # noqa: S107 - the lab credential
              events: str | None = None) -> None:
        self.read_until(b"\r\n")   # banner
        extra = {"Events": events} if events is not None else {}
        self.action("Login", ActionID="login", Username=user, Secret=secret, **extra)
        self.wait_for(lambda m: m[0] == ("Response", "Success") or m[0] == ("Response", "Error"))

    def close(self) -> None:
        self.sock.close()


def headers_of(msg: list[tuple[str, str]]) -> list[str]:
    return [k for k, _ in msg]


def get(msg: list[tuple[str, str]], name: str) -> str | None:
    return next((v for k, v in msg if k == name), None)
