"""Fault injection on the sim's AMI server, seen from a raw socket client and from panoramisk; the restart
and stop faults are checked against the recorded 'core restart now' / 'core stop now' (captures 22, 22b, 23)."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest
from astfixtures import RawAmi, asterisk_dir, get, headers_of, parse, split_messages
from panoramisk import Manager

from clusterpbx.sim import faults
from clusterpbx.sim.runner import SimPBX


def recorded_event(stem: str, name: str) -> list[tuple[str, str]]:
    msgs = split_messages(parse(asterisk_dir() / f"{stem}.txt").server_bytes().split(b"\r\n", 1)[1])
    return next(m for m in msgs if m[0] == ("Event", name))


def connect_retry(port: int, timeout: float = 30.0) -> RawAmi:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return RawAmi(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_drop_connections_gives_eof(sim: SimPBX) -> None:
    cli = RawAmi(sim.ami_port)
    cli.login(events="off")
    faults.drop_connections(sim)
    assert cli.read_to_eof(3.0) == b""
    cli.close()
    again = RawAmi(sim.ami_port)
    assert again.read_until(b"\r\n") == b"Asterisk Call Manager/11.0.0\r\n"
    again.close()


def test_restart_like_recording_22(sim: SimPBX) -> None:
    cli = RawAmi(sim.ami_port)
    cli.login()
    cli.wait_for(lambda m: m[0] == ("Event", "SuccessfulAuth"))
    port = sim.ami_port
    faults.restart(sim, down_for=0.3)
    msgs = cli.wait_for(lambda m: m[0] == ("Event", "Shutdown"))
    assert msgs[-1] == recorded_event("22_core_restart_now_via_cli", "Shutdown")
    cli.read_to_eof(3.0)
    cli.close()
    new = connect_retry(port)
    assert new.read_until(b"\r\n") == b"Asterisk Call Manager/11.0.0\r\n"
    new.action("Login", ActionID="again", Username="portal", Secret="portalsecret")
    booted = new.wait_for(lambda m: m[0] == ("Event", "FullyBooted"))[-1]
    assert headers_of(booted) == headers_of(recorded_event("22_core_restart_now_via_cli", "FullyBooted"))
    assert get(booted, "Uptime") == "0"
    new.close()


def test_restart_from_own_command_is_only_eof_like_22b(sim: SimPBX) -> None:
    cli = RawAmi(sim.ami_port)
    cli.login(events="off")
    cli.action("Command", ActionID="boom", Command="core restart now")
    # Neither a response nor the Shutdown event reaches the issuing connection.
    assert cli.read_to_eof(3.0) == b""
    cli.close()
    new = connect_retry(sim.ami_port)
    new.login()
    new.close()


def test_stop_like_recording_23(sim: SimPBX) -> None:
    cli = RawAmi(sim.ami_port)
    cli.login()
    faults.stop(sim)
    msgs = cli.wait_for(lambda m: m[0] == ("Event", "Shutdown"))
    assert msgs[-1] == recorded_event("23_core_stop_now", "Shutdown")
    cli.read_to_eof(3.0)
    cli.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.ami_port), timeout=2).close()


def test_stall_delays_answers(sim: SimPBX) -> None:
    cli = RawAmi(sim.ami_port)
    cli.login(events="off")
    t0 = time.monotonic()  # before the stall starts: the answer comes at least 1.5 s after t0, however slow
    faults.stall(sim, 1.5)
    cli.action("Ping", ActionID="p")
    with pytest.raises(TimeoutError):
        cli.read_message(timeout=0.4)
    msg = cli.read_message(timeout=30)
    assert ("Ping", "Pong") in msg and time.monotonic() - t0 >= 1.49
    cli.close()


def test_malformed_frame_then_normal_service(sim: SimPBX) -> None:
    cli = RawAmi(sim.ami_port)
    cli.login(events="off")
    faults.send_malformed(sim, b"Garbage without colon\r\n\x00\xff\r\n\r\n")
    assert cli.read_until(b"\r\n\r\n") == b"Garbage without colon\r\n\x00\xff\r\n\r\n"
    cli.action("Ping", ActionID="after")
    assert ("ActionID", "after") in cli.read_message()
    cli.close()


def test_reject_logins_then_accept(sim: SimPBX) -> None:
    faults.reject_logins(sim)
    cli = RawAmi(sim.ami_port)
    cli.read_until(b"\r\n")
    t0 = time.monotonic()  # before the Login: the close comes at least 1 s after it, however slow
    cli.action("Login", ActionID="x", Username="portal", Secret="portalsecret")
    assert cli.read_message() == [("Response", "Error"), ("ActionID", "x"), ("Message", "Authentication failed")]
    cli.read_to_eof(30)
    # closed about 1 s later, as recorded (02): not at once, and not only at some timeout (generous)
    assert 0.99 <= time.monotonic() - t0 <= 15
    cli.close()
    faults.reject_logins(sim, on=False)
    ok = RawAmi(sim.ami_port)
    ok.login()
    ok.close()


# ---------------------------------------------------------------------------- panoramisk


async def _logged_in(port: int, logins: asyncio.Queue[int]) -> Manager:
    loop = asyncio.get_running_loop()
    mgr = Manager(loop=loop, host="127.0.0.1", port=port, username="portal", secret="portalsecret",
                  ping_delay=3600, reconnect_timeout=1,
                  on_login=lambda m: logins.put_nowait(1))
    await mgr.connect()
    await asyncio.wait_for(logins.get(), 5)
    return mgr


def test_panoramisk_reconnects_after_restart(sim: SimPBX) -> None:
    async def scenario() -> None:
        logins: asyncio.Queue[int] = asyncio.Queue()
        mgr = await _logged_in(sim.ami_port, logins)
        shutdowns: list[str] = []
        mgr.register_event("Shutdown", lambda m, e: shutdowns.append(e["Restart"]))
        await asyncio.to_thread(faults.restart, sim, 0.3)
        await asyncio.wait_for(logins.get(), 8)   # logged in again on the new listener
        assert shutdowns == ["True"]
        pong = await asyncio.wait_for(mgr.send_action({"Action": "Ping"}), 5)
        assert pong.ping == "Pong"
        mgr.close()
    asyncio.run(scenario())


def test_panoramisk_reconnects_after_dropped_connection(sim: SimPBX) -> None:
    async def scenario() -> None:
        logins: asyncio.Queue[int] = asyncio.Queue()
        mgr = await _logged_in(sim.ami_port, logins)
        await asyncio.to_thread(faults.drop_connections, sim)
        await asyncio.wait_for(logins.get(), 8)
        resp = await asyncio.wait_for(mgr.send_action({"Action": "Ping"}), 5)
        assert resp.success
        mgr.close()
    asyncio.run(scenario())


def test_panoramisk_survives_malformed_frame_and_stall(sim: SimPBX) -> None:
    async def scenario() -> None:
        logins: asyncio.Queue[int] = asyncio.Queue()
        mgr = await _logged_in(sim.ami_port, logins)
        await asyncio.to_thread(faults.send_malformed, sim)
        t0 = time.monotonic()  # before the stall starts
        await asyncio.to_thread(faults.stall, sim, 0.5)
        resp = await asyncio.wait_for(mgr.send_action({"Action": "Ping"}), 30)
        assert resp.success and time.monotonic() - t0 >= 0.49
        mgr.close()
    asyncio.run(scenario())
