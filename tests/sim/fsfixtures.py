"""Parser for the FreeSWITCH ESL captures in fixtures/freeswitch/ and helpers splitting a byte stream into ESL frames.

Capture format: `@@ <dir> t=<s> len=<n>` then exactly n raw bytes then one newline; `#` lines are comments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from tests.components import shared_fixtures

_BLOCK = re.compile(rb"@@ (S>C|C>S|EOF|NOTE) t=([0-9.]+) len=(\d+)\n")


def fixtures_dir() -> Path:
    return shared_fixtures()


def freeswitch_dir() -> Path:
    return fixtures_dir() / "freeswitch"


@dataclass
class Block:
    direction: str  # 'S>C', 'C>S', 'EOF' or 'NOTE'
    t: float
    data: bytes


@dataclass
class Capture:
    name: str
    comments: list[str]
    blocks: list[Block]

    def server_bytes(self) -> bytes:
        return b"".join(b.data for b in self.blocks if b.direction == "S>C")

    def client_writes(self) -> list[bytes]:
        return [b.data for b in self.blocks if b.direction == "C>S"]

    @property
    def closes(self) -> bool:
        return any(b.direction == "EOF" for b in self.blocks)


def parse_capture(path: Path) -> Capture:
    data = path.read_bytes()
    comments: list[str] = []
    blocks: list[Block] = []
    i = 0
    while i < len(data):
        if data.startswith(b"#", i):
            j = data.index(b"\n", i)
            comments.append(data[i:j].decode())
            i = j + 1
            continue
        if data.startswith(b"\n", i):
            i += 1
            continue
        m = _BLOCK.match(data, i)
        if not m:
            raise ValueError(f"{path.name}: bad block at byte {i}: {data[i:i + 60]!r}")
        n = int(m.group(3))
        start = m.end()
        body = data[start:start + n]
        if len(body) != n or data[start + n:start + n + 1] not in (b"\n", b""):
            raise ValueError(f"{path.name}: block at byte {i} is not followed by a newline")
        blocks.append(Block(m.group(1).decode(), float(m.group(2)), body))
        i = start + n + 1
    return Capture(path.stem, comments, blocks)


@dataclass
class Frame:
    """One ESL frame: headers in wire order (a name may repeat) and the body of Content-Length bytes."""

    headers: list[tuple[str, str]]
    body: bytes = b""
    raw: bytes = b""

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return default

    @property
    def content_type(self) -> str | None:
        return self.get("Content-Type")

    @property
    def names(self) -> list[str]:
        return [k for k, _ in self.headers]


def parse_headers(text: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in text.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        k, _, v = line.partition(":")
        out.append((k, v[1:] if v.startswith(" ") else v))
    return out


def split_frames(data: bytes) -> tuple[list[Frame], bytes]:
    """Split a byte stream into complete frames; returns the frames and the incomplete rest."""
    frames: list[Frame] = []
    i = 0
    while True:
        # FreeSWITCH never sends leading blank lines, but tolerate them like ESL clients do
        while data.startswith(b"\n", i):
            i += 1
        end = data.find(b"\n\n", i)
        if end < 0:
            break
        headers = parse_headers(data[i:end])
        clen = next((int(v) for k, v in headers if k == "Content-Length"), 0)
        if end + 2 + clen > len(data):
            break
        body = data[end + 2:end + 2 + clen]
        frames.append(Frame(headers, body, data[i:end + 2 + clen]))
        i = end + 2 + clen
    return frames, data[i:]


@dataclass
class Event:
    fmt: str  # plain, json or xml
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v
        return default

    @property
    def names(self) -> list[str]:
        return [k for k, _ in self.headers]

    @property
    def key(self) -> str:
        """Event-Name, or CUSTOM::<subclass> for custom events."""
        name = self.get("Event-Name") or "?"
        if name == "CUSTOM":
            return "CUSTOM " + (self.get("Event-Subclass") or "")
        return name


def parse_event(frame: Frame) -> Event | None:
    ctype = frame.content_type
    if ctype == "text/event-plain":
        head, sep, rest = frame.body.partition(b"\n\n")
        headers = [(k, unquote(v)) for k, v in parse_headers(head)]
        ev = Event("plain", headers)
        clen = next((int(v) for k, v in headers if k == "Content-Length"), None)
        if clen is not None:
            ev.body = rest[:clen].decode("utf-8", "replace")
        return ev
    if ctype == "text/event-json":
        # keep repeated header names: FreeSWITCH emits a duplicated header twice in one JSON object
        pairs: list[tuple[str, str]] = json.loads(frame.body, object_pairs_hook=lambda p: p)
        ev = Event("json", [(k, v) for k, v in pairs if k != "_body"])
        ev.body = next((v for k, v in pairs if k == "_body"), None)
        return ev
    if ctype == "text/event-xml":
        text = frame.body.decode()
        inner = re.search(r"<headers>(.*)</headers>", text, re.S)
        pairs = re.findall(r"<([^/>\s]+)>(.*?)</\1>", inner.group(1) if inner else "", re.S)
        ev = Event("xml", [(k, unquote(v)) for k, v in pairs])
        body = re.search(r"<body>(.*)</body>", text, re.S)
        ev.body = body.group(1) if body else None
        return ev
    return None


def server_frames(cap: Capture) -> list[Frame]:
    frames, rest = split_frames(cap.server_bytes())
    if rest.strip():
        raise ValueError(f"{cap.name}: trailing partial frame {rest[:60]!r}")
    return frames


def all_captures() -> list[Path]:
    return sorted(freeswitch_dir().glob("*.txt"))


# ---------------------------------------------------------------------- a sim ESL server on its own loop thread


class EslThread:
    """The FreeSWITCH lab model and an EslServer on an asyncio loop in a background thread (greenswitch and raw
    sockets run in the test's thread). Model calls go through call() so they run on the loop thread."""

    def __init__(self, register: bool = True, **server_kw: object) -> None:
        import asyncio
        import threading

        from clusterpbx.sim.esl.server import EslServer
        from clusterpbx.sim.lab import freeswitch_lab

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="esl-sim", daemon=True)
        self.thread.start()
        self.model = self.call(lambda: freeswitch_lab(register=register))
        self.server = self.call(lambda: EslServer(self.model, **server_kw))
        self.run(self.server.start())
        self.port: int = self.server.port

    def call(self, fn, *args, timeout: float = 10.0):  # type: ignore[no-untyped-def]
        import asyncio

        async def go():  # type: ignore[no-untyped-def]
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(go(), self.loop).result(timeout)

    def run(self, coro, timeout: float = 10.0):  # type: ignore[no-untyped-def]
        import asyncio
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        try:
            self.run(self.server.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


class RawClient:
    """A blocking socket client that reads whole ESL frames with a deadline."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.frames: list[Frame] = []
        self.eof = False

    def _fill(self, deadline: float) -> bool:
        import time
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        frames, self.buf = split_frames(self.buf)
        self.frames.extend(frames)
        return True

    def frame(self, timeout: float | None = None) -> Frame:
        import time
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.frames:
            if not self._fill(deadline) and (self.eof or time.monotonic() >= deadline):
                raise TimeoutError(f"no frame (eof={self.eof}, buffered={self.buf[:80]!r})")
        return self.frames.pop(0)

    def until(self, pred, timeout: float | None = None) -> Frame:  # type: ignore[no-untyped-def]
        """Next frame matching pred (frames before it are dropped)."""
        import time
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            f = self.frame(max(0.01, deadline - time.monotonic()))
            if pred(f):
                return f

    def send(self, data: bytes | str) -> None:
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def cmd(self, text: str, timeout: float | None = None) -> Frame:
        """Send a command and return its reply (command/reply or api/response), skipping events."""
        self.send(text + "\n\n")
        return self.until(lambda f: f.content_type in ("command/reply", "api/response"), timeout)

    def login(self, password: str = "ClueCon") -> Frame:  # noqa: S107 (the lab password)
        assert self.frame().content_type == "auth/request"
        return self.cmd(f"auth {password}")

    def wait_eof(self, timeout: float = 30.0) -> bool:
        import time
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            self._fill(deadline)
        return self.eof

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------------- sim/data/esl_templates.json generator

_COMMON = {"Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6",
           "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence"}
_CHANNEL_KINDS = ("CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
                  "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "CHANNEL_CALLSTATE", "PRESENCE_IN")


def _tokenize(value: str, tokens: list[tuple[str, str]]) -> str:
    # call-specific strings first (channel names before numbers), then numbers as whole words, then times
    for tok, rec in tokens:
        if re.fullmatch(r"\d+", rec):
            value = re.sub(r"(?<![\d.])" + rec + r"(?![\d])", "{{" + tok + "}}", value)
        else:
            value = value.replace(rec, "{{" + tok + "}}")
    # the recording's own identity, also found inside channel variables
    value = value.replace("e73f7fb1-99bd-4df0-b244-0707eb19b245", "{{core_uuid}}")
    value = value.replace("192.0.2.2", "{{ipv4}}").replace("fd00::2", "{{ipv6}}")
    if value == "vm":
        value = "{{hostname}}"
    value = re.sub(r"\b1795\d{12}\b", "{{t_us}}", value)
    value = re.sub(r"\b1795\d{6}\b", "{{t_s}}", value)
    return re.sub(r"2026-11-27 \d\d:\d\d:\d\d", "{{date_local}}", value)


def generate_templates() -> str:
    """The text of sim/data/esl_templates.json: recorded header lists of the events the sim emits, keyed by kind."""
    out: dict[str, list[tuple[str, str]]] = {}

    def evs(name: str) -> list[Event]:
        return [e for e in (parse_event(f) for f in server_frames(parse_capture(freeswitch_dir() / name))) if e]

    def add(key: str, ev: Event, tokens: list[tuple[str, str]]) -> None:
        if key not in out:
            out[key] = [(k, "" if k in _COMMON else _tokenize(v, tokens)) for k, v in ev.headers]

    a05, b05 = "c0dcef60-5dd9-47e4-9b63-af6ce40711d4", "c58a4329-0863-46fe-8ac9-12bc6ee37bb2"
    t05 = [("b_chan", "sofia/internal/1001@127.0.0.1:25071"), ("a_chan", "sofia/internal/1000@127.0.0.1"),
           ("a_uuid", a05), ("b_uuid", b05), ("a_num", "1000"), ("b_num", "1001")]
    for e in evs("05_events_plain_answered_call.txt"):
        if e.key in _CHANNEL_KINDS:
            add(f"{e.key}/{e.get('Call-Direction')}", e, t05)
        elif e.key == "CUSTOM sofia::register_attempt":
            add(e.key, e, [("contact", '"" <sip:1000@127.0.0.1:25090>'), ("call_id", "1-8790@127.0.0.1"),
                           ("port", "25090"), ("a_num", "1000"), ("b_num", "1001")])
    o16 = "2b24b3e2-ce1c-4eeb-b6c9-b11184476ac5"
    for e in evs("16_originate.txt"):
        if e.get("Unique-ID") == o16:
            add(f"{e.key}/originate", e, [("b_chan", "sofia/internal/1000@127.0.0.1:25070"), ("b_uuid", o16),
                                          ("b_num", "1000")])
        elif e.key in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE") and e.get("Unique-ID"):
            add(f"{e.key}/originate_unanswered", e, [("b_chan", "sofia/internal/1002@127.0.0.1:25072"),
                                                     ("b_uuid", e.get("Unique-ID") or ""), ("b_num", "1002")])
    b07 = "b9189717-dd5d-4172-9875-2851ef90a721"
    t07 = [("b_chan", "sofia/internal/1002@127.0.0.1:25072"), ("a_chan", "sofia/internal/1000@127.0.0.1"),
           ("b_uuid", b07), ("a_uuid", "4ce3f871-27ac-4139-9432-24a3ecdf7be2"), ("a_num", "1000"), ("b_num", "1002")]
    for e in evs("07_events_plain_voicemail_call.txt"):
        if e.get("Unique-ID") == b07 and e.key in (
                "CHANNEL_HANGUP", "CHANNEL_CALLSTATE", "PRESENCE_IN", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY") and (
                e.get("Channel-Call-State") == "HANGUP" or e.key == "CHANNEL_HANGUP"):
            add(f"{e.key}/outbound_unanswered", e, t07)
    t11 = [("b_chan", "sofia/internal/1001@127.0.0.1:25071"), ("a_chan", "sofia/internal/1000@127.0.0.1"),
           ("queue", "support@default"), ("a_uuid", "ea75351a-df89-4538-89a6-bda1831429c5"),
           ("b_uuid", "23ade8ee-6a55-45e1-b9b0-7269b2d6ead5"), ("member_uuid", "832ff3e6-30f8-46f8-8f6b-bd6baad9053d"),
           ("a_num", "1000"), ("b_num", "1001"), ("a_dest", "7700")]
    for e in evs("11_callcenter_queue_call.txt"):
        if e.key.startswith("CUSTOM"):
            add(f"{e.key}/{e.get('CC-Action')}", e, t11)
    t12 = [("conf_uuid", "db8a725d-3645-4735-8069-2656638050ef"), ("a_uuid", "4e79cbd4-2dcf-4e96-9459-9cedd09276f4"),
           ("conf_name", "3000-127.0.0.1"), ("a_chan", "sofia/internal/1000@127.0.0.1"), ("a_dest", "3000"),
           ("a_num", "1000")]
    for e in evs("12_conference.txt"):
        add(f"{e.key}/{e.get('Action')}", e, t12)
    t14 = [("mbox", "1002"), ("vm_uuid", "944d8f9c-644b-4953-974c-09cca5fc0c9e")]
    for e in evs("14_voicemail_api.txt"):
        add(e.key if e.key == "MESSAGE_WAITING" else f"{e.key}/{e.get('VM-Action')}", e, t14)
    for e in evs("09_bgapi_background_job.txt"):
        if e.get("Job-Command-Arg"):
            add("BACKGROUND_JOB", e, [])
    for e in evs("22_shutdown_listener.txt"):
        if e.key == "SHUTDOWN":
            add("SHUTDOWN", e, [])
    for e in evs("18_filter_nixevent_noevents.txt"):
        if e.key == "HEARTBEAT":
            add("HEARTBEAT", e, [])

    # One header per line so that a new recording shows as a readable diff.
    blocks = []
    for k, pairs in out.items():
        rows = ",\n".join(f"    [{json.dumps(n, ensure_ascii=False)}, {json.dumps(v, ensure_ascii=False)}]"
                          for n, v in pairs)
        blocks.append(f"  {json.dumps(k, ensure_ascii=False)}: [\n{rows}\n  ]")
    return "{\n" + ",\n".join(blocks) + "\n}\n"


if __name__ == "__main__":  # regenerate: python -m tests.sim.fsfixtures > sim/data/esl_templates.json
    print(generate_templates(), end="")
