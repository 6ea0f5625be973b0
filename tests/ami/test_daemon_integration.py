"""The control daemon driving the real Asterisk adapter against the sim: a live call reaches the
database and a user's settings reach AstDB, through the same wiring production uses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallSettings, LiveCall, SyncState
from clusterpbx.sim.runner import SimPBX
from tests.daemon_harness import resynced_daemon


async def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


# SQLite is enough here: the daemon's database paths are covered on both engines in tests/daemon.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_daemon_with_the_asterisk_adapter(engine: Any, db: Any, world: Any, sim: SimPBX) -> None:
    node = world.node("ast", port=sim.ami_port, username="portal", secret="portalsecret")
    tenant = world.tenant(node_id=node.id)
    user = world.user(tenant, extension="101")
    cs = db.get(CallSettings, user.id)
    cs.dnd = True
    cs.sync_state = SyncState.PENDING
    db.commit()
    sessions = make_session_factory(engine)

    def live_rows() -> list[LiveCall]:
        with sessions() as s:
            return list(s.scalars(select(LiveCall).where(LiveCall.node_id == node.id)))

    async def scenario() -> None:
        async with resynced_daemon(sessions, node.id) as (_d, runner):
            call = await asyncio.to_thread(sim.call_soon, sim.model.start_call, "101", "102")
            await asyncio.to_thread(sim.call_soon, call.ring)
            await asyncio.to_thread(sim.call_soon, call.answer)
            await wait_for(lambda: [r.state for r in live_rows()] == ["answered"])
            (row,) = live_rows()
            assert (row.source_number, row.destination_number) == ("101", "102")
            assert row.source_uri == "sip:101@127.0.0.1:5071"
            await asyncio.to_thread(sim.call_soon, call.hangup)
            await wait_for(lambda: live_rows() == [])

    asyncio.run(scenario())
    assert sim.call_soon(sim.model.db_get, "DND", "acme-101") == "YES"  # the tenant's key, not a bare 101
