"""A push's `db` writes go out together (one round trip instead of a dozen), in order, and the write
returns only once every reply is in: a refusal is raised after the others were answered."""

from __future__ import annotations

import asyncio

import pytest

from clusterpbx.control.port import ExtensionFeatures, PbxRefused

from .conftest import adapter_for, eventually, run, settle
from .rawserver import RawServer, api_response, default_responder

FEATURES = ExtensionFeatures(dnd=True, forward_always="0612345678", followme_enabled=True,
                             followme_numbers=("102",), language="en")


def holding_server() -> tuple[RawServer, list[str]]:
    """Answers everything at once except the `db` writes, which it keeps for the test to answer."""
    held: list[str] = []

    def responder(command: str) -> bytes | None:
        if command.startswith("api db "):
            held.append(command)
            return None
        return default_responder(command)

    return RawServer(responder=responder), held


def writing(check) -> None:  # type: ignore[no-untyped-def]
    """A write of FEATURES to 101 against a server that holds its `db` commands; check(raw, held, write,
    adapter) answers them and looks."""
    raw, held = holding_server()

    async def go() -> None:
        a = adapter_for(raw.port, timeout=10.0)
        await a.start()
        try:
            await settle(a)
            await check(raw, held, asyncio.ensure_future(a.write_features("101", FEATURES)), a)
        finally:
            await a.stop()

    try:
        run(go())
    finally:
        raw.close()


def test_every_write_is_sent_before_the_first_reply_and_in_order() -> None:
    async def check(raw, held, write, a) -> None:  # type: ignore[no-untyped-def]
        expected = [f"api db {'delete' if v is None else 'insert'}/{r}/{k}" + ("" if v is None else f"/{v}")
                    for r, k, v in a._entries(a._settings("101", FEATURES))]
        # Sequential commands would stop at the first one, waiting for its reply.
        assert await eventually(lambda: len(held) == len(expected), 10)
        assert len(expected) >= 5 and not write.done()
        assert held == expected
        raw.push(b"".join(api_response("+OK\n") for _ in held[:-1]))
        await asyncio.sleep(0.1)
        assert not write.done()  # one reply is still missing
        raw.push(api_response("+OK\n"))
        await asyncio.wait_for(write, 5)

    writing(check)


def test_a_refusal_is_raised_once_every_reply_is_in() -> None:
    async def check(raw, held, write, a) -> None:  # type: ignore[no-untyped-def]
        assert await eventually(lambda: len(held) >= 5, 10)
        await asyncio.sleep(0.1)
        count = len(held)
        raw.push(api_response("+OK\n") + api_response("-ERR no reply\n"))
        await asyncio.sleep(0.1)
        assert not write.done()  # refused, but the other writes are still unanswered
        raw.push(b"".join(api_response("+OK\n") for _ in range(count - 2)))
        with pytest.raises(PbxRefused, match="db"):
            await asyncio.wait_for(write, 5)
        # Nothing left in flight: the next command gets its own reply.
        raw.responder = default_responder
        assert (await a.api("status")).startswith("+OK")

    writing(check)
