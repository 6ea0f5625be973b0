"""The event socket wire format, parsed strictly: frames are read to the blank line and their body by
Content-Length, and plain events are split into lines *before* each value is URL-decoded.

greenswitch 0.0.19 decodes a whole plain event first and splits it afterwards, so an encoded newline
(%0A) inside a caller name forges headers; it also glues an event's own body (BACKGROUND_JOB) onto its
last header. Everything here is pure (bytes in, values out) so the replay tests use it unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

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


@dataclass
class EslEvent:
    """A FreeSWITCH event: headers (first value of a repeated name), every header in order, and its body."""

    headers: dict[str, str]
    all_headers: list[tuple[str, str]] = field(default_factory=list)
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


def parse_plain_event(payload: bytes) -> EslEvent:
    """A text/event-plain payload: split into lines first, then URL-decode each value.

    The event's own body (BACKGROUND_JOB output, a log line...) follows the blank line after the
    headers and is exactly its Content-Length bytes, never URL-encoded.
    """
    head, sep, rest = payload.partition(b"\n\n")
    headers: dict[str, str] = {}
    ordered: list[tuple[str, str]] = []
    for raw in head.split(b"\n"):
        line = raw.decode("utf-8", "replace")
        if not line:
            continue
        name, colon, value = line.partition(": ")
        if not colon:
            name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"not an event header: {line[:80]!r}")
        decoded = unquote(value, errors="replace")
        ordered.append((name, decoded))
        headers.setdefault(name, decoded)
    body = ""
    if sep and "Content-Length" in headers:
        n = content_length(headers)
        body = rest[:n].decode("utf-8", "replace")
    return EslEvent(headers, ordered, body)


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
