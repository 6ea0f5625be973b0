"""Fixtures for the FreeSWITCH adapter tests: the sim in its FreeSWITCH lab on ephemeral ports, adapters
pointed at it, and a scripted raw server."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from clusterpbx.control.port import NodeAddress
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim.runner import SimPBX

from .rawserver import RawServer

T = TypeVar("T")
DOMAIN = "127.0.0.1"


def run(coro: Coroutine[Any, Any, T], timeout: float = 90.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture
def sim() -> Iterator[SimPBX]:
    pbx = SimPBX(lab="freeswitch", ami_port=0, esl_port=0).start()
    try:
        yield pbx
    finally:
        pbx.stop()


def address(port: int, timeout: float = 2.0, secret: str = "ClueCon", **extra: str) -> NodeAddress:
    extra.setdefault("agent_name", "{user}@default")  # the lab's callcenter.conf names agents 1001@default
    return NodeAddress(host="127.0.0.1", port=port, secret=secret, sip_domain=DOMAIN, timeout=timeout, extra=extra)


def adapter_for(port: int, timeout: float = 2.0, **extra: str) -> FreeSwitchAdapter:
    return FreeSwitchAdapter(address(port, timeout, **extra), ping_interval=30.0, backoff_initial=0.05,
                             backoff_max=0.5)


async def eventually(pred: Any, timeout: float = 30.0) -> bool:
    end = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < end:
        if pred():
            return True
        await asyncio.sleep(0.01)
    return bool(pred())


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer()
    try:
        yield server
    finally:
        server.close()


async def settle(a: FreeSwitchAdapter) -> None:
    """Wait for what the adapter sends by itself after a login (the callcenter tier list)."""
    task = a._tier_task
    if task is not None:
        await asyncio.wait_for(asyncio.shield(task), 5)
