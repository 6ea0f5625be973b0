"""Each greenswitch 0.0.19 defect the adapter neutralises: first shown on greenswitch itself (so the test
documents why the fix exists), then the adapter's behaviour, which fails if the fix is removed.
Reconnect and send() timeouts are in test_connection.py."""

from __future__ import annotations

import asyncio

import pytest
from greenswitch.esl import ESLEvent

from clusterpbx.control.port import CallStarted, PbxEvent
from clusterpbx.control.validation import InvalidValue
from clusterpbx.esl.connection import SafeInboundESL
from clusterpbx.esl.protocol import EslEvent, FrameParser, event_from_frame, parse_plain_event
from clusterpbx.sim.runner import SimPBX

from .conftest import adapter_for, eventually, run, settle
from .rawserver import RawServer, default_responder, plain_event, reply

FORGED_NAME_PAYLOAD = (
    b"Event-Name: CHANNEL_CREATE\n"
    b"Unique-ID: real-uuid\n"
    b"Caller-Caller-ID-Name: Evil%0AUnique-ID%3A%20forged-uuid\n"
    b"Call-Direction: inbound\n\n"
)
JOB_BODY = "-ERR USER_NOT_REGISTERED\n"
BACKGROUND_JOB_PAYLOAD = (
    b"Event-Name: BACKGROUND_JOB\n"
    b"Job-UUID: 7f4db78a-17d7-11dd-b7a0-db4edd065621\n"
    b"Job-Command: originate\n"
    + f"Content-Length: {len(JOB_BODY)}\n\n{JOB_BODY}".encode()
)


# ---------------------------------------------------------------------------- plain event parsing


def test_greenswitch_parser_lets_an_encoded_newline_forge_a_header() -> None:
    ev = ESLEvent(FORGED_NAME_PAYLOAD.decode())
    assert ev.headers["Unique-ID"] == "forged-uuid"  # the defect


def test_our_parser_splits_lines_before_decoding() -> None:
    ev = parse_plain_event(FORGED_NAME_PAYLOAD)
    assert ev.headers["Unique-ID"] == "real-uuid"
    assert ev.headers["Caller-Caller-ID-Name"] == "Evil\nUnique-ID: forged-uuid"


def test_a_caller_name_with_a_newline_cannot_forge_a_call_id_through_the_adapter(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port)
        events: list[PbxEvent] = []
        a.subscribe(events.append)
        await a.start()
        try:
            def call() -> str:
                ch = sim.model.new_channel("1000", "1001", context="default", caller_name="Evil\nUnique-ID: forged")
                return str(ch.uuid)

            uuid = sim.call_soon(call)
            assert await eventually(lambda: any(isinstance(e, CallStarted) for e in events))
            started = next(e for e in events if isinstance(e, CallStarted))
            assert started.call.call_id == uuid
            assert started.call.caller_name == "Evil\nUnique-ID: forged"
        finally:
            await a.stop()

    run(go())


# ---------------------------------------------------------------------------- BACKGROUND_JOB body


def test_greenswitch_glues_a_background_job_body_onto_a_header() -> None:
    ev = ESLEvent(BACKGROUND_JOB_PAYLOAD.decode())
    assert JOB_BODY.strip() in ev.headers["Content-Length"]  # the defect: no body, a polluted header


def test_our_parser_reads_the_body_by_content_length() -> None:
    ev = parse_plain_event(BACKGROUND_JOB_PAYLOAD + b"trailing garbage")
    assert ev.body == JOB_BODY
    assert ev.headers["Content-Length"] == str(len(JOB_BODY))
    assert ev.headers["Job-UUID"] == "7f4db78a-17d7-11dd-b7a0-db4edd065621"


def test_click_to_call_reads_the_job_result_from_the_body(raw: RawServer) -> None:
    from clusterpbx.control.port import PbxRefused

    def responder(command: str) -> bytes | None:
        if command.startswith("bgapi originate"):
            job = command.split("Job-UUID: ", 1)[1].strip()
            payload = BACKGROUND_JOB_PAYLOAD.replace(b"7f4db78a-17d7-11dd-b7a0-db4edd065621", job.encode())
            return reply(f"+OK Job-UUID: {job}") + plain_event(payload)
        return default_responder(command)

    raw.responder = responder

    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            with pytest.raises(PbxRefused, match="USER_NOT_REGISTERED"):
                await a.click_to_call("1000", "1001")
        finally:
            await a.stop()

    run(go())


# ---------------------------------------------------------------------------- newline injection


def test_greenswitch_send_injects_a_second_command_and_the_extra_reply_kills_its_reader(raw: RawServer) -> None:
    import gevent
    from greenswitch.esl import InboundESL

    from clusterpbx.esl.connection import GeventThread

    worker = GeventThread()
    worker.start()
    try:
        def go() -> tuple[bool, bool]:
            conn = InboundESL("127.0.0.1", raw.port, "ClueCon", timeout=2)
            conn.connect()
            conn.send("api status\n\napi version")
            # until both have happened (or 30 s): a fixed pause is too short on a busy machine
            for _ in range(3000):
                if conn._receive_events_greenlet.dead and "api version" in raw.commands:
                    break
                gevent.sleep(0.01)
            dead = bool(conn._receive_events_greenlet.dead)
            conn._run = False
            conn.sock.close()
            return dead, "api version" in raw.commands

        reader_dead, injected = worker.submit(go).result(60)
    finally:
        worker.stop()
    assert injected  # the defect: a second command reached FreeSWITCH
    assert reader_dead  # and its reply killed greenswitch's reader (IndexError on an empty list)


def test_a_newline_in_a_command_is_refused_before_any_byte_is_sent(raw: RawServer) -> None:
    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            await settle(a)
            before = bytes(raw.received)
            for bad in ("api status\n\napi fsctl shutdown", "api status\r\nx", "api status\x00"):
                with pytest.raises(InvalidValue):
                    await a.api(bad[4:])
                with pytest.raises(InvalidValue):
                    a.connection.submit(bad)
            # and on the gevent side too (defence in depth inside SafeInboundESL.send)
            conn = a.connection.conn
            assert conn is not None

            def direct() -> None:
                conn.send("api status\n\napi fsctl shutdown")

            with pytest.raises(InvalidValue):
                a.connection.call(direct).result(30)
            await asyncio.sleep(0.1)
            assert bytes(raw.received) == before
            assert a.connected
        finally:
            await a.stop()

    run(go())


def test_safe_inbound_esl_is_a_greenswitch_inbound_esl() -> None:
    from greenswitch.esl import InboundESL

    assert issubclass(SafeInboundESL, InboundESL)


# ---------------------------------------------------------------------------- framing


def test_frames_split_across_reads_and_several_in_one_read() -> None:
    stream = (reply("+OK accepted") + plain_event(FORGED_NAME_PAYLOAD) + plain_event(BACKGROUND_JOB_PAYLOAD))
    parser = FrameParser()
    frames = []
    for i in range(0, len(stream), 7):
        frames.extend(parser.feed(stream[i:i + 7]))
    assert [f.content_type for f in frames] == ["command/reply", "text/event-plain", "text/event-plain"]
    events = [event_from_frame(f) for f in frames[1:]]
    assert all(isinstance(e, EslEvent) for e in events)
    assert events[1] is not None and events[1].body == JOB_BODY
