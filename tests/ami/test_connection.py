"""Connection management against the sim's fault injection: reconnect after dropped connections and
restarts, a stopped PBX, stalled answers (PbxTimeout within the timeout), unreachable nodes, back-off."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.ami.blocking import BlockingAdapter, LoopThread
from clusterpbx.control.port import (
    CallStarted,
    Connected,
    Disconnected,
    PbxTimeout,
    PbxUnreachable,
)
from clusterpbx.sim import faults
from clusterpbx.sim.runner import SimPBX

from .conftest import Events, address
from .rawserver import RawAmiServer

Pair = tuple[BlockingAdapter, Events]


def count(events: Events, kind: type) -> int:
    return len(events.of(kind))


def test_reconnects_after_the_pbx_drops_every_connection(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    events.wait_for(Connected)
    faults.drop_connections(sim)
    events.wait_for(Disconnected)
    events.wait_for(Connected, 2)
    assert b.adapter.connected and b.adapter.connection.sessions == 2
    sim.call_soon(lambda: sim.model.place_call("101", "102"))  # events flow on the new session
    events.wait_for(CallStarted)
    assert b.call(b.adapter.mailbox_counts, "101").new == 0


def test_reconnects_after_a_restart_and_resubscribes(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    events.wait_for(Connected)
    faults.restart(sim, down_for=0.5)
    (down,) = events.wait_for(Disconnected)
    assert "restart" in down.reason
    events.wait_for(Connected, 2)
    # Connected is what makes the daemon take its snapshots again; they work at once.
    assert b.call(b.adapter.live_calls) == []
    sim.call_soon(lambda: sim.model.place_call("101", "102"))
    events.wait_for(CallStarted)


def test_a_stopped_pbx_makes_operations_fail_fast_until_it_is_back(
        sim: SimPBX, make_adapter: Callable[..., Pair]) -> None:
    addr = address(sim.ami_port)
    addr.timeout = 30.0
    b, events = make_adapter(addr)
    port = sim.ami_port
    faults.stop(sim)
    events.wait_for(Disconnected)
    assert not b.adapter.connected
    started = time.monotonic()
    with pytest.raises(PbxUnreachable):
        b.call(b.adapter.registrations)
    # Fast: not after the 30 s timeout (a busy machine adds a second or two, never twenty).
    assert time.monotonic() - started < 10
    sim.run(sim.ami.restart(down_for=0.0))  # listening again on the same port
    assert sim.ami_port == port
    events.wait_for(Connected, 2)
    assert len(b.call(b.adapter.registrations)) == 6


def test_a_stalled_pbx_gives_pbx_timeout_within_the_timeout(sim: SimPBX, make_adapter: Callable[..., Pair]) -> None:
    addr = address(sim.ami_port)
    addr.timeout = 0.5
    b, _events = make_adapter(addr)
    faults.stall(sim, 10.0)
    started = time.monotonic()
    with pytest.raises(PbxTimeout):
        b.call(b.adapter.queue_members)
    # after the 0.5 s timeout, and before the stalled answer (10 s) could have come
    assert 0.4 < time.monotonic() - started < 10


def test_unreachable_node_at_start(make_adapter: Callable[..., Pair]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    b, _events = make_adapter(address(port), start=False)
    with pytest.raises(PbxUnreachable):
        b.start()
    assert not b.adapter.connected


def test_back_off_is_exponential_and_capped(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> list[float]:
        server = RawAmiServer(login_ok=False)
        await server.start()
        attempts: list[float] = []
        original = server._serve

        async def serve(reader: Any, writer: Any) -> None:
            attempts.append(time.monotonic())
            await original(reader, writer)
        server._server.close()  # type: ignore[union-attr]
        await server._server.wait_closed()  # type: ignore[union-attr]
        server._server = await asyncio.start_server(serve, "127.0.0.1", server.port)
        adapter = AsteriskAdapter(address(server.port), backoff_initial=0.05, backoff_max=0.2)
        caplog.set_level("WARNING", logger="clusterpbx.ami.connection")
        with pytest.raises(Exception, match="Authentication failed"):
            await adapter.start()
        deadline = time.monotonic() + 5
        while len(attempts) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await adapter.stop()
        await server.stop()
        return attempts

    attempts = asyncio.run(body())
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert len(gaps) >= 5
    # The delays the supervisor chose (its "retrying in" warnings), not wall-clock gaps that a busy
    # machine stretches: doubling from 0.05 s, capped at 0.2 s.
    delays = [r.args[-1] for r in caplog.records if "retrying in" in r.msg]  # type: ignore[index]
    assert delays[:5] == [0.05, 0.1, 0.2, 0.2, 0.2]
    # and the supervisor did wait them out between attempts
    assert all(gap >= delay * 0.9 for gap, delay in zip(gaps, delays, strict=False))


def test_blocking_wrapper_times_out_and_survives() -> None:
    thread = LoopThread()
    try:
        async def slow() -> None:
            await asyncio.sleep(5)

        async def quick(x: int) -> int:
            return x * 2
        with pytest.raises(PbxTimeout):
            thread.call(slow, timeout=0.2)
        assert thread.call(quick, 21, timeout=10) == 42
    finally:
        thread.close()


def test_a_later_fullybooted_means_resync() -> None:
    """The FullyBooted answering our Login is not news; one arriving later (Asterisk finished booting
    under a live session) fires Connected again so the daemon takes fresh snapshots."""
    from .rawserver import frame

    async def body() -> list[type]:
        booted = frame(("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted"))
        server = RawAmiServer()
        await server.start()
        adapter = AsteriskAdapter(address(server.port))
        got: list[object] = []
        adapter.subscribe(got.append)
        await adapter.start()
        await server.push(booted)
        await server.push(booted)
        deadline = time.monotonic() + 3
        while [type(e) for e in got].count(Connected) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await adapter.stop()
        await server.stop()
        return [type(e) for e in got]

    kinds = asyncio.run(body())
    assert kinds[:2] == [Connected, Connected] and Disconnected not in kinds[:2]


def test_malformed_frames_are_skipped(adapter: Pair, sim: SimPBX) -> None:
    b, events = adapter
    faults.send_malformed(sim)
    faults.send_malformed(sim, b"\x00\xff\xfe garbage without colon\r\n\r\n")
    sim.call_soon(lambda: sim.model.place_call("101", "102"))
    events.wait_for(CallStarted)
    assert b.adapter.connection.sessions == 1 and b.call(b.adapter.mailbox_counts, "101").new == 0


def test_a_secret_with_a_line_break_is_refused_and_never_sent() -> None:
    async def body() -> bytes:
        server = RawAmiServer()
        await server.start()
        addr = address(server.port)
        addr.secret = "portalsecret\r\nAction: Originate"
        adapter = AsteriskAdapter(addr, backoff_initial=5.0)
        with pytest.raises(Exception, match="control_characters"):
            await asyncio.wait_for(adapter.start(), 3)
        await adapter.stop()
        await server.stop()
        return bytes(server.received)

    assert asyncio.run(body()) == b""
