"""A user waiting for the organiser (ConfBridge wait_marked, "Attendre l'arrivée de l'administrateur") is
listed by ConfbridgeList with ``Waiting: Yes`` and is heard by nobody: the adapter reports it muted until
the admin comes (the real Asterisk 22 of tests/real/test_conference_options.py; before, the portal showed
a waiting user as speaking)."""

from __future__ import annotations

from clusterpbx.sim.runner import SimPBX

from .test_operations_sim import Pair


def test_a_user_waiting_for_the_admin_is_muted_until_the_admin_joins(adapter: Pair, sim: SimPBX) -> None:
    b, _events = adapter
    sim.call_soon(lambda: sim.model.conference_call("102", "500", wait_marked=True))
    assert [(p.caller_number, p.muted) for p in b.call(b.adapter.conference_participants, "500")] == [("102", True)]
    sim.call_soon(lambda: sim.model.conference_call("105", "500", admin=True))
    people = {p.caller_number: (p.admin, p.muted) for p in b.call(b.adapter.conference_participants, "500")}
    assert people == {"102": (False, False), "105": (True, False)}
