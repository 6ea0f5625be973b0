"""Projection of domain events into the tables the portal reads, and idempotent call records."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from clusterpbx.control.callrecords import Rate, cost_of
from clusterpbx.control.daemon.projection import Projector
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import (
    CallRecord,
    LiveCall,
    Queue,
    QueueMembership,
    RateEntry,
    Registration,
    SyncState,
)
from clusterpbx.control.port import (
    CallAnswered,
    CallEnded,
    CallRecorded,
    CallRecordReport,
    CallStarted,
    CallState,
    CallStatus,
    PbxCall,
    QueueMember,
    QueueMemberChanged,
    RegistrationChanged,
    RegistrationState,
)

T0 = dt.datetime(2026, 11, 27, 15, 0, 0)


def setup_node(db, world):
    node = world.node()
    tenant = world.tenant(node_id=node.id)
    db.add(RateEntry(tenant_id=tenant.id, prefix="1", per_minute=Decimal("0.05"), increment_seconds=60))
    db.add(RateEntry(tenant_id=tenant.id, prefix="1800", per_minute=Decimal("0"), increment_seconds=60))
    db.commit()
    alice = world.user(tenant, extension="201", first_name="Alice", last_name="A")
    bob = world.user(tenant, extension="202", first_name="Bob", last_name="B")
    return node, alice, bob


def call(cid, src="201", dst="202"):
    return PbxCall(call_id=cid, started_at=T0, state=CallState.RINGING, source_number=src,
                         destination_number=dst, source_uri=f"sip:{src}@acme.test", source_ip="10.0.0.1")


def report(uid, src_ep="201", dst_ep="202", dialed="202", status=CallStatus.ANSWERED, bill=65):
    return CallRecordReport(pbx_call_id=uid, call_id=uid, started_at=T0, answered_at=T0, ended_at=T0,
                            duration_seconds=bill + 2, billable_seconds=bill, caller_name="Alice A",
                            caller_number="201", dialed_number=dialed, source_endpoint=src_ep,
                            destination_endpoint=dst_ep, status=status)


def test_live_calls_follow_events(engine, db, world):
    node, _a, _b = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallStarted(T0, call("c1")))
    p.handle(CallStarted(T0, call("c2")))
    p.flush()
    assert db.scalar(select(func.count()).select_from(LiveCall)) == 2
    p.handle(CallAnswered(T0, "c1", destination_ip="10.0.0.2"))
    p.handle(CallEnded(T0, "c2", "normal_clearing"))
    p.flush()
    rows = db.scalars(select(LiveCall)).all()
    assert [(r.pbx_call_id, r.state, r.destination_ip) for r in rows] == [("c1", "answered", "10.0.0.2")]
    assert rows[0].tenant_id is not None


def test_short_call_between_flushes_never_written(engine, db, world):
    node, _a, _b = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallStarted(T0, call("c1")))
    p.handle(CallEnded(T0, "c1"))
    p.flush()
    assert db.scalar(select(func.count()).select_from(LiveCall)) == 0


def test_reconcile_removes_ghosts_and_adds_missing(engine, db, world):
    node, _a, _b = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallStarted(T0, call("ghost")))
    p.flush()
    # The link drops; "ghost" ends and "new" starts while nobody listens; the snapshot tells the truth.
    p.reconcile_calls([call("new")])
    p.flush()
    assert [r.pbx_call_id for r in db.scalars(select(LiveCall))] == ["new"]


def test_registrations_upserted(engine, db, world):
    node, alice, _b = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(RegistrationChanged(T0, RegistrationState("201", True, "sip:201@10.0.0.1:5060", "Yealink")))
    p.flush()
    p.handle(RegistrationChanged(T0, RegistrationState("201", False)))
    p.flush()
    rows = db.scalars(select(Registration)).all()
    assert len(rows) == 1 and rows[0].registered is False


def test_call_records_one_row_per_user_and_idempotent(engine, db, world):
    node, alice, bob = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallRecorded(T0, report("u1")))
    p.flush()
    p.handle(CallRecorded(T0, report("u1")))  # the same record again (replay, catch-up)
    p.flush()
    rows = db.scalars(select(CallRecord).order_by(CallRecord.user_id)).all()
    assert [(r.user_id, r.call_type) for r in rows] == [(alice.id, "internal"), (bob.id, "internal")]
    assert rows[0].callee == "Bob B"


def test_outgoing_call_costed_and_incoming_not(engine, db, world):
    node, alice, bob = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallRecorded(T0, report("out", dst_ep="", dialed="15145550000", bill=61)))
    p.handle(CallRecorded(T0, report("in", src_ep="", dst_ep="202", dialed="202", bill=61)))
    p.handle(CallRecorded(T0, report("free", dst_ep="", dialed="18005550000", bill=600)))
    p.flush()
    out = db.scalar(select(CallRecord).where(CallRecord.pbx_call_id == "out"))
    assert out.user_id == alice.id and out.call_type == "outgoing" and out.cost == Decimal("0.1000")
    inc = db.scalar(select(CallRecord).where(CallRecord.pbx_call_id == "in"))
    assert inc.user_id == bob.id and inc.call_type == "incoming" and inc.cost == 0
    assert db.scalar(select(CallRecord.cost).where(CallRecord.pbx_call_id == "free")) == 0


def test_cost_rounding():
    rates = [Rate("1", Decimal("0.06"), 30), Rate("1514", Decimal("0.01"), 60)]
    assert cost_of("15145550000", 1, rates) == Decimal("0.0100")
    assert cost_of("16135550000", 31, rates) == Decimal("0.0600")
    assert cost_of("33123456", 100, rates) == 0
    assert cost_of("15145550000", 0, rates) == 0


def test_events_arriving_during_a_write_are_not_lost(engine, db, world):
    node, alice, bob = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallRecorded(T0, report("u1")))
    batch = p.take()
    p.handle(CallRecorded(T0, report("u2")))  # arrives while the batch is being written elsewhere
    p.write(batch)
    assert p.pending == 1
    p.flush()
    assert sorted({r.pbx_call_id for r in db.scalars(select(CallRecord))}) == ["u1", "u2"]


def test_a_failed_write_requeues_its_batch(engine, db, world):
    node, alice, bob = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallStarted(T0, call("c1")))
    p.handle(CallRecorded(T0, report("u1")))
    real = p.sessions
    p.sessions = lambda: (_ for _ in ()).throw(ConnectionError("database down"))  # type: ignore[assignment]
    import pytest

    with pytest.raises(ConnectionError):
        p.flush()
    assert p.pending == 2
    p.sessions = real
    p.flush()
    assert db.scalar(select(func.count()).select_from(CallRecord)) == 2
    assert db.scalar(select(func.count()).select_from(LiveCall)) == 1


def test_calls_of_a_user_created_after_start_are_recorded(engine, db, world):
    node, alice, bob = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    carol = world.user(alice.tenant, extension="203", first_name="Carol", last_name="C")
    p.handle(CallRecorded(T0, report("late", src_ep="203", dst_ep="201", dialed="201")))
    p.flush()
    rows = db.scalars(select(CallRecord).where(CallRecord.pbx_call_id == "late")).all()
    assert sorted(r.user_id for r in rows) == sorted([carol.id, alice.id])


def test_queue_changes_made_on_the_pbx_become_the_users_wish(engine, db, world):
    node, alice, bob = setup_node(db, world)
    q = Queue(tenant_id=alice.tenant_id, name="support", label="Soutien")
    db.add(q)
    db.flush()
    a = QueueMembership(queue_id=q.id, user_id=alice.id, logged_in=True, sync_state=SyncState.APPLIED)
    # Bob just asked the portal to log in; the daemon has not pushed it yet.
    b = QueueMembership(queue_id=q.id, user_id=bob.id, logged_in=True, sync_state=SyncState.PENDING)
    db.add_all([a, b])
    db.commit()
    p = Projector(make_session_factory(engine), node.id)
    # A snapshot after a PBX restart lists nobody: that is not a logout anybody asked for.
    p.reconcile_queue_members([])
    p.flush()
    db.expire_all()
    assert db.get(QueueMembership, a.id).logged_in is True
    # Live events: Alice pauses from her phone, Bob's (older) logout arrives while his login is pending.
    alice_member = QueueMember("cpbx-acme-support", "Local/201@cpbx-acme-leg/n", paused=True, pause_reason="Lunch")
    p.handle(QueueMemberChanged(at=T0, member=alice_member))
    p.handle(QueueMemberChanged(at=T0, member=QueueMember("cpbx-acme-support", "Local/202@cpbx-acme-leg/n"),
                                removed=True))
    # A member the portal does not know (another system's queue) is ignored.
    p.handle(QueueMemberChanged(at=T0, member=QueueMember("sales", "PJSIP/999")))
    p.flush()
    db.expire_all()
    row = db.get(QueueMembership, a.id)
    assert (row.logged_in, row.paused, row.pause_reason) == (True, True, "Lunch")
    assert db.get(QueueMembership, b.id).logged_in is True
    # Alice logs out from the phone (*46).
    p.handle(QueueMemberChanged(at=T0, member=alice_member, removed=True))
    p.flush()
    db.expire_all()
    row = db.get(QueueMembership, a.id)
    assert (row.logged_in, row.paused, row.pause_reason) == (False, False, "")
