"""A PBX that answers the daemon's snapshot with an error right after it connected (the lab's FreeSWITCH
answers ESL before mod_sofia is loaded: `sofia: -ERR sofia Command not found!`, seen by
tests/real/test_outage_reconnect.py): the daemon asks again while the connection lasts, and the resync
(live view, call-record catch-up, every saved setting re-asserted) happens on this connection instead of
waiting for the next reconnect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallSettings, NodeKind, SyncState
from clusterpbx.control.port import PbxRefused, RegistrationState
from tests.fakes import FakePbx

SECRET = "resync-secret"


@dataclass(eq=False)
class StartingFreeSwitch(FakePbx):
    refusals: int = 2  # snapshots refused before the PBX's SIP module is loaded

    async def registrations(self) -> list[RegistrationState]:
        self._check()
        if self.refusals > 0:
            self.refusals -= 1
            raise PbxRefused("sofia: -ERR sofia Command not found!")
        return await super().registrations()


def test_a_refused_snapshot_is_asked_again_while_connected(engine, db, world):
    node = world.node(kind=NodeKind.FREESWITCH, port=8021)
    tenant = world.tenant(node_id=node.id)
    user = world.user(tenant, extension="201")
    cs = db.get(CallSettings, user.id)
    cs.dnd, cs.sync_state = True, SyncState.APPLIED  # saved and applied before: only a full re-assert writes it
    db.commit()
    fake = StartingFreeSwitch()

    async def scenario() -> None:
        d = ControlDaemon(make_session_factory(engine), SECRET, port=0, port_factory=lambda n, a: fake)
        await d.start()
        try:
            runner = d.nodes[node.id]
            await asyncio.wait_for(runner.resynced.wait(), 10)  # was never set on this connection
            assert fake.refusals == 0 and runner.resyncs == 1
            assert fake.features["201@acme.test"].dnd is True
        finally:
            await d.stop()

    asyncio.run(scenario())
