"""A room still waiting for its moderator (mod_conference's wait-mod, "Attendre l'arrivée de
l'administrateur") mixes none of its other members: the adapter reports them muted until the moderator
joins (the real FreeSWITCH 1.10 of tests/real/test_conference_options.py; before, the portal showed a
waiting user as speaking: ``can_speak`` stays true)."""

from __future__ import annotations

from clusterpbx.control.port import PbxEvent
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim.runner import SimPBX

from .test_operations import with_adapter


def test_a_user_waiting_for_the_moderator_is_muted_until_the_moderator_joins(sim: SimPBX) -> None:
    room = "3000-127.0.0.1"
    seen: dict[str, object] = {}

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        sim.call_soon(lambda: sim.model.conference_call("1000", room, wait_marked=True))
        seen["alone"] = [(p.caller_number, p.muted) for p in await a.conference_participants(room)]
        sim.call_soon(lambda: sim.model.conference_call("1001", room, admin=True))
        seen["both"] = [(p.caller_number, p.admin, p.muted) for p in await a.conference_participants(room)]

    with_adapter(sim, scenario)
    assert seen["alone"] == [("1000", True)]
    assert seen["both"] == [("1000", False, False), ("1001", True, False)]
