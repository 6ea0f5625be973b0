"""The legs a real FreeSWITCH 1.10.12 wrote for a click-to-call, replayed through esl/json_cdr.py (issue 19
items 3 and 4: the record of a click-to-call said "Outbound Call" and only the callee got it).

tests/esl_cdr/real/click_to_call/ holds the two mod_json_cdr documents of one run of
tests/real/test_click_to_call.py on the lab build: the tenant dialplan/ generates (users u201, u203 of
domain both.lab.test, context cpbx-both); the adapter originated
``{origination_caller_id_name='Dubé Chloé',origination_caller_id_number=203,cpbx_click_to_call=u201}
user/u201@both.lab.test 203 XML cpbx-both``; 201's phone answered, 203's phone rang and answered.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.esl.json_cdr import CLICK_TO_CALL, report_from_body
from tests.esl_cdr.test_transfer_legs import live

LEGS = Path(__file__).resolve().parent / "real" / "click_to_call"
USERS = {"201": (11, "Ana Lima"), "203": (13, "Chloé Dubé")}
DIRECTORY = Directory({key: (1, uid, name) for ext, (uid, name) in USERS.items() for key in (ext, f"u{ext}")},
                      {1: []}, 1, tenant_by_context={"cpbx-both": 1}, tenant_by_domain={"both.lab.test": 1})


def test_the_first_leg_of_a_click_to_call_is_the_users_call_to_the_callee():
    docs = [json.loads(f.read_bytes()) for f in sorted(LEGS.glob("*.cdr.json"))]
    assert len(docs) == 2
    first = next(d for d in docs if not d["variables"].get("originator"))
    variables = {k: unquote(str(v)) for k, v in first["variables"].items()}
    # what FreeSWITCH wrote: the leg entered the dialplan as the originate's callee ("Outbound Call" <u201>)
    assert first["callflow"][0]["caller_profile"]["caller_id_name"] == "Outbound Call"
    assert variables[CLICK_TO_CALL] == "u201" and variables["direction"] == "outbound"
    reports = [r for d in docs if (r := report_from_body(json.dumps(d).encode())) is not None]
    assert len(reports) == 1  # the callee's leg is covered by the first leg's record
    report = reports[0]
    assert live(first) == report  # the live event gives the same record
    assert (report.source_endpoint, report.caller_name, report.caller_number, report.dialed_number,
            report.status.value) == ("u201", "Ana Lima", "201", "203", "answered")
    rows = rows_for(report, 1, DIRECTORY)
    assert sorted((row["user_id"], row["call_type"]) for row in rows) == [(11, "internal"), (13, "internal")]


def test_without_the_click_to_call_variable_an_outbound_first_leg_names_no_user():
    """The variable only comes from the adapter: the same leg without it stays the callee's alone (what
    every click-to-call record was before), so nothing else an outbound leg carries makes someone a caller."""
    first = next(json.loads(f.read_bytes()) for f in sorted(LEGS.glob("*.cdr.json"))
                 if not json.loads(f.read_bytes())["variables"].get("originator"))
    del first["variables"][CLICK_TO_CALL]
    report = report_from_body(json.dumps(first).encode())
    assert report is not None and report.source_endpoint == ""
    assert [row["user_id"] for row in rows_for(report, 1, DIRECTORY)] == [13]
