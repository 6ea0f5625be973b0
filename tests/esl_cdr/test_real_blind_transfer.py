"""The legs a real FreeSWITCH 1.10.12 wrote for a blind transfer made by a phone, replayed through
esl/json_cdr.py (issue 22 item 7: every answered leg a user took part in is a record of that user's).

tests/esl_cdr/real/blind_transfer_refer/ holds the three mod_json_cdr documents (error-folder files) of one
run of tests/real/test_freeswitch_transfer.py on the lab build: the tenant dialplan/ generates (users
u1000..u1002 of domain xfer.lab.test, context cpbx-xfer), 1000 calls 1001, 1001's phone (SIPp) answers,
talks 3 s and sends REFER (Refer-To: 1002), FreeSWITCH sends the 202 and a NOTIFY "SIP/2.0 200 OK" and
hangs 1001's leg up; 1002 answers, 1000 hangs up about 6 s later. The real test runs the same checks on the
legs of its own run (`CPBX_REAL_SAVE_LEGS=1` refreshes this folder).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.esl.json_cdr import handed_on, report_from_body
from tests.esl_cdr.test_transfer_legs import live

LEGS = Path(__file__).resolve().parent / "real" / "blind_transfer_refer"
USERS = {"1000": 10, "1001": 11, "1002": 12}
# As Directory.load gives it: a user is found by SIP username (what FreeSWITCH names) or by number.
DIRECTORY = Directory({key: (1, uid, f"User {ext}") for ext, uid in USERS.items() for key in (ext, f"u{ext}")},
                      {1: []}, 1)


def _variables(doc: Mapping[str, Any]) -> dict[str, str]:
    return {k: unquote(str(v)) for k, v in doc["variables"].items()}


def check_blind_transfer_legs(bodies: Mapping[str, bytes]) -> None:
    """What FreeSWITCH wrote for the REFER blind transfer 1000 -> 1001 -> 1002, and the records json_cdr.py
    (the function the /cdr/freeswitch endpoint calls) makes of it."""
    docs = [json.loads(b) for b in bodies.values()]
    by_leg: dict[str, dict[str, Any]] = {}
    for doc in docs:
        v = _variables(doc)
        by_leg["caller" if not v.get("originator") else v.get("dialed_user", "")] = doc
    assert sorted(by_leg) == ["caller", "u1001", "u1002"], sorted(by_leg)
    a, b, c = (_variables(by_leg[k]) for k in ("caller", "u1001", "u1002"))
    assert b["originator"] == c["originator"] == a["uuid"]

    # FreeSWITCH's own words, as ../shared/notes/real-pbx-lab.md says: DIALSTATUS SUCCESS on the caller's leg,
    # and after the transfer callflow[0] is the newest profile (the one that dialled 1002).
    assert a["DIALSTATUS"] == "SUCCESS"
    flow = by_leg["caller"]["callflow"]
    assert [f["caller_profile"]["destination_number"] for f in flow] == ["1002", "1001"]
    assert [f["profile_index"] for f in flow] == ["2", "1"]
    assert ":bl_xfer:1002/cpbx-xfer/XML" in a["transfer_source"]
    assert a["dialed_user"] == "u1002"
    # The leg that sent the REFER: marked by mod_sofia, hung up by FreeSWITCH (NORMAL_CLEARING, not the
    # BLIND_TRANSFER cause of a transfer by the dialplan).
    assert (b["endpoint_disposition"], b["transfer_destination"]) == ("BLIND_TRANSFER", "blind:1002")
    assert handed_on(b)
    assert c["endpoint_disposition"] == "ANSWER" and "transfer_source" not in c

    reports = {}
    for body in bodies.values():
        report = report_from_body(body)
        assert live(json.loads(body)) == report, "the live event and the posted leg must give the same record"
        reports[_variables(json.loads(body))["uuid"]] = report
    assert reports[c["uuid"]] is None  # the transfer target's leg: the caller's record covers it
    rows = [row for r in reports.values() if r is not None for row in rows_for(r, 1, DIRECTORY)]
    by_user = {ext: [r for r in rows if r["user_id"] == uid] for ext, uid in USERS.items()}

    (caller,) = by_user["1000"]  # the call 1000 placed, to its end, with whom it ended
    assert (caller["pbx_call_id"], caller["status"], caller["call_type"], caller["callee"]) == (
        a["uuid"], "answered", "internal", "User 1002")
    assert (caller["duration_seconds"], caller["billable_seconds"]) == (int(a["duration"]), int(a["billsec"]))

    (transferor,) = by_user["1001"]  # 1001's own answered leg, with its own talk time
    assert (transferor["pbx_call_id"], transferor["status"], transferor["call_type"]) == (
        b["uuid"], "answered", "incoming")
    assert (transferor["duration_seconds"], transferor["billable_seconds"]) == (int(b["duration"]), int(b["billsec"]))
    assert 0 < transferor["billable_seconds"] < caller["billable_seconds"]
    # the number 1000 dialled, not the SIP username user/ dialled (u1001)
    assert (transferor["caller_number"], transferor["dialed_number"], transferor["callee"]) == ("1000", "1001", "User 1001")

    (target,) = by_user["1002"]  # the caller's record, which names 1002
    assert (target["pbx_call_id"], target["status"]) == (a["uuid"], "answered")


def test_real_freeswitch_blind_transfer_legs_replayed():
    files = sorted(LEGS.glob("*.cdr.json"))
    assert len(files) == 3
    check_blind_transfer_legs({f.name: f.read_bytes() for f in files})
