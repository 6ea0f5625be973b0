"""The projector's per-batch database work stays proportional to what is new (issue 24): an outside number
is looked up once, not at every batch; a queue member status that repeats what was already adopted costs
no query; a user created later is still found."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select

from clusterpbx.control.daemon.projection import Projector
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallRecord, Queue, QueueMembership, SyncState
from clusterpbx.control.port import (
    CallRecorded,
    CallRecordReport,
    CallStatus,
    QueueMember,
    QueueMemberChanged,
)

T0 = dt.datetime(2026, 11, 27, 15, 0, 0)


def setup_node(db, world):
    node = world.node()
    tenant = world.tenant(node_id=node.id)
    alice = world.user(tenant, extension="201", first_name="Alice", last_name="A")
    return node, alice


def outgoing(uid: str, dialed: str) -> CallRecordReport:
    return CallRecordReport(pbx_call_id=uid, call_id=uid, started_at=T0, answered_at=T0, ended_at=T0,
                            duration_seconds=12, billable_seconds=10, caller_name="Alice A", caller_number="201",
                            dialed_number=dialed, source_endpoint="201", destination_endpoint="",
                            status=CallStatus.ANSWERED)


class Statements:
    """SELECTs on these tables, counted on the engine."""

    def __init__(self, engine, request, *tables: str):
        self.seen: list[str] = []
        self.tables = tables
        event.listen(engine, "before_cursor_execute", self._on)
        # The engine may outlive the test (tests/conftest.py shares PostgreSQL engines): stop counting.
        request.addfinalizer(lambda: event.remove(engine, "before_cursor_execute", self._on))

    def _on(self, conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and any(t in statement for t in self.tables):
            self.seen.append(statement)

    def take(self) -> int:
        n, self.seen = len(self.seen), []
        return n


def test_an_outside_number_is_looked_up_once_not_at_every_batch(engine, db, world, request):
    node, alice = setup_node(db, world)
    p = Projector(make_session_factory(engine), node.id)
    selects = Statements(engine, request, "extensions")
    p.handle(CallRecorded(T0, outgoing("o1", "5550")))
    p.flush()
    assert selects.take() == 1  # the first time: is it one of ours?
    for i in range(2, 6):
        p.handle(CallRecorded(T0, outgoing(f"o{i}", "5550")))
        p.flush()
    assert selects.take() == 0  # known to be nobody's for NOT_FOUND_SECONDS
    assert len(db.scalars(select(CallRecord).where(CallRecord.user_id == alice.id)).all()) == 5
    # A user who gets that number afterwards is found once the look-up is due again.
    bob = world.user(alice.tenant, extension="5550", first_name="Bob", last_name="B")
    selects.take()
    p._not_found = {k: 0.0 for k in p._not_found}  # NOT_FOUND_SECONDS later
    p.handle(CallRecorded(T0, outgoing("o9", "5550")))
    p.flush()
    assert selects.take() == 1
    assert db.scalars(select(CallRecord.user_id).where(CallRecord.pbx_call_id == "o9")).all() != []
    assert bob.id in db.scalars(select(CallRecord.user_id).where(CallRecord.pbx_call_id == "o9")).all()


def test_a_repeated_member_status_is_not_adopted_again(engine, db, world, request):
    node, alice = setup_node(db, world)
    q = Queue(tenant_id=alice.tenant_id, name="support", label="Soutien")
    db.add(q)
    db.flush()
    m = QueueMembership(queue_id=q.id, user_id=alice.id, logged_in=True, sync_state=SyncState.APPLIED)
    db.add(m)
    db.commit()
    p = Projector(make_session_factory(engine), node.id)
    selects = Statements(engine, request, "queue_memberships")
    member = QueueMember("cpbx-acme-support", "Local/201@cpbx-acme-leg/n", in_call=True)
    p.handle(QueueMemberChanged(at=T0, member=member))
    p.flush()
    assert selects.take() > 0
    for _ in range(5):  # one status per call the agent takes: nothing the portal keeps changed
        p.handle(QueueMemberChanged(at=T0, member=member))
        p.flush()
    assert selects.take() == 0
    # A pause from the phone is new: adopted.
    paused = QueueMember(member.queue, member.interface, paused=True, pause_reason="Lunch")
    p.handle(QueueMemberChanged(at=T0, member=paused))
    p.flush()
    assert selects.take() > 0
    db.expire_all()
    row = db.get(QueueMembership, m.id)
    assert (row.logged_in, row.paused, row.pause_reason) == (True, True, "Lunch")
    # After a reconnect's snapshot, the next live change is adopted again even if it repeats.
    p.reconcile_queue_members([])
    p.handle(QueueMemberChanged(at=T0, member=paused))
    p.flush()
    assert selects.take() > 0
