"""FreeSWITCH records of calls that do not simply ring and answer, through the FreeSWITCH adapter on the sim.

An unanswered call that ends in voicemail: "no answer", as the
real FreeSWITCH records it (DIALSTATUS NOANSWER on the caller's leg, tests/esl_cdr/real/no_answer_voicemail);
the sim used to record it answered (voicemail answers the caller's leg)."""

from __future__ import annotations

from clusterpbx.control.port import CallRecorded, CallStatus, PbxEvent
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim.runner import SimPBX

from .conftest import eventually
from .test_operations import with_adapter


def test_a_call_that_ends_in_voicemail_is_recorded_unanswered(sim: SimPBX) -> None:
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        call = sim.call_soon(sim.model.place_call, "1000", "1001", False)
        assert call.voicemail is not None  # 1001 has a box: the caller left a message
        assert await eventually(lambda: any(isinstance(e, CallRecorded) for e in events))
        (record,) = [e.record for e in events if isinstance(e, CallRecorded)]
        assert (record.pbx_call_id, record.status, record.dialed_number) == (
            call.caller.uuid, CallStatus.NO_ANSWER, "1001")

    with_adapter(sim, scenario)


def test_dnd_is_busy_and_a_forward_names_its_target(sim: SimPBX) -> None:
    """As the real FreeSWITCH records them (tests/esl_cdr/real/dnd, forward_always): a call to a user in DND
    is busy (the sim said answered: voicemail answers), a forwarded call names the target who answered (the
    sim named the forwarding user)."""
    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        sim.call_soon(sim.model.db_put, "DND", sim.call_soon(sim.model._feature_key, "1002"), "YES")
        dnd = sim.call_soon(sim.model.place_call, "1000", "1002", True)
        sim.call_soon(sim.model.db_put, "CF", sim.call_soon(sim.model._feature_key, "1003"), "1004")
        forwarded = sim.call_soon(sim.model.place_call, "1000", "1003", True)
        assert await eventually(lambda: len([e for e in events if isinstance(e, CallRecorded)]) == 2)
        records = {e.record.pbx_call_id: e.record for e in events if isinstance(e, CallRecorded)}
        busy, answered = records[dnd.caller.uuid], records[forwarded.caller.uuid]
        assert (busy.status, busy.dialed_number) == (CallStatus.BUSY, "1002")
        assert (answered.status, answered.dialed_number, answered.destination_endpoint) == (
            CallStatus.ANSWERED, "1003", "1004")

    with_adapter(sim, scenario)
