"""Pushing desired state holds no transaction while the PBX is talked to, and records its outcome only on
rows nobody changed meanwhile; the scheduler's entry point runs a job on the daemon's loop from its own
thread (docs/transactions.md)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field

import pytest
from sqlalchemy import create_engine, text

from clusterpbx.control import daemon as daemon_module
from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.daemon.settings import cmd_apply_user
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallSettings, PersonalConference, SyncState, utcnow
from clusterpbx.control.port import ConferenceSettings, ExtensionFeatures
from tests.fakes import FakePbx


@dataclass
class SlowPbx(FakePbx):
    """A PBX whose next feature (or conference) write waits until the test lets it go on; later writes
    go through at once."""

    gate_on: str = "features"
    gate: asyncio.Event | None = None
    writing: asyncio.Event | None = None
    written: list[tuple[str, bool]] = field(default_factory=list)

    async def _maybe_wait(self, what: str) -> None:
        if what == self.gate_on and self.gate is not None and self.writing is not None:
            gate, self.gate = self.gate, None
            self.writing.set()
            await gate.wait()

    async def write_features(self, extension: str, features: ExtensionFeatures) -> None:
        await self._maybe_wait("features")
        await super().write_features(extension, features)
        self.written.append((extension, features.dnd))

    async def write_conference(self, extension: str, settings: ConferenceSettings) -> None:
        await self._maybe_wait("conference")
        await super().write_conference(extension, settings)


def setup(db, world):
    node = world.node()
    tenant = world.tenant(node_id=node.id)
    user = world.user(tenant, extension="201")
    cs = db.get(CallSettings, user.id)
    cs.dnd, cs.sync_state = True, SyncState.PENDING
    conf = db.get(PersonalConference, user.id)
    if conf is None:
        conf = PersonalConference(user_id=user.id)
        db.add(conf)
    conf.enabled = True  # a second PBX write in each push
    db.commit()
    return node, user


async def held_push(engine, node, push):
    """A started daemon on a SlowPbx, resynced, and `push(daemon)` (the user's first push) held at the PBX
    while it writes the features: (daemon, fake PBX, the gate that lets the write go on, the push's task)."""
    fake = SlowPbx()
    d = ControlDaemon(make_session_factory(engine), "s", port=0, port_factory=lambda n, a: fake)
    await d.start()
    await asyncio.wait_for(d.nodes[node.id].resynced.wait(), 5)
    fake.written.clear()
    gate = fake.gate = asyncio.Event()
    fake.writing = asyncio.Event()
    first = asyncio.ensure_future(push(d))
    await asyncio.wait_for(fake.writing.wait(), 5)
    return d, fake, gate, first


def save_elsewhere(database_url: str, user_id: int, dnd: bool) -> None:
    """The portal saving a change, on its own connection, with a short lock wait (0.5 s)."""
    short_wait = ({"timeout": 0.5} if database_url.startswith("sqlite") else {"options": "-c lock_timeout=500"})
    engine = create_engine(database_url, connect_args=short_wait)
    try:
        with make_session_factory(engine)() as other:
            cs = other.get(CallSettings, user_id)
            cs.dnd, cs.sync_state = dnd, SyncState.PENDING
            other.commit()
    finally:
        engine.dispose()


def test_a_push_holds_no_lock_at_the_pbx_and_never_marks_a_newer_change_applied(engine, db, world, database_url):
    node, user = setup(db, world)

    async def scenario():
        fake = SlowPbx(gate_on="conference")
        d = ControlDaemon(make_session_factory(engine), "s", port=0, port_factory=lambda n, a: fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 5)
        await asyncio.to_thread(save_elsewhere, database_url, user.id, True)  # saved, pending
        gate = fake.gate = asyncio.Event()
        fake.writing = asyncio.Event()
        push = asyncio.ensure_future(cmd_apply_user(d, user.id))  # plans dnd=True
        await asyncio.wait_for(fake.writing.wait(), 5)  # features written; the conference write waits
        # While the PBX takes its time, the portal saves a newer change: no lock is in its way.
        await asyncio.to_thread(save_elsewhere, database_url, user.id, False)
        if database_url.startswith("sqlite"):
            # Not even SQLite's database-wide write lock.
            conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0.5, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            conn.close()
        gate.set()
        result = await asyncio.wait_for(push, 5)
        assert result["applied"] >= 1
        db.expire_all()
        row = db.get(CallSettings, user.id)
        # The PBX took the older value; the newer one is saved and still pending, not "applied".
        assert row.dnd is False and row.sync_state is SyncState.PENDING
        await cmd_apply_user(d, user.id)
        assert fake.features["acme-201"].dnd is False
        db.expire_all()
        assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED
        await d.stop()

    asyncio.run(scenario())


def test_pushes_of_one_user_reach_the_pbx_in_the_order_they_were_planned(engine, db, world, database_url):
    node, user = setup(db, world)

    async def scenario():
        d, fake, gate, first = await held_push(engine, node, lambda d: cmd_apply_user(d, user.id))  # dnd=True
        await asyncio.to_thread(save_elsewhere, database_url, user.id, False)
        second = asyncio.ensure_future(cmd_apply_user(d, user.id))  # must plan after the first
        await asyncio.sleep(0.2)
        gate.set()
        await asyncio.wait_for(asyncio.gather(first, second), 5)
        assert fake.written == [("acme-201", True), ("acme-201", False)]
        assert fake.features["acme-201"].dnd is False
        db.expire_all()
        row = db.get(CallSettings, user.id)
        assert row.dnd is False and row.sync_state is SyncState.APPLIED
        await d.stop()

    asyncio.run(scenario())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_scheduler_s_entry_point_runs_a_job_on_the_daemon_s_loop(engine, db, world):
    setup(db, world)

    async def scenario():
        d = ControlDaemon(make_session_factory(engine), "s", port=0, port_factory=lambda n, a: FakePbx())
        await d.start()
        for _ in range(100):
            if d.is_leader:
                break
            await asyncio.sleep(0.05)
        assert d.is_leader
        # APScheduler calls run_job on its own thread; the job runs on the loop and its result comes back.
        assert await asyncio.to_thread(daemon_module.run_job, "retention") == 0
        await d.stop()
        assert await asyncio.to_thread(daemon_module.run_job, "retention") is None  # stopped: nothing runs

    asyncio.run(scenario())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM apscheduler_jobs")).scalar() >= 5


def test_a_save_answers_within_its_wait_and_the_push_goes_on(engine, db, world):
    """The portal's save asks with a short wait (apply_wait): a slow PBX makes the answer "being
    applied", not a slow answer, and the push still lands and marks the row applied."""
    node, user = setup(db, world)

    async def scenario():
        fake = SlowPbx()
        d = ControlDaemon(make_session_factory(engine), "s", port=0, port_factory=lambda n, a: fake)
        await d.start()
        try:
            await asyncio.wait_for(d.nodes[node.id].resynced.wait(), 5)
            gate = fake.gate = asyncio.Event()
            fake.writing = asyncio.Event()
            started = asyncio.get_running_loop().time()
            answer = await cmd_apply_user(d, user.id, wait=0.2)
            waited = asyncio.get_running_loop().time() - started
            assert answer == {"applied": 0, "pending": 1, "errors": [], "in_progress": True}
            assert waited < 2.0
            gate.set()
            while d._applying:
                await asyncio.sleep(0.02)
            # Without a wait, the answer is the push's own outcome, as before.
            return answer, await cmd_apply_user(d, user.id)
        finally:
            await d.stop()

    _first, second = asyncio.run(scenario())
    assert second["pending"] == 0 and second["applied"] >= 1
    db.expire_all()
    assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED


def test_the_wait_stays_inside_the_commands_own_timeout():
    from clusterpbx.control.commands import apply_wait
    from clusterpbx.control.config import Settings

    assert apply_wait(Settings(apply_wait=0.4, control_timeout=5.0)) == 0.4
    assert apply_wait(Settings(apply_wait=30.0, control_timeout=5.0)) == 4.0


def test_a_push_planned_before_a_phone_code_is_not_the_last_word_on_the_pbx(engine, db, world):
    """*76 on the phone while a push planned with the portal's older value is on its way: the daemon
    adopts the phone's value and pushes the user again, so the PBX ends with it, as the portal shows."""
    from clusterpbx.control.port import FeatureChanged

    node, user = setup(db, world)  # dnd=True saved in the portal, pending

    async def scenario():
        fake = SlowPbx()
        d = ControlDaemon(make_session_factory(engine), "s", port=0, port_factory=lambda n, a: fake)
        await d.start()
        try:
            runner = d.nodes[node.id]
            await asyncio.wait_for(runner.resynced.wait(), 5)
            gate = fake.gate = asyncio.Event()
            fake.writing = asyncio.Event()
            push = asyncio.ensure_future(cmd_apply_user(d, user.id))  # plans dnd=True, held at the PBX
            await asyncio.wait_for(fake.writing.wait(), 5)
            # Meanwhile the phone dials *76 (DND off on the PBX) and the event is projected.
            fake.emit(FeatureChanged(owner="acme-201", feature="dnd", value="off", at=utcnow()))
            await runner.flush()
            gate.set()
            await asyncio.wait_for(push, 5)
            for _ in range(100):  # the re-push after the phone code
                if fake.written[-1:] == [("acme-201", False)]:
                    break
                await asyncio.sleep(0.02)
            return list(fake.written), fake.features["acme-201"].dnd
        finally:
            await d.stop()

    written, dnd_on_pbx = asyncio.run(scenario())
    assert ("acme-201", True) in written and written[-1] == ("acme-201", False)
    assert dnd_on_pbx is False
    db.expire_all()
    assert db.get(CallSettings, user.id).dnd is False


def test_pushes_asked_while_one_waits_its_turn_become_that_one_push(engine, db, world, database_url):
    """A user saving several times while a push of theirs is at the PBX: the requests that queue behind it
    make one more push, which carries the last saved value, and each request hears its outcome."""
    node, user = setup(db, world)

    async def scenario():
        d, fake, gate, first = await held_push(engine, node, lambda d: cmd_apply_user(d, user.id))  # dnd=True
        later = []
        for dnd in (False, True, False):  # three saves, each followed by its request to apply
            await asyncio.to_thread(save_elsewhere, database_url, user.id, dnd)
            later.append(asyncio.ensure_future(cmd_apply_user(d, user.id)))
            await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.wait_for(asyncio.gather(first, *later), 5)
        assert fake.written == [("acme-201", True), ("acme-201", False)]
        assert all(r["applied"] >= 1 and r["pending"] == 0 for r in results)
        db.expire_all()
        row = db.get(CallSettings, user.id)
        assert row.dnd is False and row.sync_state is SyncState.APPLIED
        # Once nothing waits, a request makes its own push again.
        await cmd_apply_user(d, user.id)
        assert fake.written[-1] == ("acme-201", False) and len(fake.written) == 3
        await d.stop()

    asyncio.run(scenario())


def test_a_push_that_joined_one_called_off_makes_its_own(engine, db, world, database_url):
    """The push a request joined is cancelled before its turn (its node's resync stopped, say): the
    request is not lost with it, it makes its own push."""
    node, user = setup(db, world)

    async def scenario():
        d, fake, gate, first = await held_push(
            engine, node, lambda d: d.pusher.push_user(d.nodes[node.id].port, user.id))  # dnd=True
        port = d.nodes[node.id].port
        waiting = asyncio.ensure_future(d.pusher.push_user(port, user.id))  # waits its turn
        await asyncio.sleep(0.05)
        await asyncio.to_thread(save_elsewhere, database_url, user.id, False)
        joined = asyncio.ensure_future(d.pusher.push_user(port, user.id))  # joins `waiting`
        await asyncio.sleep(0.05)
        waiting.cancel()
        gate.set()
        await asyncio.wait_for(first, 5)
        result = await asyncio.wait_for(joined, 5)
        assert waiting.cancelled()
        assert result.applied >= 1 and fake.written == [("acme-201", True), ("acme-201", False)]
        db.expire_all()
        assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED
        await d.stop()

    asyncio.run(scenario())
