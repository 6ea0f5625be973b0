"""An unanswered call that ends in voicemail, through the FreeSWITCH adapter on the sim: "no answer", as the
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
