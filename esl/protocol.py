"""The event socket wire format, parsed strictly: frames are read to the blank line and their body by
Content-Length, and plain events are split into lines *before* each value is URL-decoded (lazily: a
value is decoded when it is read).

greenswitch 0.0.19 decodes a whole plain event first and splits it afterwards, so an encoded newline
(%0A) inside a caller name forges headers; it also glues an event's own body (BACKGROUND_JOB) onto its
last header. Everything here is pure (bytes in, values out) so the replay tests use it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, overload
from urllib.parse import quote, unquote

# A frame header block or body bigger than this is not something FreeSWITCH sends (a whole event with
# every channel variable is 10-20 KB): the connection is treated as broken rather than buffered forever.
MAX_HEADER_BLOCK = 64 * 1024
MAX_BODY = 8 * 1024 * 1024


class ProtocolError(Exception):
    """The byte stream is not event socket framing: the connection cannot be trusted any more."""


@dataclass
class Frame:
    """One event socket frame: its outer headers and the Content-Length body (bytes, maybe empty)."""

    headers: dict[str, str]
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def parse_header_block(block: bytes) -> dict[str, str]:
    """Outer frame headers ("Name: value" lines, not URL-encoded). The first occurrence of a name wins."""
    headers: dict[str, str] = {}
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ProtocolError(f"not a header line: {line[:80]!r}")
        headers.setdefault(name.strip(), value.strip())
    return headers


def content_length(headers: Mapping[str, str]) -> int:
    raw = headers.get("Content-Length")
    if raw is None:
        return 0
    if not raw.isdigit():
        raise ProtocolError(f"bad Content-Length {raw[:20]!r}")
    n = int(raw)
    if n > MAX_BODY:
        raise ProtocolError(f"Content-Length {n} too large")
    return n


class FrameParser:
    """Incremental framing: feed it whatever a read returned, get the complete frames back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: dict[str, str] | None = None  # headers read, waiting for the body
        self._need = 0

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        out: list[Frame] = []
        while True:
            if self._pending is None:
                # FreeSWITCH never sends empty lines between frames, but a client may meet them after a
                # body: skip them as mod_event_socket does on its side.
                while self._buf[:1] == b"\n":
                    del self._buf[:1]
                end = self._buf.find(b"\n\n")
                if end < 0:
                    if len(self._buf) > MAX_HEADER_BLOCK:
                        raise ProtocolError("header block too large")
                    return out
                headers = parse_header_block(bytes(self._buf[:end]))
                del self._buf[: end + 2]
                self._pending, self._need = headers, content_length(headers)
            if len(self._buf) < self._need:
                return out
            body = bytes(self._buf[: self._need])
            del self._buf[: self._need]
            out.append(Frame(self._pending, body))
            self._pending, self._need = None, 0


def iter_frames(stream: bytes) -> Iterator[Frame]:
    parser = FrameParser()
    yield from parser.feed(stream)


class PlainHeaders(Mapping[str, str]):
    """A plain event's headers, first value of a repeated name, URL-decoded only when read.

    The payload was split into lines before anything is decoded (an encoded newline stays inside its
    value) and every line was checked to be "Name: value"; reading a header finds its line in the head's
    text and decodes that value alone: an event carries ~130 headers and the translator reads a few.
    Iterating (``items()``, ``variables()``) splits every line once and decodes what it returns.
    """

    __slots__ = ("_text", "_lines", "_raw")

    def __init__(self, text: str, lines: list[str]) -> None:
        self._text = "\n" + text  # every line starts after a "\n"
        self._lines = lines
        self._raw: dict[str, str] | None = None

    def raw(self) -> dict[str, str]:
        """Every header, first value of a repeated name, still URL-encoded (as FreeSWITCH wrote it)."""
        if self._raw is None:
            raw: dict[str, str] = {}
            for line in self._lines:
                name, _sep, value = line.partition(": ")
                raw.setdefault(name, value)
            self._raw = raw
        return self._raw

    def _find(self, name: str) -> str | None:
        if self._raw is not None:  # split already (iterated)
            return self._raw.get(name)
        if "\n" in name or ": " in name:  # not a header name: only the split lines can answer
            return self.raw().get(name)
        text = self._text
        at = text.find("\n" + name + ": ")  # the first line named exactly ``name``
        if at < 0:
            return None
        start = at + len(name) + 3
        end = text.find("\n", start)
        return text[start:] if end < 0 else text[start:end]

    def __getitem__(self, name: str) -> str:
        value = self._find(name)
        if value is None:
            raise KeyError(name)
        return unquote(value, errors="replace")

    def get(self, name: str, default: Any = None) -> Any:
        value = self._find(name)
        return default if value is None else unquote(value, errors="replace")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw())

    def __len__(self) -> int:
        return len(self.raw())

    def __repr__(self) -> str:
        return f"PlainHeaders({dict(self)!r})"


class PlainPairs(Sequence[tuple[str, str]]):
    """Every header of a plain event in order (repeats included), each value URL-decoded when read."""

    __slots__ = ("_lines",)

    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def _pair(self, line: str) -> tuple[str, str]:
        name, _sep, value = line.partition(": ")
        return name, unquote(value, errors="replace")

    @overload
    def __getitem__(self, i: int) -> tuple[str, str]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[str, str]]: ...

    def __getitem__(self, i: int | slice) -> tuple[str, str] | list[tuple[str, str]]:
        if isinstance(i, slice):
            return [self._pair(line) for line in self._lines[i]]
        return self._pair(self._lines[i])

    def __len__(self) -> int:
        return len(self._lines)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"PlainPairs({list(self)!r})"


@dataclass
class EslEvent:
    """A FreeSWITCH event: headers (first value of a repeated name), every header in order, and its body."""

    headers: Mapping[str, str]
    all_headers: Sequence[tuple[str, str]] = field(default_factory=list)
    body: str = ""

    @property
    def name(self) -> str:
        return self.headers.get("Event-Name", "")

    @property
    def subclass(self) -> str:
        return self.headers.get("Event-Subclass", "")

    def get(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    def variables(self) -> dict[str, str]:
        """The channel variables an event carries (``variable_x`` headers), by name without the prefix."""
        return {k[len("variable_"):]: v for k, v in self.headers.items() if k.startswith("variable_")}

    def encoded_variables(self) -> dict[str, str]:
        """``variables()`` URL-encoded, as mod_json_cdr posts them: a plain event's values as FreeSWITCH
        wrote them (nothing decoded), the others' quoted."""
        if isinstance(self.headers, PlainHeaders):
            raw = self.headers.raw()
            return {k[len("variable_"):]: v for k, v in raw.items() if k.startswith("variable_")}
        return {k: quote(v, safe="") for k, v in self.variables().items()}


def _header_lines(head: bytes) -> tuple[str, list[str]]:
    """The head's text and its lines, each checked to be a header line ("Name: value", or "Name:value"
    which is rewritten "Name: value"); a line without a colon is a ProtocolError."""
    text = head.decode("utf-8", "replace")  # "\n" is never part of a UTF-8 sequence: as line by line
    lines = text.split("\n") if text else []
    if all(map(str.__contains__, lines, repeat(": "))):
        return text, lines  # FreeSWITCH writes every line so
    fixed = []
    for line in lines:
        if not line:
            continue
        name, colon, value = line.partition(": ")
        if not colon:
            name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"not an event header: {line[:80]!r}")
        fixed.append(f"{name}: {value}")
    return "\n".join(fixed), fixed


def parse_plain_event(payload: bytes) -> EslEvent:
    """A text/event-plain payload: split into lines first; each value is URL-decoded when it is read.

    The event's own body (BACKGROUND_JOB output, a log line...) follows the blank line after the
    headers and is exactly its Content-Length bytes, never URL-encoded.
    """
    head, sep, rest = payload.partition(b"\n\n")
    text, lines = _header_lines(head.strip(b"\n"))  # only empty lines at the ends (the blank line ends it)
    headers = PlainHeaders(text, lines)
    body = ""
    if sep and "Content-Length" in headers:
        n = content_length(headers)
        body = rest[:n].decode("utf-8", "replace")
    return EslEvent(headers, PlainPairs(lines), body)


class _Pairs(list[tuple[str, object]]):
    """A JSON object as its (name, value) pairs in order."""


def parse_json_event(payload: bytes) -> EslEvent:
    """A text/event-json payload: values are not URL-encoded; the body is the ``_body`` member."""
    try:
        # pairs, not a dict: a header that appears twice must not silently lose a value
        doc = json.loads(payload.decode("utf-8", "replace"), object_pairs_hook=_Pairs)
    except ValueError as exc:
        raise ProtocolError(f"bad json event: {exc}") from None
    if not isinstance(doc, _Pairs):
        raise ProtocolError("json event is not an object")
    headers: dict[str, str] = {}
    ordered: list[tuple[str, str]] = []
    body = ""
    for name, value in doc:
        if name == "_body":
            body = str(value)
            continue
        # FreeSWITCH writes a header that appears twice as a JSON array of its values.
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = v if isinstance(v, str) else json.dumps(dict(v) if isinstance(v, _Pairs) else v)
            ordered.append((name, text))
            headers.setdefault(name, text)
    return EslEvent(headers, ordered, body)


def event_from_frame(frame: Frame) -> EslEvent | None:
    """The event a text/event-plain or text/event-json frame carries; None for other frames."""
    ctype = frame.content_type
    if ctype == "text/event-plain":
        return parse_plain_event(frame.body)
    if ctype == "text/event-json":
        return parse_json_event(frame.body)
    return None
