"""Every answered leg a user took part in is a call record of theirs, on both PBXs (issue 22 item 7).

The same blind transfer runs on the sim of each PBX (sim/transfer.py leaves the records each real PBX
leaves), through the real adapter over its socket; the reports it delivers are attributed to users by
the projection's own code (callrecords.rows_for), as the daemon stores them.
"""

from __future__ import annotations

import asyncio

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.control.port import CallEnded, CallRecorded, PbxPort
from clusterpbx.sim.transfer import blind_transfer, pickup
from tests.port.test_port_contract import Harness, pbx  # noqa: F401  (the two-PBX fixture)

TENANT = 1


def _directory(h: Harness) -> tuple[Directory, dict[str, int]]:
    users = {h.caller: 11, h.callee: 12, h.other: 13}
    return Directory({ep: (TENANT, uid, f"User {ep}") for ep, uid in users.items()}, {TENANT: []}, TENANT), users


def test_blind_transfer_leaves_a_record_for_caller_transferor_and_target(pbx: Harness) -> None:  # noqa: F811
    """1000 calls 1001, 1001 answers, talks 30 s and blind-transfers to 1002, who answers."""
    directory, users = _directory(pbx)
    model = pbx.sim.model

    async def scenario(port: PbxPort) -> None:
        def call_and_transfer():  # type: ignore[no-untyped-def]
            call = model.start_call(pbx.caller, pbx.callee)
            call.ring()
            call.answer()
            call.backdate(2, 30)  # rang 2 s, then 30 s of talk before the transfer
            return blind_transfer(model, call, pbx.other)

        leg = pbx.sim.call_soon(call_and_transfer)
        pbx.sim.call_soon(leg.hangup)
        await pbx.wait(lambda: bool(pbx.of(CallEnded)) and bool(pbx.of(CallRecorded)))
        await asyncio.sleep(0.5)  # the other legs' records, whichever order they come in

    pbx.run(scenario)
    reports = [e.record for e in pbx.of(CallRecorded)]
    rows = [row for rep in reports for row in rows_for(rep, 1, directory)]
    keys = [(row["pbx_call_id"], row["user_id"]) for row in rows]
    assert len(keys) == len(set(keys)), "a record given twice to the same user"

    def answered(endpoint: str) -> list[dict[str, object]]:
        return [r for r in rows if r["user_id"] == users[endpoint] and r["status"] == "answered"]

    # the transferor's own leg: answered, with its talk time, the caller named
    (mine,) = answered(pbx.callee)
    assert mine["billable_seconds"] == 30
    # the number the caller dialled on both PBXs (a phone's REFER on Asterisk 22.10.1 keeps it as the dst of
    # both CDRs: tests/real/test_asterisk_transfer.py; the sim wrote the new extension, 1002)
    assert mine["caller_number"] == pbx.caller and mine["callee"] == f"User {pbx.callee}"
    assert mine["dialed_number"] == pbx.callee
    assert mine["call_type"] in ("incoming", "internal")
    # the transfer target: answered, from the caller
    (target,) = answered(pbx.other)
    assert target["caller_number"] == pbx.caller and target["call_type"] in ("incoming", "internal")
    # the caller: the call they placed, ending with the target
    mine_caller = answered(pbx.caller)
    assert mine_caller and all(r["call_type"] in ("outgoing", "internal") for r in mine_caller)
    assert any(r["callee"] == f"User {pbx.other}" for r in mine_caller)


def test_call_picked_up_by_another_phone(pbx: Harness) -> None:  # noqa: F811
    """1000 calls 1001, which rings; 1003 picks the call up and talks 20 s. The picker and the caller have
    an answered record naming each other; the rung user a "no answer" one; nobody an answered one twice."""
    directory, users = _directory(pbx)
    model = pbx.sim.model

    async def scenario(port: PbxPort) -> None:
        def call_and_pick_up():  # type: ignore[no-untyped-def]
            call = model.start_call(pbx.caller, pbx.callee)
            call.ring()
            leg = pickup(model, call, pbx.other)
            leg.backdate(0, 20)
            return leg

        leg = pbx.sim.call_soon(call_and_pick_up)
        # the picker hangs up (the sim's FreeSWITCH names a leg's other leg only while that one exists)
        pbx.sim.call_soon(leg.hangup, 16, "callee")
        await pbx.wait(lambda: bool(pbx.of(CallRecorded)))
        await asyncio.sleep(0.5)

    pbx.run(scenario)
    rows = [row for e in pbx.of(CallRecorded) for row in rows_for(e.record, 1, directory)]
    keys = [(row["pbx_call_id"], row["user_id"]) for row in rows]
    assert len(keys) == len(set(keys)), "a record given twice to the same user"

    def mine(endpoint: str, status: str) -> list[dict[str, object]]:
        return [r for r in rows if r["user_id"] == users[endpoint] and r["status"] == status]

    (picker,) = mine(pbx.other, "answered")
    assert picker["caller_number"] == pbx.caller and picker["billable_seconds"] == 20
    assert not [r for r in rows if r["user_id"] == users[pbx.other] and r["status"] != "answered"]
    (caller,) = mine(pbx.caller, "answered")
    assert caller["callee"] == f"User {pbx.other}" and caller["billable_seconds"] == 20
    assert mine(pbx.callee, "no_answer") and not mine(pbx.callee, "answered")
