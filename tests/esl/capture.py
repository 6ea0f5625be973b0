"""A reader for the FreeSWITCH raw captures in ../shared/fixtures/freeswitch/ ("@@ <dir> t=<s> len=<n>" blocks),
giving the server's byte stream so that tests can replay it through the adapter's frame parser."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.components import shared_fixtures

FIXTURES = shared_fixtures("freeswitch")

_HEAD = re.compile(rb"@@ (S>C|C>S|EOF|NOTE) t=([0-9.]+) len=([0-9]+)\n")


@dataclass(frozen=True)
class Block:
    direction: str  # S>C, C>S, EOF or NOTE
    at: float
    data: bytes


def read_capture(name: str) -> list[Block]:
    raw = (FIXTURES / name).read_bytes()
    blocks: list[Block] = []
    pos = 0
    while pos < len(raw):
        if raw.startswith(b"#", pos):
            pos = raw.index(b"\n", pos) + 1
            continue
        m = _HEAD.match(raw, pos)
        if m is None:
            raise ValueError(f"{name}: unexpected bytes at offset {pos}: {raw[pos:pos + 40]!r}")
        n = int(m.group(3))
        start = m.end()
        blocks.append(Block(m.group(1).decode(), float(m.group(2)), raw[start:start + n]))
        pos = start + n
        if raw.startswith(b"\n", pos):
            pos += 1
    return blocks


def server_stream(name: str) -> bytes:
    """Everything FreeSWITCH sent to the client, in order."""
    return b"".join(b.data for b in read_capture(name) if b.direction == "S>C")


def client_stream(name: str) -> bytes:
    return b"".join(b.data for b in read_capture(name) if b.direction == "C>S")


def recorded_responder(*names: str):  # type: ignore[no-untyped-def]
    """A RawServer responder answering each command with what FreeSWITCH answered to it in the captures
    (its first answer when it was sent several times). Unknown commands get FreeSWITCH's own error."""
    from clusterpbx.esl.protocol import iter_frames

    answers: dict[str, list[bytes]] = {}
    for name in names:
        commands = [c for c in client_stream(name).decode().split("\n\n") if c]
        frames = [f for f in iter_frames(server_stream(name)) if f.content_type in ("api/response", "command/reply")]
        raw_frames = []
        for f in frames:
            head = "".join(f"{k}: {v}\n" for k, v in f.headers.items()).encode()
            raw_frames.append(head + b"\n" + f.body)
        for command, frame in zip(commands, raw_frames, strict=False):
            answers.setdefault(command, []).append(frame)

    def respond(command: str) -> bytes | None:
        if command.startswith("auth "):
            return b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
        if command.startswith("event "):
            return b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
        queue = answers.get(command)
        if not queue:
            word = command.split(" ")[1] if command.startswith("api ") else command
            body = f"-ERR {word} Command not found!\n".encode()
            return f"Content-Type: api/response\nContent-Length: {len(body)}\n\n".encode() + body
        return queue[0]

    return respond
