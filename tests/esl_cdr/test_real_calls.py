"""The legs a real FreeSWITCH 1.10.12 wrote for calls that were busy, unanswered, sent to voicemail,
forwarded or followed (follow-me), replayed through esl/json_cdr.py and control/callrecords.rows_for
(issue 19 item 3).

Each folder of tests/esl_cdr/real/ holds the mod_json_cdr documents (error-folder files) of one call of
tests/real/test_freeswitch_calls.py on the lab build, with the tenant dialplan/ generates (users
u201..u204 of domain calls.lab.test, context cpbx-calls, 202 with a voicemail box) and the mod_db keys
the daemon writes for the case. The real test runs the same checks on the legs of its own run
(`CPBX_REAL_SAVE_LEGS=1` refreshes the folders).

What FreeSWITCH wrote that the records got wrong: a call that ended in voicemail has the dialplan's own
destinations (cpbx-noanswer, cpbx-busy, cpbx-after-<cause>) as its newest profile; a call a forward or
follow-me target answered is bridged to loopback/<target>-a (the target's own leg hangs off loopback-b);
the caller's profile carries the display name the phone put in its From header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.control.port import CallRecordReport
from clusterpbx.esl.json_cdr import report_from_body
from tests.esl_cdr.test_transfer_legs import live

REAL = Path(__file__).resolve().parent / "real"
USERS = {"201": 21, "202": 22, "203": 23, "204": 24}
SPOOFED = "Mamadou Koné (spoof)"
# As Directory.load gives it: SIP usernames as endpoints, numbers within the tenant (context or domain).
DIRECTORY = Directory(
    {f"u{ext}": (1, uid, f"User {ext}") for ext, uid in USERS.items()}, {1: []}, 1,
    {ext: {1: (1, uid, f"User {ext}")} for ext, uid in USERS.items()},
    {"cpbx-calls": 1, "cpbx-calls-leg": 1}, {"calls.lab.test": 1})

# case -> (the caller, what the caller's record says: status, number dialled, the user it names, and the
# users who get it with their status)
CASES: dict[str, tuple[str, str, str, str, dict[str, str]]] = {
    "answered_spoofed_name": ("201", "answered", "202", "User 202", {"201": "answered", "202": "answered"}),
    "no_answer_voicemail": ("201", "no_answer", "202", "User 202", {"201": "no_answer", "202": "no_answer"}),
    "busy_voicemail": ("201", "busy", "202", "User 202", {"201": "busy", "202": "busy"}),
    "dnd": ("201", "busy", "202", "User 202", {"201": "busy", "202": "busy"}),
    "call_waiting_off": ("203", "busy", "202", "User 202", {"203": "busy", "202": "busy"}),
    "forward_always": ("201", "answered", "202", "User 203", {"201": "answered", "203": "answered"}),
    "forward_busy": ("201", "answered", "202", "User 203", {"201": "answered", "203": "answered"}),
    "forward_no_answer": ("201", "answered", "202", "User 203", {"201": "answered", "203": "answered"}),
    "followme": ("201", "answered", "202", "User 203", {"201": "answered", "203": "answered"}),
    "followme_confirm": ("201", "answered", "202", "User 203", {"201": "answered", "203": "answered"}),
}


def variables(doc: Mapping[str, Any]) -> dict[str, str]:
    return {k: unquote(str(v)) for k, v in doc["variables"].items()}


def reports(bodies: Mapping[str, bytes]) -> dict[str, CallRecordReport]:
    """The records of the legs by leg uuid; the live event of each leg gives the same."""
    out = {}
    for body in bodies.values():
        doc = json.loads(body)
        report = report_from_body(body)
        assert live(doc) == report, "the live event and the posted leg must give the same record"
        if report is not None:
            out[variables(doc)["uuid"]] = report
    return out


def phone_leg(bodies: Mapping[str, bytes], caller: str) -> dict[str, str]:
    """The variables of the leg of `caller`'s phone (the leg that placed the call)."""
    found = [variables(json.loads(b)) for b in bodies.values()]
    (leg,) = [v for v in found if not v.get("originator") and v.get("channel_name", "").startswith(f"sofia/internal/u{caller}@")]
    return leg


def check_call(case: str, bodies: Mapping[str, bytes]) -> None:
    caller, status, dialled, callee, users = CASES[case]
    a = phone_leg(bodies, caller)
    by_uuid = reports(bodies)
    report = by_uuid[a["uuid"]]
    rows = [row for row in rows_for(report, 1, DIRECTORY)]
    got = {ext: row["status"] for row in rows for ext, uid in USERS.items() if row["user_id"] == uid}
    assert got == users, (case, got, report)
    row = rows[0]
    assert (row["status"], row["dialed_number"], row["callee"]) == (status, dialled, callee), (case, row)
    # the caller as the directory names them (effective_caller_id_*), not as their phone's From says
    assert (row["caller_name"], row["caller_number"]) == (f"User {caller}", caller), (case, row)
    # Only the phones' own calls are records: not the rung phone's leg, the loopback halves or the
    # target's leg (the caller's record names the target).
    callers = {v["uuid"] for v in map(variables, map(json.loads, bodies.values()))
               if not v.get("originator") and v.get("channel_name", "").startswith("sofia/")}
    assert set(by_uuid) == callers, (case, sorted(r.dialed_number for r in by_uuid.values()))


def check_real_legs(case: str, bodies: Mapping[str, bytes]) -> None:
    """FreeSWITCH's own words for the case (what the records are read from), then the records."""
    caller = CASES[case][0]
    a = phone_leg(bodies, caller)
    doc = next(json.loads(b) for b in bodies.values() if variables(json.loads(b))["uuid"] == a["uuid"])
    flow = doc["callflow"] if isinstance(doc["callflow"], list) else [doc["callflow"]]
    newest = flow[0]["caller_profile"]
    if case == "answered_spoofed_name":
        assert newest["caller_id_name"] == SPOOFED and a["effective_caller_id_name"] == "User 201"
    if case == "no_answer_voicemail":
        assert (a["DIALSTATUS"], newest["destination_number"]) == ("NOANSWER", "cpbx-noanswer")
    if case == "busy_voicemail":
        assert (a["DIALSTATUS"], newest["destination_number"]) == ("BUSY", "cpbx-busy")
    if case in ("dnd", "call_waiting_off"):  # no phone dialled
        assert ("DIALSTATUS" not in a, newest["destination_number"]) == (True, "cpbx-busy")
    if case.startswith(("forward", "followme")):
        assert (a["DIALSTATUS"], a["bridge_channel"]) == ("SUCCESS", "loopback/203-a")
    check_call(case, bodies)


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_freeswitch_call_legs_replayed(case: str) -> None:
    files = sorted((REAL / case).glob("*.cdr.json"))
    assert files, f"no legs in {REAL / case}"
    check_real_legs(case, {f.name: f.read_bytes() for f in files})
