"""One test per panoramisk 1.4 defect the adapter neutralises (see ami/protocol.py). Each fails without
its fix; where cheap, a canary shows the defect is still there in stock panoramisk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.ami.connection import AmiConnection, ConnectionSettings
from clusterpbx.control.port import (
    CallStarted,
    Connected,
    Disconnected,
    PbxEvent,
    PbxRefused,
    PbxUnreachable,
)
from clusterpbx.control.validation import InvalidValue
from clusterpbx.sim import faults
from clusterpbx.sim.runner import SimPBX

from .conftest import address
from .rawserver import RawAmiServer, frame, success


def run(body: Callable[[], Awaitable[None]], timeout: float = 10.0) -> None:
    async def main() -> None:
        await asyncio.wait_for(body(), timeout)
    asyncio.run(main())


def settings(port: int, **kw: Any) -> ConnectionSettings:
    kw.setdefault("timeout", 2.0)
    kw.setdefault("ping_interval", 3600.0)
    kw.setdefault("backoff_initial", 0.05)
    kw.setdefault("backoff_max", 0.2)
    return ConnectionSettings("127.0.0.1", port, "portal", "portalsecret", **kw)


async def wait_until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# 1. header injection ----------------------------------------------------------------------------------

def test_canary_stock_panoramisk_serialises_crlf_as_is() -> None:
    async def body() -> None:
        text = str(actions.Action({"Action": "Ping", "X": "a\r\nAction: Originate"}))
        assert "\r\nAction: Originate\r\n" in text
    run(body)


def test_1_crlf_in_a_header_is_refused_before_any_byte_is_sent() -> None:
    async def body() -> None:
        server = RawAmiServer()
        await server.start()
        conn = AmiConnection(settings(server.port), lambda e: None, lambda up, why: None)
        await conn.start()
        before = bytes(server.received)
        for bad in ("102\r\nAction: Originate", "x\ny", "a\rb", "a\x00b", "tab\there", "a\u2028b"):
            with pytest.raises(InvalidValue):
                await conn.send({"Action": "DBPut", "Family": "CF", "Key": "101", "Val": bad})
        with pytest.raises(InvalidValue):
            await conn.send({"Action": "Ping", "Bad\r\nName": "x"})
        await conn.send({"Action": "Ping"})  # the session is fine
        await wait_until(lambda: len(server.actions("Ping")) == 1)
        assert b"Originate" not in server.received and server.actions("DBPut") == []
        assert bytes(server.received).startswith(before)
        await conn.stop()
        await server.stop()
    run(body)


# 2. a failing event callback ---------------------------------------------------------------------------

def test_2_an_exception_in_an_event_callback_does_not_kill_the_session(sim: SimPBX) -> None:
    seen: list[str] = []

    def on_event(event: Message) -> None:
        seen.append(event.event)
        raise RuntimeError("subscriber bug")

    async def body() -> None:
        conn = AmiConnection(settings(sim.ami_port), on_event, lambda up, why: None)
        await conn.start()
        await conn.send({"Action": "UserEvent", "UserEvent": "One"})
        await conn.send({"Action": "UserEvent", "UserEvent": "Two"})
        await wait_until(lambda: seen.count("UserEvent") == 2)
        pong = await conn.send({"Action": "Ping"})
        assert pong.get("ping") == "Pong"
        assert conn.connected and conn.sessions == 1
        await conn.stop()
    run(body)


def test_2_a_failing_port_subscriber_does_not_stop_the_others(sim: SimPBX, make_adapter: Any) -> None:
    b, events = make_adapter(address(sim.ami_port), start=False)

    def broken(event: PbxEvent) -> None:
        raise RuntimeError("projector bug")
    b.thread.call_soon(lambda: b.adapter._handlers.insert(0, broken))
    b.start()
    sim.call_soon(lambda: sim.model.place_call("101", "102"))
    events.wait_for(CallStarted)
    assert b.adapter.connected and b.adapter.connection.sessions == 1


# 3. Originate without Async ----------------------------------------------------------------------------

def test_canary_stock_panoramisk_raises_on_originate_without_async() -> None:
    async def body() -> None:
        action = actions.Action({"Action": "Originate", "Channel": "PJSIP/101"})
        with pytest.raises(KeyError):
            action.add_message(Message({"Response": "Success", "Message": "Originate successfully queued"}))
    run(body)


def test_3_originate_without_async_does_not_drop_the_session(sim: SimPBX) -> None:
    async def body() -> None:
        conn = AmiConnection(settings(sim.ami_port), lambda e: None, lambda up, why: None)
        await conn.start()
        answer = await conn.send({"Action": "Originate", "Channel": "PJSIP/103", "Exten": "104",
                                  "Context": "internal", "Priority": "1"})
        assert answer.get("response") == "Success"
        assert (await conn.send({"Action": "Ping"})).get("ping") == "Pong"
        assert conn.connected and conn.sessions == 1
        await conn.stop()
    run(body)


def test_3_click_to_call_always_sends_async() -> None:
    async def body() -> None:
        server = RawAmiServer()
        await server.start()
        adapter = AsteriskAdapter(address(server.port, context="cpbx-acme"))
        await adapter.start()
        await adapter.click_to_call("101", "0612345678")
        (orig,) = server.actions("Originate")
        assert orig["Async"] == "true" and orig["Channel"] == "PJSIP/101" and orig["Context"] == "cpbx-acme"
        await adapter.stop()
        await server.stop()
    run(body)


def test_3b_queueadd_and_error_answers_to_list_actions_complete(sim: SimPBX) -> None:
    """Stock panoramisk guesses "Added interface to queue" is a list and waits forever; an Error answer
    to a list action never completes either."""
    async def body() -> None:
        conn = AmiConnection(settings(sim.ami_port), lambda e: None, lambda up, why: None)
        await conn.start()
        added = await conn.send({"Action": "QueueAdd", "Queue": "support", "Interface": "PJSIP/104"})
        assert added.get("message") == "Added interface to queue"
        missing = await conn.send({"Action": "ConfbridgeList", "Conference": "999"}, as_list=True)
        assert [m.get("response") for m in missing] == ["Error"]
        await conn.stop()
    run(body)


# 4. UTF-8 split across reads ---------------------------------------------------------------------------

NEWCHANNEL = frame(("Event", "Newchannel"), ("Privilege", "call,all"), ("Channel", "PJSIP/202-00000001"),
                   ("ChannelState", "4"), ("ChannelStateDesc", "Ring"), ("CallerIDNum", "202"),
                   ("CallerIDName", "JP Vallée"), ("Context", "cpbx-acme"), ("Exten", "201"),
                   ("Uniqueid", "1795797593.1"), ("Linkedid", "1795797593.1"))


def test_canary_stock_panoramisk_loses_a_split_character() -> None:
    got: list[Message] = []
    proto = AMIProtocol()
    proto.connection_made(None)  # type: ignore[arg-type]
    proto.factory = type("F", (), {"dispatch": staticmethod(got.append)})()
    cut = NEWCHANNEL.index("é".encode()) + 1
    proto.data_received(NEWCHANNEL[:cut])
    proto.data_received(NEWCHANNEL[cut:])
    assert got[0]["CallerIDName"] == "JP Valle"


@pytest.mark.parametrize("chunking", ["mid-character", "bytewise", "whole"])
def test_4_a_character_split_across_reads_arrives_intact(chunking: str) -> None:
    at = NEWCHANNEL.index("é".encode())
    pieces = {"mid-character": [at + 1], "bytewise": list(range(1, len(NEWCHANNEL))), "whole": []}[chunking]

    async def body() -> None:
        server = RawAmiServer()
        await server.start()
        adapter = AsteriskAdapter(address(server.port))
        got: list[PbxEvent] = []
        adapter.subscribe(got.append)
        await adapter.start()
        await server.push(NEWCHANNEL, pieces, pause=0.001 if chunking == "bytewise" else 0.05)
        await wait_until(lambda: any(isinstance(e, CallStarted) for e in got))
        (started,) = [e for e in got if isinstance(e, CallStarted)]
        assert started.call.caller_name == "JP Vallée"
        await adapter.stop()
        await server.stop()
    run(body)


# 5. connect() before login -----------------------------------------------------------------------------

def test_5_start_returns_only_once_logged_in(sim: SimPBX) -> None:
    async def body() -> None:
        adapter = AsteriskAdapter(address(sim.ami_port))
        await adapter.start()
        assert adapter.connected
        assert await adapter.mailbox_counts("101")  # usable at once, no race with the login
        await adapter.stop()
    run(body)


def test_5_authentication_failure_raises_pbx_refused(sim: SimPBX) -> None:
    faults.reject_logins(sim)

    async def body() -> None:
        adapter = AsteriskAdapter(address(sim.ami_port), backoff_initial=5.0)
        with pytest.raises(PbxRefused, match="Authentication failed"):
            await adapter.start()
        assert not adapter.connected
        with pytest.raises(PbxUnreachable):
            await adapter.mailbox_counts("101")
        await adapter.stop()
    run(body)


# 6. a server that stops answering ------------------------------------------------------------------------

def test_6_own_ping_notices_a_stalled_server_and_reconnects(sim: SimPBX) -> None:
    async def body() -> None:
        states: list[tuple[bool, str]] = []
        conn = AmiConnection(settings(sim.ami_port, ping_interval=0.2, ping_timeout=0.3),
                             lambda e: None, lambda up, why: states.append((up, why)))
        await conn.start()
        await asyncio.to_thread(faults.stall, sim, 1.0)
        await wait_until(lambda: (False, "PBX stopped answering") in states)
        await wait_until(lambda: conn.connected and conn.sessions >= 2)
        assert (await conn.send({"Action": "Ping"})).get("ping") == "Pong"
        await conn.stop()
    run(body)


# 7. in-flight actions on disconnect ------------------------------------------------------------------------

def test_7_an_action_in_flight_fails_fast_on_disconnect_and_is_not_resent() -> None:
    async def body() -> None:
        def drop(server: RawAmiServer, req: dict[str, str]) -> bytes | None:
            if req.get("Action") == "QueuePause":
                server.drop_all()
                return None
            return success(req)
        server = RawAmiServer(responder=drop)
        await server.start()
        states: list[bool] = []
        conn = AmiConnection(settings(server.port, timeout=30.0), lambda e: None, lambda up, why: states.append(up))
        await conn.start()
        started = time.monotonic()
        with pytest.raises(PbxUnreachable):
            await conn.send({"Action": "QueuePause", "Interface": "PJSIP/104", "Paused": "true"})
        # at the drop, not at the 30 s timeout (a busy machine adds seconds, not twenty)
        assert time.monotonic() - started < 10
        await wait_until(lambda: states.count(True) == 2)  # reconnected and logged in again
        await conn.send({"Action": "Ping"})
        await asyncio.sleep(0.1)
        assert len(server.actions("QueuePause")) == 1
        await conn.stop()
        await server.stop()
    run(body)


def test_7_events_without_fullybooted_still_reconnect_and_resubscribe() -> None:
    """A session without 'system' read permission never gets FullyBooted: nothing may wait for it."""
    async def body() -> None:
        server = RawAmiServer()
        await server.start()
        adapter = AsteriskAdapter(address(server.port), backoff_initial=0.05)
        got: list[PbxEvent] = []
        adapter.subscribe(got.append)
        await adapter.start()
        server.drop_all()
        await wait_until(lambda: [type(e) for e in got].count(Connected) == 2)
        assert [type(e) for e in got] == [Connected, Disconnected, Connected]
        assert await adapter.voicemail_refresh("101") is None
        await adapter.stop()
        await server.stop()
    run(body)
