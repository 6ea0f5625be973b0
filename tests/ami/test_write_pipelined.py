"""A push's AstDB writes go out together (one round trip instead of a dozen), in order, and the write
returns only once every answer is in: a refusal is raised after the others were answered, never while
some are still in flight."""

from __future__ import annotations

import asyncio
import time

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import ExtensionFeatures, PbxRefused

from .conftest import address
from .rawserver import RawAmiServer, frame, success

DB_ACTIONS = {"dbput", "dbdeltree", "dbdel"}
FEATURES = ExtensionFeatures(dnd=True, forward_always="0612345678", followme_enabled=True,
                             followme_numbers=("102",), language="en")


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def holding_server() -> tuple[RawAmiServer, list[dict[str, str]]]:
    """A server that answers everything at once except the AstDB writes, which it keeps for the test."""
    held: list[dict[str, str]] = []

    def responder(_server: RawAmiServer, req: dict[str, str]) -> bytes | None:
        if req.get("Action", "").lower() in DB_ACTIONS:
            held.append(req)
            return None
        return success(req)

    return RawAmiServer(responder=responder), held


def answer(req: dict[str, str], refused: bool = False) -> bytes:
    if refused:
        return frame(("Response", "Error"), ("ActionID", req["ActionID"]), ("Message", "Failed to update entry"))
    return success(req, Message="Updated database successfully")


async def writing(check) -> None:  # type: ignore[no-untyped-def]
    """A write of FEATURES to 101 against a server that holds its AstDB actions; check(server, held, write,
    adapter) answers them and looks."""
    server, held = holding_server()
    await server.start()
    adapter = AsteriskAdapter(address(server.port))
    await adapter.start()
    try:
        await check(server, held, asyncio.create_task(adapter.write_features("101", FEATURES)), adapter)
    finally:
        await adapter.stop()
        await server.stop()


def test_every_write_is_sent_before_the_first_answer_and_in_order() -> None:
    async def check(server, held, write, adapter) -> None:  # type: ignore[no-untyped-def]
        expected = adapter._feature_entries(adapter.feature_settings(*adapter._feature_key("101"), FEATURES))
        # Sequential writes would stop at the first one, waiting for its answer.
        await until(lambda: len(held) == len(expected))
        assert len(expected) >= 10 and not write.done()
        assert [(r["Family"], r["Key"], r.get("Val")) for r in held] == list(expected)
        for req in held[:-1]:
            await server.push(answer(req), pause=0)
        await asyncio.sleep(0.05)
        assert not write.done()  # the last answer is still missing
        await server.push(answer(held[-1]), pause=0)
        await asyncio.wait_for(write, 5)

    asyncio.run(writing(check))


def test_a_refusal_is_raised_once_every_answer_is_in() -> None:
    async def check(server, held, write, adapter) -> None:  # type: ignore[no-untyped-def]
        await until(lambda: len(held) >= 10 and len(held) == len(server.actions("DBPut")) + len(
            server.actions("DBDelTree")))
        await server.push(answer(held[1], refused=True), pause=0)
        await asyncio.sleep(0.05)
        assert not write.done()  # refused, but the other writes are still unanswered
        for req in held[:1] + held[2:]:
            await server.push(answer(req), pause=0)
        with pytest.raises(PbxRefused, match="DBPut|DBDelTree"):
            await asyncio.wait_for(write, 5)
        # Nothing left in flight: the next command on the link gets its own answer.
        assert await adapter._action({"Action": "Ping"}) is not None

    asyncio.run(writing(check))
