"""An api reply that FreeSWITCH writes between two events, in the same read as their bytes: the reply
completes its command and every event of a real recorded call arrives whole, however the stream is cut
into reads. FreeSWITCH only ever puts a reply at a frame boundary (bench/ingest.py's replay does too)."""

from __future__ import annotations

import asyncio
import time

import pytest

from clusterpbx.control.port import CallEnded, CallStarted, PbxEvent
from clusterpbx.esl.protocol import event_from_frame, iter_frames
from clusterpbx.esl.translate import EventTranslator

from .capture import server_stream
from .conftest import adapter_for, eventually, run, settle
from .rawserver import RawServer, api_response, default_responder


def event_frames() -> list[bytes]:
    """The text/event-plain frames of capture 05 (a real answered call), each as the bytes sent."""
    out = []
    for f in iter_frames(server_stream("05_events_plain_answered_call.txt")):
        if f.content_type == "text/event-plain":
            head = "".join(f"{k}: {v}\n" for k, v in f.headers.items()).encode()
            out.append(head + b"\n" + f.body)
    return out


def calls(events: list[PbxEvent]) -> list[tuple[str, str]]:
    return [(type(e).__name__, e.call.call_id if isinstance(e, CallStarted) else e.call_id)  # type: ignore[attr-defined]
            for e in events if isinstance(e, CallStarted | CallEnded)]


@pytest.mark.parametrize("cuts", ["one read", "cut inside the events around it", "cut at its boundaries",
                                  "8-byte reads"])
def test_an_api_reply_between_two_events_completes_and_every_event_arrives(cuts: str) -> None:
    frames = event_frames()
    expected = calls(EventTranslator().feed_all(e for f in iter_frames(b"".join(frames))
                                               if (e := event_from_frame(f)) is not None))
    assert ("CallStarted", expected[0][1]) in expected and any(k == "CallEnded" for k, _ in expected)
    half = len(frames) // 2
    before, after = b"".join(frames[:half]), b"".join(frames[half:])

    def hold_status(command: str) -> bytes | None:
        return None if command == "api status" else default_responder(command)

    raw = RawServer(responder=hold_status)

    async def go() -> None:
        a = adapter_for(raw.port, timeout=30.0)  # the api waits for the whole push on a busy machine
        got: list[PbxEvent] = []
        a.subscribe(got.append)
        await a.start()
        try:
            await settle(a)
            status = asyncio.ensure_future(a.api("status"))
            assert await eventually(lambda: "api status" in raw.commands)
            answer = api_response("UP 0 years, 0 days\n")
            data = before + answer + after
            at = len(before)
            pieces = {"one read": [],
                      "cut inside the events around it": [at - 7, at + len(answer) + 11],
                      "cut at its boundaries": [at, at + len(answer)],
                      "8-byte reads": list(range(8, len(data), 8))}[cuts]
            edges = [0, *pieces, len(data)]
            for x, y in zip(edges, edges[1:], strict=False):
                raw.push(data[x:y])
                if cuts != "8-byte reads":
                    time.sleep(0.02)
            assert (await asyncio.wait_for(status, 10)).startswith("UP 0 years")
            assert await eventually(lambda: len(calls(got)) >= len(expected), 10)
            assert calls(got) == expected
            assert a.connected
        finally:
            await a.stop()

    try:
        run(go())
    finally:
        raw.close()
