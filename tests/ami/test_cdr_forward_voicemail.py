"""Asterisk call records of calls that are not plain answered ones (issue 19 item 3), from the Cdr fields
a real Asterisk 22.10.1 wrote with the generated dialplan (lab run of tests/real/test_asterisk_calls.py,
company "calls": 203 calls 204):

* forward always to 205, whose phone is offline, then 204's voicemail: the leg's Dial of 205 FAILED, the
  caller's Dial of the Local leg FAILED, then the VoiceMail record. It gave 'failed' for 203 and 204 and an
  'incoming/failed' row for 205, who never rang;
* forward always to 205, who does not answer: the leg's Dial NO ANSWER and then the leg's own end
  (Hangup, NO ANSWER): two rows for 205;
* do not disturb: only the VoiceMail record (busy greeting), which was dropped: no row at all.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from clusterpbx.ami.cdr import _EVENT_TO_CSV, CSV_COLUMNS, ChannelRecords, read_csv_since, report_from_event
from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.control.port import CallRecorded, ExtensionFeatures

UTC = ZoneInfo("UTC")
USERS = {"calls203": ("203", 13), "calls204": ("204", 14), "calls205": ("205", 15)}
DIRECTORY = Directory(
    by_endpoint={ep: (1, uid, f"User {n}") for ep, (n, uid) in USERS.items()}, rates={1: []}, default_tenant_id=None,
    by_number={n: {1: (1, uid, f"User {n}")} for n, uid in USERS.values()},
    tenant_by_context={"cpbx-calls": 1, "cpbx-calls-leg": 1, "cpbx-calls-ext": 1})


def cdr(dst: str, context: str, channel: str, dstchannel: str, lastapp: str, lastdata: str, disposition: str,
        uniqueid: str, billsec: int = 0) -> dict[str, str]:
    answered = disposition == "ANSWERED"
    return {"Event": "Cdr", "AccountCode": "", "Source": "203", "Destination": dst, "DestinationContext": context,
            "CallerID": '"Chloé Girard" <203>', "Channel": channel, "DestinationChannel": dstchannel,
            "LastApplication": lastapp, "LastData": lastdata, "StartTime": "2026-12-07 16:31:34",
            "AnswerTime": "2026-12-07 16:31:35" if answered else "", "EndTime": "2026-12-07 16:31:38",
            "Duration": str(billsec), "BillableSeconds": str(billsec), "Disposition": disposition,
            "AMAFlags": "DOCUMENTATION", "UniqueID": uniqueid, "UserField": ""}


FORWARD_TO_OFFLINE = [
    cdr("205", "cpbx-calls-leg", "Local/205@cpbx-calls-leg-00000000;2", "", "Dial", "PJSIP/calls205", "FAILED",
        "1796661094.2"),
    cdr("204", "cpbx-calls", "PJSIP/calls203-00000000", "Local/205@cpbx-calls-leg-00000000;1", "Dial",
        "Local/205@cpbx-calls-leg,60", "FAILED", "1796661094.0"),
    cdr("204", "cpbx-calls", "PJSIP/calls203-00000000", "", "VoiceMail", "204@cpbx-calls,u", "ANSWERED",
        "1796661094.0", 3),
]
FORWARD_NOT_ANSWERED = [
    cdr("205", "cpbx-calls-leg", "Local/205@cpbx-calls-leg-00000001;2", "PJSIP/calls205-00000007", "Dial",
        "PJSIP/calls205", "NO ANSWER", "1796661218.10"),
    cdr("205", "cpbx-calls-leg", "Local/205@cpbx-calls-leg-00000001;2", "", "Hangup", "", "NO ANSWER",
        "1796661218.10"),
    cdr("204", "cpbx-calls", "PJSIP/calls203-00000006", "Local/205@cpbx-calls-leg-00000001;1", "Dial",
        "Local/205@cpbx-calls-leg,60", "NO ANSWER", "1796661218.8"),
    cdr("204", "cpbx-calls", "PJSIP/calls203-00000006", "", "VoiceMail", "204@cpbx-calls,u", "ANSWERED",
        "1796661218.8", 3),
]
DND = [cdr("204", "cpbx-calls", "PJSIP/calls203-00000003", "", "VoiceMail", "204@cpbx-calls,b", "ANSWERED",
           "1796661170.5", 3)]
BUSY = [
    cdr("204", "cpbx-calls", "PJSIP/calls203-0000000c", "PJSIP/calls204-0000000d", "Dial", "PJSIP/calls204,20",
        "BUSY", "1796661407.18"),
    cdr("204", "cpbx-calls", "PJSIP/calls203-0000000c", "", "VoiceMail", "204@cpbx-calls,b", "ANSWERED",
        "1796661407.18", 3),
]


def summary(events: list[dict[str, str]]) -> dict[str, list[tuple[object, object]]]:
    channels = ChannelRecords()  # the translator's: one per source of records
    reports = [r for r in (report_from_event(e, UTC, channels) for e in events) if r is not None]
    out: dict[str, list[tuple[object, object]]] = {}
    names = {uid: n for n, uid in USERS.values()}
    for report in reports:
        for row in rows_for(report, 1, DIRECTORY):
            out.setdefault(names[row["user_id"]], []).append((row["call_type"], row["status"]))  # type: ignore[index]
    return {k: sorted(v) for k, v in out.items()}


def test_forward_to_an_offline_phone_is_a_no_answer_for_caller_and_callee_and_nothing_for_the_target():
    assert summary(FORWARD_TO_OFFLINE) == {"203": [("internal", "no_answer")], "204": [("internal", "no_answer")]}


def test_an_unanswered_forward_target_gets_one_no_answer_row():
    assert summary(FORWARD_NOT_ANSWERED) == {"203": [("internal", "no_answer")], "204": [("internal", "no_answer")],
                                             "205": [("incoming", "no_answer")]}


def test_a_call_to_voicemail_without_ringing_is_the_calls_record():
    """DND (and call waiting off with a phone in use): busy; out of office (unavailable greeting): no answer;
    never answered nor billed."""
    assert summary(DND) == {"203": [("internal", "busy")], "204": [("internal", "busy")]}
    ooo = [{**DND[0], "LastData": "204@cpbx-calls,u"}]
    assert summary(ooo) == {"203": [("internal", "no_answer")], "204": [("internal", "no_answer")]}
    (report,) = [report_from_event(e, UTC, ChannelRecords()) for e in DND]
    assert report is not None and report.answered_at is None and report.billable_seconds == 0


def test_voicemail_after_a_dial_is_not_a_second_record():
    assert summary(BUSY) == {"203": [("internal", "busy")], "204": [("internal", "busy")]}


def test_master_csv_gives_the_same_records(tmp_path):
    events = FORWARD_TO_OFFLINE + FORWARD_NOT_ANSWERED + DND + BUSY
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for e in events:
        writer.writerow([e.get(_EVENT_TO_CSV[col], "") for col in CSV_COLUMNS])
    path = tmp_path / "Master.csv"
    path.write_text(out.getvalue())
    from_file, _ = read_csv_since(str(path), 0, UTC)
    channels = ChannelRecords()
    live = [r for r in (report_from_event(e, UTC, channels) for e in events) if r is not None]
    assert [(r.pbx_call_id, r.status) for r in from_file] == [(r.pbx_call_id, r.status) for r in live]
    assert len(live) == 5  # the caller's Dial of each call, and the leg's Dial of the unanswered forward


def test_a_call_to_a_dnd_user_on_the_sim_is_busy_for_both(adapter, sim):
    """The sim writes what Asterisk writes for it (only the VoiceMail record, busy greeting); through the
    adapter it is the call's record, busy (it gave no record at all)."""
    b, events = adapter
    b.call(b.adapter.write_features, "103", ExtensionFeatures(dnd=True))
    sim.call_soon(lambda: sim.model.place_call("101", "103"))
    (recorded,) = events.wait_for(CallRecorded)
    report = recorded.record
    assert (report.status.value, report.dialed_number, report.source_endpoint) == ("busy", "103", "101")
    assert report.answered_at is None and report.billable_seconds == 0


SIM_DIRECTORY = Directory(
    by_endpoint={n: (1, int(n), f"User {n}") for n in ("101", "102", "103", "104")}, rates={1: []},
    default_tenant_id=1, by_number={n: {1: (1, int(n), f"User {n}")} for n in ("101", "102", "103", "104")},
    tenant_by_context={"internal": 1, "internal-leg": 1})


def test_a_forward_on_the_sim_gives_the_rows_the_real_asterisk_gives(adapter, sim):
    """The sim writes a forward as Asterisk does with the generated dialplan (the leg's records on a Local
    channel, the caller's Dial of the leg); through the adapter: the caller and the forwarding user each get
    their call, the target one row; unanswered, no 'failed' and no second row for the target."""
    b, events = adapter
    sim.call_soon(sim.model.db_put, "CF", "104", "102")
    sim.call_soon(lambda: sim.model.place_call("101", "104"))
    sim.call_soon(lambda: sim.model.place_call("101", "104", answer=False))

    def rows() -> dict[str, list[tuple[object, object]]]:
        out: dict[str, list[tuple[object, object]]] = {}
        for e in events.of(CallRecorded):
            for row in rows_for(e.record, 1, SIM_DIRECTORY):
                out.setdefault(str(row["user_id"]), []).append((row["call_type"], row["status"]))
        return {k: sorted(v) for k, v in out.items()}

    # two records of each call reach the portal: the leg's Dial of 102 and the caller's Dial of the leg
    events.wait(lambda items: sum(isinstance(e, CallRecorded) for e in items) >= 4)
    assert rows() == {"101": [("internal", "answered"), ("internal", "no_answer")],
                      "104": [("internal", "answered"), ("internal", "no_answer")],
                      "102": [("incoming", "answered"), ("incoming", "no_answer")]}
