"""The control daemon with a fake of our own port: desired state survives a PBX outage, the command
channel answers with timeouts and clear errors, exactly one daemon runs the jobs."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from clusterpbx.control.commands import CommandError, ControlClient, DaemonUnavailable
from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.daemon.jobs import job_live_sweep
from clusterpbx.control.daemon.settings import job_out_of_office
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import (
    CallSettings,
    Extension,
    LiveCall,
    NodeHealth,
    Queue,
    QueueMembership,
    SyncState,
    VoicemailSettings,
)
from clusterpbx.control.port import CallState, PbxCall, QueueMemberChanged
from tests.fakes import FakePbx

SECRET = "test-secret"


def make_node(db, world):
    node = world.node()
    return node, world.tenant(node_id=node.id)


async def wait_for(predicate, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def daemon_for(engine, fake, **kw):
    return ControlDaemon(make_session_factory(engine), SECRET, port=0, port_factory=lambda n, a: fake, **kw)


def test_setting_saved_while_pbx_down_is_applied_when_it_returns(engine, db, world):
    node, tenant = make_node(db, world)
    user = world.user(tenant, extension="201")
    fake = FakePbx(up=False)

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        # The portal saves DND while the PBX is down: the row is pending, the client gets a clear error.
        cs = db.get(CallSettings, user.id)
        cs.dnd = True
        cs.sync_state = SyncState.PENDING
        db.commit()
        client = ControlClient("127.0.0.1", d.port, SECRET, timeout=3)
        result = await asyncio.to_thread(client.call, "apply_user", user_id=user.id)
        assert result["pending"] >= 1 and "fake PBX is down" in result["errors"][0]
        assert "acme-201" not in fake.features
        fake.come_back()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        assert fake.features["acme-201"].dnd is True
        await d.stop()

    asyncio.run(scenario())
    db.expire_all()
    assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED
    assert db.get(NodeHealth, node.id) is not None


def test_reconnect_reasserts_queue_membership(engine, db, world):
    node, tenant = make_node(db, world)
    user = world.user(tenant, extension="201")
    q = Queue(tenant_id=tenant.id, name="support", label="Soutien")
    db.add(q)
    db.flush()
    db.add(QueueMembership(queue_id=q.id, user_id=user.id, logged_in=True, paused=True, pause_reason="Dîner"))
    db.commit()
    fake = FakePbx()

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        assert fake.members[("cpbx-acme-support", "Local/201@cpbx-acme-leg/n")].paused
        # The PBX restarts and forgets its members; on reconnect the daemon puts them back.
        fake.go_down()
        fake.members.clear()
        fake.come_back()
        await wait_for(lambda: runner.resyncs >= 2)
        assert fake.members[("cpbx-acme-support", "Local/201@cpbx-acme-leg/n")].pause_reason == "Dîner"
        await d.stop()

    asyncio.run(scenario())


def test_status_since_is_the_current_connections_start(engine, db, world):
    """`control --status` says since when a node is connected or not: a PBX that dropped and came back
    between two health writes is a new connection (it used to keep the first one's time), and a stopped
    daemon's node is "disconnected since" the drop (it used to keep the connected time)."""
    node, _tenant = make_node(db, world)
    fake = FakePbx()

    def health():
        db.expire_all()
        row = db.get(NodeHealth, node.id)
        return (row.connected, row.since) if row is not None else None

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await wait_for(lambda: runner.resyncs >= 1 and health() is not None and health()[0])
        first = health()[1]
        assert first == runner.connected_since
        fake.go_down()
        fake.come_back()
        await wait_for(lambda: runner.resyncs >= 2)
        await wait_for(lambda: health()[1] != first)
        connected, second = health()
        assert connected and second == runner.connected_since and second > first
        fake.go_down()
        dropped = runner.disconnected_since
        await d.stop()
        connected, since = health()
        assert not connected and since == dropped and since > second

    asyncio.run(scenario())


def test_queue_logout_from_the_phone_survives_reconnect(engine, db, world):
    """*46 on the phone logs the agent out on the PBX: that becomes the user's wish, so a reconnect
    does not log them back in (the other agent, untouched, is logged back in)."""
    node, tenant = make_node(db, world)
    user = world.user(tenant, extension="201")
    other = world.user(tenant, extension="202")
    q = Queue(tenant_id=tenant.id, name="support", label="Soutien")
    db.add(q)
    db.flush()
    mine = QueueMembership(queue_id=q.id, user_id=user.id, logged_in=True)
    theirs = QueueMembership(queue_id=q.id, user_id=other.id, logged_in=True)
    db.add_all([mine, theirs])
    db.commit()
    fake = FakePbx()
    key = ("cpbx-acme-support", "Local/201@cpbx-acme-leg/n")
    other_key = ("cpbx-acme-support", "Local/202@cpbx-acme-leg/n")

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        assert key in fake.members and other_key in fake.members
        # 201 dials *46: the PBX removes the member and says so.
        gone = fake.members.pop(key)
        fake.emit(QueueMemberChanged(at=dt.datetime.now(), member=gone, removed=True))

        def adopted():
            db.expire_all()
            return db.get(QueueMembership, mine.id).logged_in is False
        await wait_for(adopted)
        # A restart of the PBX forgets every member; the reconnect re-asserts the desired state.
        fake.go_down()
        fake.members.clear()
        fake.come_back()
        await wait_for(lambda: runner.resyncs >= 2)
        assert key not in fake.members
        assert other_key in fake.members
        await d.stop()

    asyncio.run(scenario())
    db.expire_all()
    assert db.get(QueueMembership, mine.id).logged_in is False
    assert db.get(QueueMembership, theirs.id).logged_in is True


def test_reconnect_snapshot_removes_ghost_calls(engine, db, world):
    node, tenant = make_node(db, world)
    fake = FakePbx()
    t0 = dt.datetime(2026, 11, 27, 12, 0)
    fake.calls["ghost"] = PbxCall("ghost", t0, CallState.ANSWERED, "201", "202")

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        assert [r.pbx_call_id for r in db.query(LiveCall)] == ["ghost"]
        fake.go_down()
        del fake.calls["ghost"]
        fake.calls["new"] = PbxCall("new", t0, CallState.RINGING, "202", "203")
        fake.come_back()
        await wait_for(lambda: runner.resyncs >= 2)
        db.expire_all()
        assert [r.pbx_call_id for r in db.query(LiveCall)] == ["new"]
        await d.stop()

    asyncio.run(scenario())


def allow_montreal(db, user):
    from clusterpbx.control.models import DestinationGroup, DestinationPrefix

    group = DestinationGroup(tenant_id=user.tenant_id, name="Montréal")
    db.add(group)
    db.flush()
    db.add(DestinationPrefix(group_id=group.id, prefix="514"))
    user.destination_groups.append(group)
    db.commit()


def test_command_channel_errors_are_clear(engine, db, world):
    node, tenant = make_node(db, world)
    user = world.user(tenant, extension="201")
    allow_montreal(db, user)
    fake = FakePbx()

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        good = ControlClient("127.0.0.1", d.port, SECRET, timeout=3)
        bad = ControlClient("127.0.0.1", d.port, "wrong", timeout=3)
        with pytest.raises(CommandError) as err:
            await asyncio.to_thread(bad.call, "ping")
        assert err.value.kind == "forbidden"
        with pytest.raises(CommandError) as err:
            await asyncio.to_thread(good.call, "rm_rf")
        assert err.value.kind == "invalid"
        with pytest.raises(CommandError) as err:
            await asyncio.to_thread(good.call, "click_to_call", user_id=user.id, number="514\r\nAction: X")
        assert err.value.kind == "invalid" and fake.originates == []
        result = await asyncio.to_thread(good.call, "click_to_call", user_id=user.id, number="514 907 9050")
        assert result == {"endpoint": "201", "number": "5149079050"}
        assert fake.originates == [("201", "5149079050")]
        await d.stop()

    asyncio.run(scenario())


def test_daemon_down_gives_daemon_unavailable():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DaemonUnavailable):
        ControlClient("127.0.0.1", port, SECRET, timeout=1).call("ping")


def test_only_one_daemon_holds_the_job_lease(engine, db, world):
    make_node(db, world)
    a = daemon_for(engine, FakePbx())
    b = daemon_for(engine, FakePbx())
    results = [a.try_lease(), b.try_lease(), a.try_lease(), b.try_lease()]
    assert results == [True, False, True, False]


def test_out_of_office_switches_on_and_off_at_its_dates(engine, db, world):
    node, tenant = make_node(db, world)
    tenant.timezone = "America/Montreal"
    db.commit()
    user = world.user(tenant, extension="201")
    vm = db.get(VoicemailSettings, user.id)
    vm.ooo_enabled = True
    vm.ooo_start = dt.date(2026, 12, 24)
    vm.ooo_last_day = dt.date(2026, 12, 26)
    db.commit()
    fake = FakePbx()
    clock = {"now": dt.datetime(2026, 12, 24, 4, 59)}  # 23:59 on the 23rd in Montréal

    async def scenario():
        d = daemon_for(engine, fake, clock=lambda: clock["now"])
        await d.start()
        await asyncio.wait_for(d.nodes[node.id].resynced.wait(), 5)
        assert await job_out_of_office(d) == 0
        clock["now"] = dt.datetime(2026, 12, 24, 5, 1)  # 00:01 on the 24th in Montréal
        assert await job_out_of_office(d) == 1
        assert fake.features["acme-201"].out_of_office is True
        clock["now"] = dt.datetime(2026, 12, 27, 4, 59)  # still the 26th, the last day
        assert await job_out_of_office(d) == 0
        clock["now"] = dt.datetime(2026, 12, 27, 5, 0)  # the 27th: off
        assert await job_out_of_office(d) == 1
        assert fake.features["acme-201"].out_of_office is False
        await d.stop()

    asyncio.run(scenario())


def test_jobs_are_stored_in_the_database_and_run_only_on_the_leader(engine, db, world):
    from sqlalchemy import inspect, text

    make_node(db, world)

    async def scenario():
        a = daemon_for(engine, FakePbx())
        b = daemon_for(engine, FakePbx())
        await a.start()
        await b.start()
        await wait_for(lambda: a.is_leader or b.is_leader)
        assert not (a.is_leader and b.is_leader)
        leader, follower = (a, b) if a.is_leader else (b, a)
        assert await follower.run_job("retention") is None
        assert await leader.run_job("retention") == 0
        await a.stop()
        await b.stop()

    asyncio.run(scenario())
    assert "apscheduler_jobs" in inspect(engine).get_table_names()
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text("SELECT id FROM apscheduler_jobs"))}
    from clusterpbx.control.daemon import JOB_INTERVALS

    assert {"out_of_office", "reconcile", "retention", "sms_retry"} <= ids == set(JOB_INTERVALS)


def test_records_missed_during_an_outage_are_caught_up_once(engine, db, world):
    from clusterpbx.control.models import CallRecord
    from clusterpbx.control.port import CallRecorded, CallRecordReport, CallStatus

    node, tenant = make_node(db, world)
    world.user(tenant, extension="201")
    world.user(tenant, extension="202")
    fake = FakePbx()
    t0 = dt.datetime(2026, 11, 27, 12, 0)

    def rec(i):
        return CallRecordReport(f"r{i}", f"c{i}", t0, t0, t0, 10, 8, "A", "201", "202", "201", "202",
                                CallStatus.ANSWERED)

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        # r0 arrives live and is also in the PBX's own log.
        fake.record_log.append(rec(0))
        fake.emit(CallRecorded(t0, rec(0)))
        fake.go_down()
        fake.record_log += [rec(1), rec(2)]  # nobody listened
        fake.come_back()
        await wait_for(lambda: runner.resyncs >= 2)
        fake.go_down()
        fake.come_back()  # a second reconnect must not ingest anything again
        await wait_for(lambda: runner.resyncs >= 3)
        await d.stop()

    asyncio.run(scenario())
    db.expire_all()
    ids = sorted(r.pbx_call_id for r in db.query(CallRecord))
    assert ids == ["r0", "r0", "r1", "r1", "r2", "r2"]  # one row per user (caller and callee), no more


def test_the_daemons_click_to_call_checks_allowed_destinations_whoever_asks(engine, db, world):
    """The command itself refuses a number outside the user's allowed destinations (issue 22 item 1):
    a client that skips the portal's and the API's check still cannot make the PBX dial it."""
    node, tenant = make_node(db, world)
    user = world.user(tenant, extension="203")
    allow_montreal(db, user)
    fake = FakePbx()

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        client = ControlClient("127.0.0.1", d.port, SECRET, timeout=3)
        with pytest.raises(CommandError) as err:
            await asyncio.to_thread(client.call, "click_to_call", user_id=user.id, number="+33612345678")
        assert err.value.kind == "invalid" and "not_allowed" in str(err.value)
        assert fake.originates == []
        await asyncio.to_thread(client.call, "click_to_call", user_id=user.id, number="5149079050")
        assert fake.originates == [("203", "5149079050")]
        await d.stop()

    asyncio.run(scenario())


def test_a_live_call_gone_from_the_pbx_is_swept_away(engine, db, world):
    """A Hangup the daemon never saw (or a call its translator could not pair) leaves no ghost: the
    periodic sweep compares with the PBX's own list of channels (issue 25). A call too young to be
    in that list yet is left alone."""
    node, tenant = make_node(db, world)
    fake = FakePbx()
    old = dt.datetime.utcnow() - dt.timedelta(minutes=34)
    young = dt.datetime.utcnow()
    fake.calls["real"] = PbxCall("real", old, CallState.ANSWERED, "202", "203")

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)
        # Two calls the daemon believes in but the PBX does not list: an old ghost and a brand-new call.
        from clusterpbx.control.port import CallStarted

        runner.projector.handle(CallStarted(old, PbxCall("ghost", old, CallState.ANSWERED, "201", "201")))
        runner.projector.handle(CallStarted(young, PbxCall("fresh", young, CallState.RINGING, "204", "205")))
        def stored() -> set[str]:
            db.rollback()  # a fresh read of what the daemon committed
            return {r.pbx_call_id for r in db.query(LiveCall)}

        await wait_for(lambda: stored() == {"real", "ghost", "fresh"})
        assert await job_live_sweep(d) == 1
        await wait_for(lambda: stored() == {"real", "fresh"})
        await d.stop()

    asyncio.run(scenario())


def test_message_counts_are_read_at_every_resync(engine, db, world):
    """Messages left while the daemon was away reach the lamps and the home counter at the next
    connection, not only at the mailbox's next change (found by the lived-in demo, issue 25)."""
    from clusterpbx.control.models import MailboxState
    from clusterpbx.control.port import MailboxCounts

    node, tenant = make_node(db, world)
    world.user(tenant, extension="201")
    ext = db.query(Extension).filter_by(tenant_id=tenant.id, number="201").one()
    ext.mailbox = "201"
    db.commit()
    fake = FakePbx()
    asked: list[str] = []

    async def counts(mailbox: str) -> MailboxCounts:
        asked.append(mailbox)
        return MailboxCounts(new=2, old=1)

    fake.mailbox_counts = counts  # type: ignore[method-assign]

    async def scenario():
        d = daemon_for(engine, fake)
        await d.start()
        runner = d.nodes[node.id]
        await asyncio.wait_for(runner.resynced.wait(), 30)

        def stored():
            db.rollback()
            return [(m.mailbox, m.new_messages, m.old_messages) for m in db.query(MailboxState)]

        await wait_for(lambda: stored() == [(asked[0], 2, 1)] if asked else False)
        assert asked[0].startswith("201@")
        await d.stop()

    asyncio.run(scenario())
