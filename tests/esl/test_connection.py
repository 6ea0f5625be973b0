"""The gevent-thread bridge, the connection manager (login, re-connect, back-off, subscriptions restored),
timeouts and typed errors, against the sim's ESL server and a scripted raw server."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from clusterpbx.control.port import (
    CallStarted,
    Connected,
    Disconnected,
    PbxEvent,
    PbxRefused,
    PbxTimeout,
    PbxUnreachable,
)
from clusterpbx.esl.connection import GeventThread
from clusterpbx.sim.runner import SimPBX

from .conftest import adapter_for, eventually, run, settle
from .rawserver import RawServer, api_response, default_responder


def test_gevent_thread_runs_work_handed_from_another_thread() -> None:
    import gevent

    worker = GeventThread()
    worker.start()
    try:
        def job() -> str:
            gevent.sleep(0.01)  # would raise LoopExit (or block) on a thread without a hub
            return threading.current_thread().name

        assert worker.submit(job).result(30) == "esl-gevent"
        fut = worker.submit(lambda: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            fut.result(30)
    finally:
        worker.stop()
    assert not worker.alive


def test_events_reach_subscribers_on_the_asyncio_thread_and_a_failing_subscriber_is_harmless(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port)
        loop_thread = threading.get_ident()
        seen: list[tuple[PbxEvent, int]] = []

        def bad(_e: PbxEvent) -> None:
            raise RuntimeError("subscriber bug")

        a.subscribe(bad)
        a.subscribe(lambda e: seen.append((e, threading.get_ident())))
        await a.start()
        try:
            call = sim.call_soon(sim.model.start_call, "1000", "1001")
            assert await eventually(lambda: any(isinstance(e, CallStarted) for e, _ in seen))
            assert all(t == loop_thread for _, t in seen)
            sim.call_soon(call.ring)
            sim.call_soon(call.answer)
            sim.call_soon(call.hangup)
            assert a.connected
            assert await a.live_calls() == []
        finally:
            await a.stop()

    run(go())


def test_reconnects_after_connections_are_dropped_and_restores_the_subscription(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port)
        events: list[PbxEvent] = []
        a.subscribe(events.append)
        await a.start()
        try:
            assert a.connection.sessions == 1
            sim.call_soon(sim.esl.drop_all)
            assert await eventually(lambda: any(isinstance(e, Disconnected) for e in events))
            assert await eventually(lambda: a.connection.sessions == 2 and a.connected)
            assert [type(e) for e in events if isinstance(e, Connected | Disconnected)] == [
                Connected, Disconnected, Connected]
            # the event subscription is back: a new call is seen
            sim.call_soon(sim.model.start_call, "1002", "1003")
            assert await eventually(lambda: any(isinstance(e, CallStarted) for e in events))
            assert (await a.registrations())[0].registered
        finally:
            await a.stop()

    run(go())


def test_shutdown_then_restart_reconnects_with_back_off(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port)
        events: list[PbxEvent] = []
        a.subscribe(events.append)
        await a.start()
        try:
            sim.call_soon(sim.esl.shutdown)
            assert await eventually(lambda: any(isinstance(e, Disconnected) for e in events))
            reason = next(e for e in events if isinstance(e, Disconnected)).reason
            assert "shut" in reason.lower()
            # nothing listens for a while: commands fail fast and typed
            with pytest.raises(PbxUnreachable):
                await a.live_calls()
            await asyncio.sleep(0.4)
            assert not a.connected
            sim.run(sim.esl.start())  # FreeSWITCH is back on the same port
            assert await eventually(lambda: a.connected, timeout=30)
            assert await a.live_calls() == []
        finally:
            await a.stop()

    run(go())


def test_stalled_server_gives_pbx_timeout_then_recovers(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port, timeout=2.0)
        await a.start()
        try:
            sim.call_soon(sim.esl.stall, 60.0)  # until released below
            started = time.monotonic()
            with pytest.raises(PbxTimeout):
                await a.live_calls()
            # after the 2 s timeout, long before the stalled reply (a busy machine adds seconds, not a minute)
            assert 1.9 <= time.monotonic() - started < 30
            sim.call_soon(sim.esl.stall, 0)  # FreeSWITCH answers again, the late reply first
            # the late reply lands in the timed-out slot: replies stay matched to their commands
            assert await a.api("version") == "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
            assert await a.live_calls() == []
        finally:
            await a.stop()

    run(go())


def test_command_in_flight_fails_at_once_when_the_connection_drops(raw: RawServer) -> None:
    # greenswitch's send() waits forever for a reply that cannot come any more
    def responder(command: str) -> bytes | None:
        if command == "api status":
            return None  # never answered
        return default_responder(command)

    raw.responder = responder

    async def go() -> None:
        a = adapter_for(raw.port, timeout=60.0)
        await a.start()
        try:
            await settle(a)
            task = asyncio.ensure_future(a.api("status"))
            assert await eventually(lambda: "api status" in raw.commands, timeout=30)
            started = time.monotonic()
            raw.drop()
            with pytest.raises(PbxUnreachable):
                await task
            # at the drop, not at the 60 s timeout
            assert time.monotonic() - started < 30
        finally:
            await a.stop()

    run(go())


def test_wrong_password_is_refused(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port)
        a.connection.settings.password = "wrong"
        try:
            with pytest.raises(PbxRefused, match="authentication"):
                await a.start()
            assert not a.connected
        finally:
            await a.stop()

    run(go())


def test_nothing_listening_is_unreachable_and_start_keeps_retrying(sim: SimPBX) -> None:
    async def go() -> None:
        port = sim.esl_port
        await asyncio.to_thread(sim.run, sim.esl.stop())
        a = adapter_for(port)
        try:
            with pytest.raises(PbxUnreachable):
                await a.start()
            with pytest.raises(PbxUnreachable):
                await a.registrations()
            await asyncio.to_thread(sim.run, sim.esl.start())
            assert await eventually(lambda: a.connected, timeout=30)
            assert len(await a.registrations()) == 20
        finally:
            await a.stop()

    run(go())


def test_error_bodies_are_pbx_refused(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port, sofia_profile="nosuch")
        await a.start()
        try:
            with pytest.raises(PbxRefused, match="Invalid Profile"):
                await a.registrations()
            with pytest.raises(PbxRefused, match="!err!"):
                await a.api("db bogus")
            with pytest.raises(PbxRefused, match="-USAGE"):
                await a.api("callcenter_config")
            with pytest.raises(PbxRefused, match="Non-Existant"):
                sim.call_soon(sim.model.conference_call, "1004", "3001-127.0.0.1")
                await a.conference_kick("3001-127.0.0.1", "99")
            with pytest.raises(PbxRefused, match="USER_NOT_REGISTERED"):
                sim.call_soon(sim.model.unregister, "1007")
                await a.click_to_call("1007", "1001")
        finally:
            await a.stop()

    run(go())


def test_malformed_frame_ends_the_session_and_it_is_reopened(sim: SimPBX) -> None:
    async def go() -> None:
        a = adapter_for(sim.esl_port)
        await a.start()
        try:
            sim.call_soon(sim.esl.send_malformed)
            assert await eventually(lambda: a.connection.sessions == 2 and a.connected)
            assert "protocol error" in (a.connection.last_error or "") or a.connected
            assert await a.live_calls() == []
        finally:
            await a.stop()

    run(go())


def test_api_response_after_unexpected_reply_still_matches(raw: RawServer) -> None:
    # greenswitch pops an empty list on a reply nobody waits for: IndexError kills its reader
    async def go() -> None:
        a = adapter_for(raw.port)
        await a.start()
        try:
            await settle(a)
            raw.push(api_response("surprise"))
            conn = a.connection.conn
            assert conn is not None
            assert await eventually(lambda: conn.unexpected_replies == 1, timeout=30)
            assert a.connected and a.connection.conn is conn
            assert await a.api("status") == "+OK\n"
        finally:
            await a.stop()

    run(go())


def test_refused_logins_are_retried_with_a_capped_back_off(sim: SimPBX, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="clusterpbx.esl.connection")

    async def go() -> None:
        a = adapter_for(sim.esl_port)  # back-off 0.05 s doubling up to 0.5 s
        await a.start()
        try:
            sim.call_soon(sim.esl.reject_logins, True)
            started = time.monotonic()
            sim.call_soon(sim.esl.drop_all)
            assert await eventually(lambda: not a.connected, timeout=30)
            first = a.connection.attempts
            assert await eventually(lambda: a.connection.attempts - first >= 7, timeout=30)
            # The delays the manager chose (its "retrying in" lines), not a count of tries in a wall-clock
            # span that a busy machine shortens: doubling from 0.05 s, capped at 0.5 s...
            delays = [r.args[-1] for r in caplog.records if "retrying in" in r.msg]  # type: ignore[index]
            assert delays[:6] == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]
            # ...and waited out: six refused tries take at least 0.05+0.1+0.2+0.4+0.5 s, no back-off hundreds
            assert time.monotonic() - started >= 1.25 * 0.9
            assert "authentication failed" in a.connection.last_error
            sim.call_soon(sim.esl.reject_logins, False)
            assert await eventually(lambda: a.connected, timeout=30)
        finally:
            await a.stop()

    run(go())


def test_a_hung_freeswitch_is_noticed_by_the_keep_alive(sim: SimPBX) -> None:
    async def go() -> None:
        from clusterpbx.control.port import NodeAddress
        from clusterpbx.esl.adapter import FreeSwitchAdapter

        a = FreeSwitchAdapter(NodeAddress(host="127.0.0.1", port=sim.esl_port, secret="ClueCon",
                                          sip_domain="127.0.0.1", timeout=1.0), ping_interval=0.3,
                              backoff_initial=0.05, backoff_max=0.2)
        events: list[PbxEvent] = []
        a.subscribe(events.append)
        await a.start()
        try:
            sim.call_soon(sim.esl.stall, 60.0)  # hung until released below: only the keep-alive can notice
            assert await eventually(lambda: any(isinstance(e, Disconnected) for e in events), timeout=30)
            reason = next(e for e in events if isinstance(e, Disconnected)).reason
            assert "keep-alive" in reason
            sim.call_soon(sim.esl.stall, 0)
            assert await eventually(lambda: a.connected, timeout=30)
            assert await a.live_calls() == []
        finally:
            await a.stop()

    run(go())


def test_a_disconnect_notice_reopens_the_session_and_linger_does_not(raw: RawServer) -> None:
    notice = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

    async def go() -> None:
        a = adapter_for(raw.port)
        events: list[PbxEvent] = []
        a.subscribe(events.append)
        await a.start()
        try:
            await settle(a)
            raw.push(b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\nContent-Length: 0\n\n")
            await asyncio.sleep(0.1)
            assert a.connection.sessions == 1 and a.connected
            raw.push(f"Content-Type: text/disconnect-notice\nContent-Length: {len(notice)}\n\n".encode() + notice)
            assert await eventually(lambda: a.connection.sessions == 2 and a.connected)
            lost = next(e for e in events if isinstance(e, Disconnected))
            assert lost.reason.startswith("disconnect notice: Disconnected, goodbye.")
        finally:
            await a.stop()

    run(go())


def test_a_server_that_never_sends_auth_request_times_out() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    try:
        async def go() -> None:
            a = adapter_for(listener.getsockname()[1], timeout=0.3)
            try:
                started = time.monotonic()
                with pytest.raises(PbxTimeout):
                    await a.start()
                # bounded by the 0.3 s timeout, not waiting forever (a busy machine adds seconds)
                assert time.monotonic() - started < 10
            finally:
                await a.stop()

        run(go())
    finally:
        listener.close()


def test_a_peer_that_stops_reading_cannot_block_a_command_forever() -> None:
    """Once its socket buffers are full, sendall blocks: the write is bounded by the command's timeout
    and the connection, whose framing can no longer be trusted, is dropped."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        held.append(conn)
        conn.sendall(b"Content-Type: auth/request\n\n")
        for answer in (b"+OK accepted", b"+OK event listener enabled plain"):  # auth, subscription
            buf = b""
            while not buf.endswith(b"\n\n"):
                buf += conn.recv(1)
            conn.sendall(b"Content-Type: command/reply\nReply-Text: " + answer + b"\n\n")
        # and never read again

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        async def go() -> None:
            a = adapter_for(listener.getsockname()[1], timeout=0.5)
            events: list[PbxEvent] = []
            a.subscribe(events.append)
            await a.start()
            try:
                conn = a.connection.conn
                assert conn is not None
                a.connection.call(lambda: conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)).result(30)
                big = "x" * 1900
                started = time.monotonic()
                results = await asyncio.gather(*(a.api(f"echo {big}") for _ in range(200)),
                                               return_exceptions=True)
                # bounded by the 0.5 s command timeout, not forever (a busy machine adds seconds)
                assert time.monotonic() - started < 20
                assert all(isinstance(r, PbxTimeout | PbxUnreachable) for r in results)
                assert await eventually(lambda: any(isinstance(e, Disconnected) and "could not write" in e.reason
                                                    for e in events))
            finally:
                await a.stop()

        run(go(), timeout=30)
    finally:
        listener.close()
        for c in held:
            c.close()


def test_an_unanswered_login_times_out_without_naming_the_password(raw: RawServer) -> None:
    raw.responder = lambda command: None if command.startswith("auth ") else default_responder(command)

    async def go() -> None:
        a = adapter_for(raw.port, timeout=0.3)
        try:
            with pytest.raises(PbxTimeout) as info:
                await a.start()
            assert "ClueCon" not in str(info.value) and "ClueCon" not in a.connection.last_error
        finally:
            await a.stop()

    run(go())
