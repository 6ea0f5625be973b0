"""Asterisk call records after a blind transfer and a pickup: every answered leg a user took part in is
a record of theirs, from the live Cdr event and from Master.csv alike (same ids: stored once).

The Cdr fields are those a real Asterisk 22.10.1 wrote (cdr_manager, lab run with AMI BlindTransfer and
Pickup(); the lab's phones were Local channels, here named as PJSIP phones are):

* blind transfer: two Dial CDRs of the caller's channel (same uniqueid): the pairing with the
  transferor's channel, ending at the transfer, and the pairing with the target's, from the transfer on;
  both carry the caller's new extension (1002) as dst;
* pickup: two Dial CDRs of the caller's channel: the rung phone's (NO ANSWER, ending at its start) and
  the picker's channel (ANSWERED, from the pickup on); the picker's own channel writes none.
"""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from clusterpbx.ami.cdr import _EVENT_TO_CSV, CSV_COLUMNS, read_csv_since, report_from_event
from clusterpbx.control.callrecords import Directory, rows_for

UTC = ZoneInfo("UTC")
USERS = {"1000": 10, "1001": 11, "1002": 12, "1003": 13}
DIRECTORY = Directory({ext: (1, uid, f"User {ext}") for ext, uid in USERS.items()}, {1: []}, 1)


def cdr(src: str, dst: str, channel: str, dstchannel: str, start: str, answer: str, end: str, duration: int,
        billsec: int, disposition: str, uniqueid: str) -> dict[str, str]:
    return {"Event": "Cdr", "AccountCode": "", "Source": src, "Destination": dst, "DestinationContext": "internal",
            "CallerID": f'"Alice" <{src}>', "Channel": channel, "DestinationChannel": dstchannel,
            "LastApplication": "Dial", "LastData": f"PJSIP/{dst},30", "StartTime": start, "AnswerTime": answer,
            "EndTime": end, "Duration": str(duration), "BillableSeconds": str(billsec), "Disposition": disposition,
            "AMAFlags": "DOCUMENTATION", "UniqueID": uniqueid, "UserField": ""}


BLIND = [
    cdr("1000", "1002", "PJSIP/1000-00000008", "PJSIP/1001-00000009", "2026-12-07 10:59:01",
        "2026-12-07 10:59:02", "2026-12-07 10:59:04", 3, 2, "ANSWERED", "1796641141.17"),
    cdr("1000", "1002", "PJSIP/1000-00000008", "PJSIP/1002-0000000a", "2026-12-07 10:59:04",
        "2026-12-07 10:59:04", "2026-12-07 10:59:09", 4, 4, "ANSWERED", "1796641141.17"),
]
PICKUP = [
    cdr("1000", "1001", "PJSIP/1000-00000003", "PJSIP/1001-00000004", "2026-12-07 10:58:10", "",
        "2026-12-07 10:58:10", 0, 0, "NO ANSWER", "1796641090.7"),
    cdr("1000", "1001", "PJSIP/1000-00000003", "PJSIP/1003-00000005", "2026-12-07 10:58:13",
        "2026-12-07 10:58:13", "2026-12-07 10:58:17", 3, 3, "ANSWERED", "1796641090.7"),
]


def rows(events: list[dict[str, str]]) -> dict[str, list[dict[str, object]]]:
    reports = [r for r in (report_from_event(e, UTC) for e in events) if r is not None]
    assert len({r.pbx_call_id for r in reports}) == len(events), "every pairing is its own record"
    out: dict[str, list[dict[str, object]]] = {ext: [] for ext in USERS}
    names = {uid: ext for ext, uid in USERS.items()}
    for report in reports:
        for row in rows_for(report, 1, DIRECTORY):
            out[names[row["user_id"]]].append(row)  # type: ignore[index]
    return out


def test_blind_transfer_gives_the_transferor_and_the_target_each_an_answered_record():
    by_user = rows(BLIND)
    (transferor,) = by_user["1001"]
    assert (transferor["status"], transferor["billable_seconds"], transferor["caller_number"]) == ("answered", 2, "1000")
    (target,) = by_user["1002"]
    assert (target["status"], target["billable_seconds"]) == ("answered", 4)
    assert sorted(r["callee"] for r in by_user["1000"]) == ["User 1001", "User 1002"]


def test_pickup_gives_the_picker_an_answered_record_and_the_rung_user_a_no_answer_one():
    by_user = rows(PICKUP)
    (picker,) = by_user["1003"]
    assert (picker["status"], picker["caller_number"], picker["billable_seconds"]) == ("answered", "1000", 3)
    (rung,) = by_user["1001"]
    assert rung["status"] == "no_answer"
    assert sorted(r["status"] for r in by_user["1000"]) == ["answered", "no_answer"]


def test_the_same_pairings_from_master_csv_have_the_same_ids(tmp_path):
    events = BLIND + PICKUP
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for e in events:
        row = [e.get(_EVENT_TO_CSV[col], "") for col in CSV_COLUMNS]
        writer.writerow(row)
    path = tmp_path / "Master.csv"
    path.write_text(out.getvalue())
    from_file, _ = read_csv_since(str(path), 0, UTC)
    live = [report_from_event(e, UTC) for e in events]
    assert [r.pbx_call_id for r in from_file] == [r.pbx_call_id for r in live if r is not None]
