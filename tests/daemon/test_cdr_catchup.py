"""Asterisk call records: the AMI Cdr event and the Master.csv line of the same call give the same
record id, so the catch-up path after an outage never duplicates what the live path stored."""

from __future__ import annotations

import codecs
import shutil
from zoneinfo import ZoneInfo

from clusterpbx.ami.cdr import read_csv_since, report_from_event
from clusterpbx.control.port import CallStatus
from tests.components import shared_fixtures

FIXTURES = shared_fixtures()
AST = FIXTURES / "asterisk"
TZ = ZoneInfo("UTC")


def server_bytes(name: str) -> bytes:
    """The S->C bytes of an Asterisk capture (format in fixtures/README.md)."""
    out = bytearray()
    direction = None
    for line in (AST / name).read_text(encoding="ascii").splitlines():
        if line.startswith("["):
            direction = "S->C" if " S->C " in line else "C->S"
        elif line.startswith("    |") and direction == "S->C":
            piece = line[5: line.rindex("|")]
            out += codecs.escape_decode(piece.encode("latin-1"))[0]
    return bytes(out)


def cdr_events(name: str) -> list[dict[str, str]]:
    events = []
    for block in server_bytes(name).decode("utf-8").split("\r\n\r\n"):
        if block.startswith("Event: Cdr"):
            events.append(dict(line.split(": ", 1) for line in block.split("\r\n") if ": " in line))
    return events


def test_event_and_csv_agree_on_ids():
    csv_reports, _pos = read_csv_since(str(AST / "cdr-csv" / "Master.csv"), 0, TZ)
    csv_ids = {r.pbx_call_id for r in csv_reports}
    events = [e for f in sorted(AST.glob("*.txt")) for e in cdr_events(f.name)]
    event_reports = [r for r in (report_from_event(e, TZ) for e in events) if r]
    # The lab's Master.csv logged the same calls the captures recorded: every one must match exactly.
    assert len(event_reports) >= 8
    assert [r.pbx_call_id for r in event_reports if r.pbx_call_id not in csv_ids] == []


def test_answered_call_from_capture():
    (report,) = [r for r in map(lambda e: report_from_event(e, TZ), cdr_events("06_call_answered_events.txt")) if r]
    assert report.status is CallStatus.ANSWERED
    assert (report.caller_name, report.caller_number, report.dialed_number) == ("Bob Sales", "101", "102")
    assert (report.source_endpoint, report.destination_endpoint) == ("101", "102")
    assert report.billable_seconds == 6 and report.duration_seconds == 8


def test_unanswered_call_to_voicemail_is_one_no_answer_record():
    reports = [r for r in (report_from_event(e, TZ) for e in cdr_events("08_call_unanswered_voicemail_events.txt"))
               if r]
    assert [r.status for r in reports] == [CallStatus.NO_ANSWER]


def test_csv_reading_resumes_from_position_and_ignores_partial_lines(tmp_path):
    src = (AST / "cdr-csv" / "Master.csv").read_bytes()
    lines = src.splitlines(keepends=True)
    path = tmp_path / "Master.csv"
    path.write_bytes(lines[0] + lines[1][:20])  # a line still being written
    first, pos = read_csv_since(str(path), 0, TZ)
    assert pos == len(lines[0])
    path.write_bytes(b"".join(lines))
    rest, pos2 = read_csv_since(str(path), pos, TZ)
    assert pos2 == len(src)
    everything, _ = read_csv_since(str(path), 0, TZ)
    assert [r.pbx_call_id for r in first + rest] == [r.pbx_call_id for r in everything]
    # Rotation: a new, smaller file is read from its start.
    shutil.copy(path, tmp_path / "old.csv")
    path.write_bytes(lines[-1])
    rotated, pos3 = read_csv_since(str(path), pos2, TZ)
    assert pos3 == len(lines[-1]) and len(rotated) <= 1


def test_hostile_caller_name_is_kept_as_text():
    event = {"Event": "Cdr", "CallerID": '"<script>x</script>\\" =1+1" <5551234>', "Source": "5551234",
             "Destination": "201", "Channel": "PJSIP/trunk-00000001", "DestinationChannel": "PJSIP/201-00000002",
             "LastApplication": "Dial", "StartTime": "2026-11-27 10:00:00", "AnswerTime": "", "EndTime":
             "2026-11-27 10:00:10", "Duration": "10", "BillableSeconds": "0", "Disposition": "NO ANSWER",
             "UniqueID": "1.1"}
    r = report_from_event(event, TZ)
    assert r is not None and "<script>" in r.caller_name and r.caller_number == "5551234"
    assert r.status is CallStatus.NO_ANSWER


def test_recording_path_from_userfield():
    base = {"Event": "Cdr", "CallerID": '"A" <201>', "Source": "201", "Destination": "5145550000",
            "Channel": "PJSIP/201-00000001", "DestinationChannel": "PJSIP/trunk-00000002", "LastApplication": "Dial",
            "StartTime": "2026-11-27 10:00:00", "AnswerTime": "2026-11-27 10:00:02", "EndTime": "2026-11-27 10:00:10",
            "Duration": "10", "BillableSeconds": "8", "Disposition": "ANSWERED", "UniqueID": "9.1"}
    rec = report_from_event({**base, "UserField": "clusterpbx/acme/2026/11/27/out-9.1.wav"}, TZ)
    assert rec is not None and rec.recording_path == "clusterpbx/acme/2026/11/27/out-9.1.wav"
    for hostile in ("../../etc/passwd.wav", "/etc/shadow", "clusterpbx/../../x.wav", "note"):
        r = report_from_event({**base, "UserField": hostile}, TZ)
        assert r is not None and r.recording_path == ""
