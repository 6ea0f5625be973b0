"""Transfers and pickups on FreeSWITCH: every answered leg a user took part in is a record of theirs.

The documents are the legs mod_json_cdr posted for a real answered call 1000 -> 1001 (recorded from
FreeSWITCH 1.10.12, ../shared/fixtures/freeswitch/json_cdr/), changed the way FreeSWITCH changes a leg
when it is transferred (FreeSWITCH 1.10 sources):

* blind transfer (mod_sofia sofia_handle_sip_i_refer, switch_ivr_session_transfer): the leg that sent
  the REFER gets ``endpoint_disposition=BLIND_TRANSFER``, ``transfer_to``, ``transfer_destination`` and is
  hung up with cause BLIND_TRANSFER; the other leg gets a new caller profile (callflow[0], the newest),
  ``transfer_source``/``transfer_history`` ``<epoch>:<uuid>:bl_xfer:<ext>/<context>/XML`` and dials the
  target (``user/`` sets its ``dialed_user``);
* attended transfer (REFER with Replaces): both legs of the transferor get ATTENDED_TRANSFER, the two
  remaining legs are joined by switch_ivr_uuid_bridge(first, second), which steps both profiles, gives
  ``transfer_source`` ``<epoch>:<uuid>:uuid_br:<other uuid>`` and nests the other leg's profile in the
  newest one (``originatee`` on the first leg, ``originator`` on the second);
* pickup (a BLF INVITE with Replaces or the ``intercept`` app): switch_ivr_intercept_session answers the
  caller's ringing leg, hangs up the rung leg with PICKED_OFF and uuid-bridges the picker's leg (first)
  with the caller's (second).
"""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.control.daemon.projection import Projector
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallRecord, NodeKind, PbxNode
from clusterpbx.control.port import CallRecorded, CallRecordReport, CallStatus
from clusterpbx.esl.json_cdr import read_error_dir, report_from_document
from clusterpbx.esl.translate import record_from_variables
from tests.components import shared_fixtures

BODIES = shared_fixtures() / "freeswitch" / "json_cdr" / "json_cdr_bodies"
A_LEG = json.loads((BODIES / "req02_4348e863-4453-450c-8c01-561313f1bc73.json").read_text())
B_LEG = json.loads((BODIES / "req01_e07830e8-0336-4e05-b285-6db6b4e08b21.json").read_text())
T0 = 1795799576  # the recorded call's start
USERS = {"1000": 10, "1001": 11, "1002": 12, "1003": 13}
DIRECTORY = Directory({ext: (1, uid, f"User {ext}") for ext, uid in USERS.items()}, {1: []}, 1)


def _profile(caller: str, dest: str, uuid: str, chan: str, other: tuple[str, dict[str, str]] | None = None,
             index: int = 1) -> dict[str, Any]:
    cp: dict[str, Any] = {"username": caller, "dialplan": "XML", "caller_id_name": caller, "ani": caller,
                          "caller_id_number": caller, "destination_number": dest, "uuid": uuid,
                          "source": "mod_sofia", "context": "default", "chan_name": chan}
    if other is not None:
        kind, prof = other
        cp[kind] = {f"{kind}_caller_profiles": [prof, prof]}
    return {"dialplan": "XML", "profile_index": str(index), "caller_profile": cp}


def _other(user: str, caller: str, dest: str, uuid: str) -> dict[str, str]:
    return {"username": user, "caller_id_name": caller, "caller_id_number": caller, "destination_number": dest,
            "uuid": uuid, "chan_name": f"sofia/internal/{dest}@127.0.0.1"}


def leg(base: dict[str, Any], uuid: str, flow: list[dict[str, Any]], *, start: int, answer: int | None, end: int,
        drop: tuple[str, ...] = (), **variables: str) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    v = doc["variables"]
    for name in drop:
        v.pop(name, None)
    v.update({"uuid": uuid, "call_uuid": uuid, "start_epoch": str(start), "answer_epoch": str(answer or 0),
              "end_epoch": str(end), "duration": str(end - start), "billsec": str(end - answer if answer else 0)})
    v.update(variables)
    doc["variables"] = {k: quote(str(val), safe="") for k, val in ((k, unquote(str(x))) for k, x in v.items())}
    doc["callflow"] = flow
    return doc


def caller_leg(uuid: str, user: str, dest: str, flow: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    ids = {"user_name": user, "sip_from_user": user, "effective_caller_id_number": user, "dialed_user": dest,
           "presence_id": f"{user}@127.0.0.1", "channel_name": f"sofia/internal/{user}@127.0.0.1"}
    ids.update(kw.pop("variables", {}))
    return leg(A_LEG, uuid, flow, **kw, **ids)


def dialled_leg(uuid: str, user: str, originator: str, flow: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    ids = {"originator": originator, "dialed_user": user, "presence_id": f"{user}@127.0.0.1",
           "channel_name": f"sofia/internal/{user}@127.0.0.1:25201"}
    ids.update(kw.pop("variables", {}))
    return leg(B_LEG, uuid, flow, **kw, **ids)


def live(doc: dict[str, Any]) -> CallRecordReport | None:
    """What the live path (CHANNEL_HANGUP_COMPLETE) reports for the same leg: decoded variables, the
    newest profile as the Caller-* headers and the Other-Leg-* block of the event carry them."""
    variables = {k: unquote(v) for k, v in doc["variables"].items()}
    newest = doc["callflow"][0]["caller_profile"]
    profile: dict[str, object] = {k: newest[k] for k in ("caller_id_name", "caller_id_number", "destination_number")}
    for kind in ("originatee", "originator"):
        if kind in newest:
            first = newest[kind][f"{kind}_caller_profiles"][0]
            profile[kind] = {f"{kind}_caller_profiles": [
                {k: first[k] for k in ("username", "caller_id_number", "destination_number")}]}
            break
    return record_from_variables(variables, profile)


def records(*docs: dict[str, Any]) -> list[CallRecordReport]:
    out = []
    for doc in docs:
        report = report_from_document(doc)
        assert live(doc) == report, "the live event and the posted leg must give the same record"
        if report is not None:
            out.append(report)
    return out


def rows_by_user(reports: list[CallRecordReport]) -> dict[str, list[dict[str, object]]]:
    rows = [row for r in reports for row in rows_for(r, 1, DIRECTORY)]
    keys = [(row["pbx_call_id"], row["user_id"]) for row in rows]
    assert len(keys) == len(set(keys))
    names = {uid: ext for ext, uid in USERS.items()}
    out: dict[str, list[dict[str, object]]] = {ext: [] for ext in USERS}
    for row in rows:
        out[names[row["user_id"]]].append(row)  # type: ignore[index]
    return out


A, B, C, D, E, F, P = (f"{c * 8}-0000-4000-8000-00000000000{i}" for i, c in enumerate("abcdef0", 1))


def test_ordinary_call_is_one_record_for_caller_and_callee():
    """The recorded call as it is: the callee's leg is covered by the caller's."""
    by_user = rows_by_user(records(A_LEG, B_LEG))
    assert [r["pbx_call_id"] for r in by_user["1000"]] == [r["pbx_call_id"] for r in by_user["1001"]]
    assert len(by_user["1000"]) == 1 and by_user["1001"][0]["status"] == "answered"


def test_blind_transfer_by_the_callee():
    """1000 calls 1001; 1001 answers, talks 30 s, blind-transfers to 1002; 1002 answers, talks 40 s."""
    xfer = T0 + 32
    source = f"{xfer}:{A}:bl_xfer:1002/default/XML"
    a = caller_leg(A, "1000", "1002", [
        _profile("1000", "1002", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1002", C)),
                 index=2),
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1001", B))),
    ], start=T0, answer=T0 + 2, end=xfer + 41,
        variables={"transfer_source": source, "transfer_history": source, "last_bridge_to": C, "DIALSTATUS": "SUCCESS"})
    b = dialled_leg(B, "1001", A, [
        _profile("1000", "1001", B, "sofia/internal/1001@127.0.0.1:25201", ("originator", _other("1000", "1000", "1001", A))),
    ], start=T0, answer=T0 + 2, end=xfer,
        variables={"endpoint_disposition": "BLIND_TRANSFER", "hangup_cause": "BLIND_TRANSFER",
                   "hangup_cause_q850": "600", "transfer_to": f"blind:{A}", "transfer_destination": "blind:1002"})
    c = dialled_leg(C, "1002", A, [
        _profile("1000", "1002", C, "sofia/internal/1002@127.0.0.1:25202", ("originator", _other("1000", "1000", "1002", A))),
    ], start=xfer, answer=xfer + 1, end=xfer + 41)
    by_user = rows_by_user(records(a, b, c))
    (mine,) = by_user["1001"]  # the transferor's answered leg: theirs, with its own time
    assert (mine["status"], mine["billable_seconds"], mine["duration_seconds"]) == ("answered", 30, 32)
    assert (mine["caller_number"], mine["dialed_number"], mine["call_type"]) == ("1000", "1001", "incoming")
    assert mine["pbx_call_id"] == B
    (target,) = by_user["1002"]
    assert (target["status"], target["caller_number"], target["call_type"]) == ("answered", "1000", "internal")
    (caller,) = by_user["1000"]  # the call 1000 placed, to the end, with whom it ended
    assert (caller["status"], caller["callee"], caller["billable_seconds"]) == ("answered", "User 1002", 71)


def test_blind_transfer_by_the_caller():
    """1000 calls 1001, 1001 answers; 1000 blind-transfers 1001 to 1002, who answers."""
    xfer = T0 + 20
    source = f"{xfer}:{B}:bl_xfer:1002/default/XML"
    a = caller_leg(A, "1000", "1001", [
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1001", B))),
    ], start=T0, answer=T0 + 2, end=xfer,
        variables={"endpoint_disposition": "BLIND_TRANSFER", "hangup_cause": "BLIND_TRANSFER", "DIALSTATUS": "SUCCESS"})
    b = dialled_leg(B, "1002", A, [
        _profile("1000", "1002", B, "sofia/internal/1001@127.0.0.1:25201", ("originatee", _other("1000", "1000", "1002", D)),
                 index=2),
        _profile("1000", "1001", B, "sofia/internal/1001@127.0.0.1:25201", ("originator", _other("1000", "1000", "1001", A))),
    ], start=T0, answer=T0 + 2, end=xfer + 60,
        variables={"transfer_source": source, "transfer_history": source, "presence_id": "1001@127.0.0.1",
                   "DIALSTATUS": "SUCCESS", "last_bridge_to": D})
    d = dialled_leg(D, "1002", B, [
        _profile("1000", "1002", D, "sofia/internal/1002@127.0.0.1:25202", ("originator", _other("1001", "1001", "1002", B))),
    ], start=xfer, answer=xfer + 3, end=xfer + 60)
    by_user = rows_by_user(records(a, b, d))
    (first,) = by_user["1000"]
    assert (first["status"], first["callee"]) == ("answered", "User 1001")
    assert sorted(r["pbx_call_id"] for r in by_user["1001"]) == sorted([A, B])
    (target,) = by_user["1002"]  # the conversation the transfer made: 1001 with 1002
    assert (target["pbx_call_id"], target["status"], target["caller_number"]) == (B, "answered", "1001")


def _attended_by_callee(dial_status: str = "SUCCESS") -> list[dict[str, Any]]:
    """1000 calls 1001 (A, B); 1001 puts 1000 on hold and calls 1002 (E, F); 1001 completes the transfer:
    uuid_bridge(A, F); B and E hang up with ATTENDED_TRANSFER."""
    done = T0 + 50
    a_source = f"{done}:{A}:uuid_br:{F}"
    a = caller_leg(A, "1000", "1001", [
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1001", "1001", "1002", F)),
                 index=2),
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1001", B))),
    ], start=T0, answer=T0 + 2, end=done + 100,
        variables={"transfer_source": a_source, "transfer_history": a_source, "DIALSTATUS": dial_status,
                   "last_bridge_to": F})
    b = dialled_leg(B, "1001", A, [
        _profile("1000", "1001", B, "sofia/internal/1001@127.0.0.1:25201", ("originator", _other("1000", "1000", "1001", A))),
    ], start=T0, answer=T0 + 2, end=done,
        variables={"endpoint_disposition": "ATTENDED_TRANSFER", "hangup_cause": "ATTENDED_TRANSFER"})
    e = caller_leg(E, "1001", "1002", [
        _profile("1001", "1002", E, "sofia/internal/1001@127.0.0.1", ("originatee", _other("1001", "1001", "1002", F))),
    ], start=T0 + 20, answer=T0 + 25, end=done,
        variables={"hangup_cause": "ATTENDED_TRANSFER", "endpoint_disposition": "ATTENDED_TRANSFER",
                   "DIALSTATUS": "SUCCESS"})
    f_source = f"{done}:{F}:uuid_br:{A}"
    f = dialled_leg(F, "1002", E, [
        _profile("1000", "1002", F, "sofia/internal/1002@127.0.0.1:25202", ("originator", _other("1000", "1000", "1001", A)),
                 index=2),
        _profile("1001", "1002", F, "sofia/internal/1002@127.0.0.1:25202", ("originator", _other("1001", "1001", "1002", E))),
    ], start=T0 + 20, answer=T0 + 25, end=done + 100,
        variables={"transfer_source": f_source, "transfer_history": f_source})
    return [a, b, e, f]


def test_attended_transfer_by_the_callee():
    by_user = rows_by_user(records(*_attended_by_callee()))
    (caller,) = by_user["1000"]
    assert (caller["status"], caller["callee"]) == ("answered", "User 1002")  # not 1001 twice
    assert sorted(r["pbx_call_id"] for r in by_user["1001"]) == sorted([B, E])  # the first talk, the consultation
    assert all(r["status"] == "answered" for r in by_user["1001"])
    assert sorted(r["pbx_call_id"] for r in by_user["1002"]) == sorted([A, E])  # the consultation, then 1000


def test_attended_transfer_by_the_caller():
    """1000 calls 1001 (A, B); 1000 consults 1002 (E, F) and completes: uuid_bridge(B, F)."""
    done = T0 + 50
    a = caller_leg(A, "1000", "1001", [
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1001", B))),
    ], start=T0, answer=T0 + 2, end=done,
        variables={"endpoint_disposition": "ATTENDED_TRANSFER", "hangup_cause": "ATTENDED_TRANSFER",
                   "DIALSTATUS": "SUCCESS"})
    b_source = f"{done}:{B}:uuid_br:{F}"
    b = dialled_leg(B, "1001", A, [
        _profile("1000", "1001", B, "sofia/internal/1001@127.0.0.1:25201", ("originatee", _other("1000", "1000", "1002", F)),
                 index=2),
        _profile("1000", "1001", B, "sofia/internal/1001@127.0.0.1:25201", ("originator", _other("1000", "1000", "1001", A))),
    ], start=T0, answer=T0 + 2, end=done + 100, variables={"transfer_source": b_source, "transfer_history": b_source})
    e = caller_leg(E, "1000", "1002", [
        _profile("1000", "1002", E, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1002", F))),
    ], start=T0 + 20, answer=T0 + 25, end=done,
        variables={"hangup_cause": "ATTENDED_TRANSFER", "DIALSTATUS": "SUCCESS"})
    f_source = f"{done}:{F}:uuid_br:{B}"
    f = dialled_leg(F, "1002", E, [
        _profile("1000", "1002", F, "sofia/internal/1002@127.0.0.1:25202", ("originator", _other("1000", "1000", "1001", B)),
                 index=2),
        _profile("1000", "1002", F, "sofia/internal/1002@127.0.0.1:25202", ("originator", _other("1000", "1000", "1002", E))),
    ], start=T0 + 20, answer=T0 + 25, end=done + 100, variables={"transfer_source": f_source})
    by_user = rows_by_user(records(a, b, e, f))
    assert sorted(r["pbx_call_id"] for r in by_user["1000"]) == sorted([A, E])
    assert sorted(r["pbx_call_id"] for r in by_user["1001"]) == sorted([A, B])
    assert sorted(r["pbx_call_id"] for r in by_user["1002"]) == sorted([E, B])
    (joined,) = [r for r in by_user["1002"] if r["pbx_call_id"] == B]
    assert (joined["status"], joined["caller_number"], joined["billable_seconds"]) == ("answered", "1001", 148)


@pytest.mark.parametrize("dial_status", ["PICKED_OFF", "SUCCESS"])
def test_call_picked_up_by_another_member_of_the_group(dial_status: str):
    """1000 calls 1001, which rings; 1003 picks it up (intercept): uuid_bridge(P, A), the rung leg hangs up
    with PICKED_OFF. 1000 and 1003 have an answered record; 1001 a "no answer" one (as Asterisk records
    the Dial to the rung phone)."""
    picked = T0 + 8
    a_source = f"{picked}:{A}:uuid_br:{P}"
    a = caller_leg(A, "1000", "1001", [
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1",
                 ("originator", _other("1003", "1003", f"answer,intercept:{A}", P)), index=2),
        _profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1", ("originatee", _other("1000", "1000", "1001", B))),
    ], start=T0, answer=picked, end=picked + 45,
        variables={"transfer_source": a_source, "transfer_history": a_source, "DIALSTATUS": dial_status,
                   "originate_disposition": dial_status, "last_bridge_to": P})
    b = dialled_leg(B, "1001", A, [
        _profile("1000", "1001", B, "sofia/internal/1001@127.0.0.1:25201", ("originator", _other("1000", "1000", "1001", A))),
    ], start=T0, answer=None, end=picked, variables={"hangup_cause": "PICKED_OFF", "endpoint_disposition": "EARLY MEDIA"})
    p_source = f"{picked}:{P}:uuid_br:{A}"
    p = caller_leg(P, "1003", "", [
        _profile("1003", f"answer,intercept:{A}", P, "sofia/internal/1003@127.0.0.1",
                 ("originatee", _other("1000", "1000", "1001", A)), index=2),
        _profile("1003", f"answer,intercept:{A}", P, "sofia/internal/1003@127.0.0.1"),
    ], start=picked - 1, answer=picked, end=picked + 45, drop=("dialed_user", "DIALSTATUS", "originate_disposition"),
        variables={"transfer_source": p_source, "last_app": "intercept", "current_application": "intercept"})
    by_user = rows_by_user(records(a, b, p))
    (caller,) = by_user["1000"]
    assert (caller["status"], caller["callee"], caller["billable_seconds"]) == ("answered", "User 1003", 45)
    (picker,) = by_user["1003"]
    assert (picker["status"], picker["caller_number"], picker["pbx_call_id"]) == ("answered", "1000", A)
    (rung,) = by_user["1001"]
    assert (rung["status"], rung["caller_number"], rung["pbx_call_id"], rung["billable_seconds"]) == (
        "no_answer", "1000", B, 0)


@pytest.mark.parametrize(("dial_status", "status"), [
    ("NOANSWER", CallStatus.NO_ANSWER),  # rang out, then voicemail answered the caller
    ("CANCEL", CallStatus.NO_ANSWER),  # the caller hung up while it rang
    ("BUSY", CallStatus.BUSY),
    ("DONTCALL", CallStatus.BUSY),  # CALL_REJECTED
    ("USER_NOT_REGISTERED", CallStatus.FAILED),
])
def test_dial_status_words_of_switch_ivr_originate(dial_status: str, status: CallStatus):
    doc = caller_leg(A, "1000", "1001", [_profile("1000", "1001", A, "sofia/internal/1000@127.0.0.1")],
                     start=T0, answer=T0 + 30, end=T0 + 50,
                     variables={"DIALSTATUS": dial_status, "bridge_channel": "", "last_bridge_to": ""})
    (report,) = records(doc)
    assert report.status is status


def test_each_leg_is_stored_once_from_the_live_event_and_the_error_directory(engine, db, world, tmp_path):
    """The daemon stores what the live events report, then what mod_json_cdr could not post (its error
    directory): the transferor's leg and the consultation are not stored twice, and every user has their
    rows (attended transfer by the callee)."""
    node = PbxNode(name="fs1", kind=NodeKind.FREESWITCH, host="127.0.0.1", port=8021)
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    db.commit()
    users = {ext: world.user(tenant, extension=ext).id for ext in ("1000", "1001", "1002")}
    docs = _attended_by_callee()
    projector = Projector(make_session_factory(engine), node.id)
    for doc in docs:
        report = live(doc)
        if report is not None:
            projector.handle(CallRecorded(report.ended_at or report.started_at, report))
    projector.flush()
    errdir = tmp_path / "json_cdr_failed"
    errdir.mkdir()
    for doc in docs:
        (errdir / f"{unquote(doc['variables']['uuid'])}.cdr.json").write_text(json.dumps(doc))
    reports, files = read_error_dir(errdir)
    assert len(files) == len(docs) and len(reports) == 3
    for report in reports:
        projector.handle(CallRecorded(report.ended_at or report.started_at, report))
    projector.flush()
    stored = db.execute(select(CallRecord.user_id, CallRecord.pbx_call_id, CallRecord.status)).all()
    assert len(stored) == len({(u, c) for u, c, _ in stored}) == 5
    by_user = {ext: sorted(c for u, c, _ in stored if u == uid) for ext, uid in users.items()}
    assert by_user == {"1000": [A], "1001": sorted([B, E]), "1002": sorted([A, E])}
    assert {s for _, _, s in stored} == {"answered"}
