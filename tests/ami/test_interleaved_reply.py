"""An action's reply that Asterisk writes between two events, in the same read as their bytes: the reply
completes its action and both events arrive whole, however the stream is cut into reads. A real PBX only
ever puts a reply at a message boundary (bench/ingest.py's replay does the same)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import CallStarted, PbxEvent

from .conftest import address
from .rawserver import RawAmiServer, frame, success


def newchannel(n: int, name: str) -> bytes:
    uid = f"1795797593.{n}"
    return frame(("Event", "Newchannel"), ("Privilege", "call,all"), ("Channel", f"PJSIP/202-0000000{n}"),
                 ("ChannelState", "4"), ("ChannelStateDesc", "Ring"), ("CallerIDNum", "202"),
                 ("CallerIDName", name), ("Context", "cpbx-acme"), ("Exten", "201"),
                 ("Uniqueid", uid), ("Linkedid", uid))


async def wait_until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("cuts", ["one read", "cut inside both events", "cut at every boundary", "bytewise"])
def test_a_reply_between_two_events_completes_its_action_and_both_events_arrive(cuts: str) -> None:
    first, second = newchannel(1, "Ané Un"), newchannel(2, "Deux")

    def hold_ping(server: RawAmiServer, req: dict[str, str]) -> bytes | None:
        return None if req.get("Action") == "Ping" else success(req)

    async def body() -> None:
        server = RawAmiServer(responder=hold_ping)
        await server.start()
        # the Ping waits for the whole push (bytewise: hundreds of writes on a busy machine)
        adapter = AsteriskAdapter(dataclasses.replace(address(server.port), timeout=30.0))
        got: list[PbxEvent] = []
        adapter.subscribe(got.append)
        await adapter.start()
        ping = asyncio.ensure_future(adapter.connection.send({"Action": "Ping"}))
        await wait_until(lambda: bool(server.actions("Ping")))
        reply = success(server.actions("Ping")[0], Ping="Pong", Timestamp="1795797593.000000")
        data = first + reply + second
        pieces = {"one read": [],
                  "cut inside both events": [len(first) // 2, len(first) + len(reply) + len(second) // 3],
                  "cut at every boundary": [len(first), len(first) + len(reply)],
                  "bytewise": list(range(1, len(data)))}[cuts]
        await server.push(data, pieces, pause=0.0 if cuts == "bytewise" else 0.02)
        answer = await asyncio.wait_for(ping, 10)
        assert answer.get("ping") == "Pong"
        await wait_until(lambda: len([e for e in got if isinstance(e, CallStarted)]) == 2)
        names = [e.call.caller_name for e in got if isinstance(e, CallStarted)]
        assert names == ["Ané Un", "Deux"]
        assert adapter.connected
        await adapter.stop()
        await server.stop()

    asyncio.run(asyncio.wait_for(body(), 60))
