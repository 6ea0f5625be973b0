"""The legs a real FreeSWITCH 1.10.12 wrote for an attended transfer made by phones, replayed through
esl/json_cdr.py (issue 19: transfers; every answered leg a user took part in is a record of that user's).

tests/esl_cdr/real/attended_transfer_refer/ holds the four mod_json_cdr documents of one run of
tests/real/test_freeswitch_attended_transfer.py on the lab build (users u201..u203 of domain calls.lab.test,
the dialplan dialplan/ generates): 201 calls 202, 202's phone answers, talks, calls 203 on a second line, 203
answers, 202 sends REFER in its first dialog with Refer-To: <203?Replaces=<the 202-203 dialog>>;
FreeSWITCH joins 201 and 203 (uuid_bridge) and hangs up 202's two legs; 201 hangs up about 10 s later.
The real test runs the same checks on the legs of its own run (`CPBX_REAL_SAVE_LEGS=1` refreshes the folder).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.esl.json_cdr import handed_on, report_from_body
from tests.esl_cdr.test_real_blind_transfer import _variables
from tests.esl_cdr.test_transfer_legs import live

LEGS = Path(__file__).resolve().parent / "real" / "attended_transfer_refer"
USERS = {"201": 21, "202": 22, "203": 23}
DIRECTORY = Directory({key: (1, uid, f"User {ext}") for ext, uid in USERS.items() for key in (ext, f"u{ext}")},
                      {1: []}, 1)


def check_attended_transfer_legs(bodies: Mapping[str, bytes]) -> None:
    docs = [json.loads(b) for b in bodies.values()]
    assert len(docs) == 4, len(docs)
    legs: dict[str, dict[str, Any]] = {}
    for doc in docs:
        v = _variables(doc)
        kind = "call" if not v.get("originator") else "dialled"
        legs[f"{kind}-{v['channel_name'].split('/')[2].split('@')[0]}"] = doc
    assert sorted(legs) == ["call-u201", "call-u202", "dialled-u202", "dialled-u203"], sorted(legs)
    a, b1, b2, c = (_variables(legs[k]) for k in ("call-u201", "dialled-u202", "call-u202", "dialled-u203"))
    # FreeSWITCH's own words: the leg that received the REFER stays ANSWER / NORMAL_CLEARING and is marked
    # recv_replace; ATTENDED_TRANSFER is on 202's consultation leg; 201's and 203's legs are uuid-bridged.
    assert (b1["endpoint_disposition"], b1["hangup_cause"], b1["transfer_disposition"]) == (
        "ANSWER", "NORMAL_CLEARING", "recv_replace")
    assert b1["transfer_to"] == f"att:{c['uuid']}" and b1["originator"] == a["uuid"]
    assert b2["endpoint_disposition"] == "ATTENDED_TRANSFER" and c["originator"] == b2["uuid"]
    assert f":uuid_br:{a['uuid']}" in c["transfer_source"] and f":uuid_br:{c['uuid']}" in a["transfer_source"]
    assert handed_on(b1)

    reports = {}
    for body in bodies.values():
        report = report_from_body(body)
        assert live(json.loads(body)) == report, "the live event and the posted leg must give the same record"
        reports[_variables(json.loads(body))["uuid"]] = report
    rows = [row for r in reports.values() if r is not None for row in rows_for(r, 1, DIRECTORY)]
    by_user = {ext: {row["pbx_call_id"]: row for row in rows if row["user_id"] == uid} for ext, uid in USERS.items()}
    # 201: the call it placed, answered, ending with 203 (its leg's whole time)
    assert set(by_user["201"]) == {a["uuid"]}
    caller = by_user["201"][a["uuid"]]
    assert (caller["status"], caller["callee"], caller["billable_seconds"]) == ("answered", "User 203", int(a["billsec"]))
    # 202: its own answered talk with 201 until the transfer (it had no record of it before), and its
    # consultation call to 203
    assert set(by_user["202"]) == {b1["uuid"], b2["uuid"]}, by_user["202"]
    talk = by_user["202"][b1["uuid"]]
    assert (talk["status"], talk["caller_number"], talk["dialed_number"], talk["callee"]) == (
        "answered", "201", "202", "User 202")
    assert talk["billable_seconds"] == int(b1["billsec"]) > 0
    consult = by_user["202"][b2["uuid"]]
    assert (consult["status"], consult["call_type"], consult["caller_number"], consult["callee"]) == (
        "answered", "internal", "202", "User 203")
    # 203: 202's consultation call and 201's call from the transfer on (201's record names 203)
    assert set(by_user["203"]) == {a["uuid"], b2["uuid"]}, by_user["203"]
    assert all(row["status"] == "answered" for row in by_user["203"].values())


def test_real_freeswitch_attended_transfer_legs_replayed():
    files = sorted(LEGS.glob("*.cdr.json"))
    check_attended_transfer_legs({f.name: f.read_bytes() for f in files})
