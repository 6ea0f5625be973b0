"""A parser of the recorded AMI captures (format in shared/fixtures/README.md): the exact bytes of every
read and write, and the server's stream split into messages, for replaying into the translation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.components import shared_fixtures

FIXTURES = shared_fixtures()
ASTERISK = FIXTURES / "asterisk"

_BLOCK = re.compile(r"^\[(?P<time>\S+) \+(?P<offset>[0-9.]+)s\] (?P<dir>S->C|C->S) (?P<n>\d+) bytes$")
_ESCAPES = {"\\": b"\\", "r": b"\r", "n": b"\n", "t": b"\t"}


@dataclass
class Chunk:
    direction: str  # "S->C" or "C->S"
    offset: float
    data: bytes


def unescape(piece: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(piece):
        c = piece[i]
        if c != "\\":
            out += c.encode("ascii")
            i += 1
            continue
        nxt = piece[i + 1]
        if nxt == "x":
            out.append(int(piece[i + 2:i + 4], 16))
            i += 4
        else:
            out += _ESCAPES[nxt]
            i += 2
    return bytes(out)


def parse(path: Path) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: tuple[Chunk, int] | None = None
    for line in path.read_text(encoding="ascii").splitlines():
        m = _BLOCK.match(line)
        if m:
            current = (Chunk(m["dir"], float(m["offset"]), b""), int(m["n"]))
            chunks.append(current[0])
        elif line.startswith("    |") and current is not None:
            current[0].data += unescape(line[5:line.rindex("|")])
        elif line.startswith("#"):
            current = None
    return chunks


def server_bytes(name: str) -> bytes:
    return b"".join(c.data for c in parse(ASTERISK / name) if c.direction == "S->C")


def split_messages(data: bytes) -> list[list[tuple[str, str]]]:
    """The stream (after the banner line) as messages of (header, value) pairs, in order."""
    text = data.decode("utf-8")
    if text.startswith("Asterisk Call Manager/"):
        text = text.split("\r\n", 1)[1]
    messages = []
    for block in text.split("\r\n\r\n"):
        pairs = []
        for line in block.strip().split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                pairs.append((key, value[1:] if value.startswith(" ") else value))
        if pairs:
            messages.append(pairs)
    return messages


def server_events(name: str) -> list[dict[str, str]]:
    """The events Asterisk sent in a capture (responses and list items with an ActionID left out)."""
    out = []
    for pairs in split_messages(server_bytes(name)):
        d = dict(pairs)
        if "Event" in d and "ActionID" not in d:
            out.append(d)
    return out


def list_items(name: str, event: str) -> list[dict[str, str]]:
    """The items of a list answer (e.g. every CoreShowChannel event) in a capture."""
    return [dict(p) for p in split_messages(server_bytes(name)) if dict(p).get("Event") == event]
