"""The AMI wire format as the recorded Asterisk 22.10.1 speaks it: frames of header lines, a client's
request, a manager session with its event classes and filters."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import AmiServer

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EVENT_CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
                 "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
                 "message")
VERSION_LINE = ("Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-27 16:24:35 UTC")
Pairs = list[tuple[str, str]]


def _fmt(pairs: Pairs) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8", "replace")


def _unknown(v: str) -> str:
    return v if v else "<unknown>"


def _ts(t: float | None, zone: tzinfo = UTC) -> str:
    return "" if t is None else datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M:%S")


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _event_tv(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "+0000"


@dataclass
class Request:
    headers: Pairs

    def get(self, name: str) -> str:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return ""

    def has(self, name: str) -> bool:
        low = name.lower()
        return any(k.lower() == low for k, _ in self.headers)

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def action_id(self) -> str:
        return self.get("ActionID")


@dataclass
class Session:
    server: AmiServer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authenticated: bool = False
    username: str = ""
    event_classes: set[str] = field(default_factory=lambda: set(EVENT_CLASSES))
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)
    closed: bool = False

    def send(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    def wants(self, cls: str, text: str) -> bool:
        if not self.authenticated or cls not in self.event_classes:
            return False
        if not self.filters:
            return True
        white = [rx for inc, rx in self.filters if inc]
        black = [rx for inc, rx in self.filters if not inc]
        if white and not any(rx.search(text) for rx in white):
            return False
        return not any(rx.search(text) for rx in black)

    def close(self) -> None:
        self.closed = True
        if not self.writer.is_closing():
            self.writer.close()


_POSIX_CLASSES = {"[:cntrl:]": r"\x00-\x1f\x7f", "[:space:]": r" \t\n\r\f\v", "[:digit:]": "0-9",
                  "[:alpha:]": "A-Za-z", "[:alnum:]": "A-Za-z0-9", "[:upper:]": "A-Z", "[:lower:]": "a-z"}


def _posix_ere(expr: str) -> str:
    """Asterisk compiles a Filter as a POSIX extended regex (regcomp): its bracket classes mean what
    they mean there. Python's re has no [[:cntrl:]]; spell them out."""
    for posix, python in _POSIX_CLASSES.items():
        expr = expr.replace(posix, python)
    return expr
