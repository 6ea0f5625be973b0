"""Asterisk call records, from the AMI `Cdr` event or from the `cdr_csv` backend's Master.csv, turned
into the port's CallRecordReport with the same id either way, so the live path and the catch-up path
never store a call twice.

The catch-up path exists because Asterisk does not replay Cdr events sent while nobody listened: the
daemon reads Master.csv from a remembered byte offset after every reconnect.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import re
from collections.abc import Mapping

from clusterpbx.control.port import CallRecordReport, CallStatus

# cdr_csv's column order with loguniqueid=yes and loguserfield=yes (what docs/operators.md asks for).
CSV_COLUMNS = ["accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
               "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield"]

_STATUS = {"ANSWERED": CallStatus.ANSWERED, "NO ANSWER": CallStatus.NO_ANSWER, "BUSY": CallStatus.BUSY,
           "FAILED": CallStatus.FAILED, "CONGESTION": CallStatus.FAILED}
# What a caller number may be: digits and dial characters, or a SIP user part (an endpoint's name).
_NUMBER = re.compile(r"[A-Za-z0-9+*#_.\-]{1,64}")
_DIALLED = re.compile(r"[0-9+*#]{1,64}")  # a bare field is a number only if it is made of dial characters
_ANGLE_NUMBER = re.compile(r"\s*<(?P<num>[^<>\r\n]*)>\s*")
_UNQUOTED = re.compile(r"(?P<name>[^<>\"]*?)\s*<(?P<num>[^<>\r\n]*)>")
MAX_NAME = 120  # call_records.caller_name
_QUOTED_PAIR = re.compile(r'\\(["\\])')
_CHANNEL = re.compile(r"^(?:PJSIP|SIP)/(?P<endpoint>[^/@;<>]+)")
# PJSIP/<endpoint>-<sequence number>: the endpoint is everything before the last dash (endpoint names
# may hold dashes: a second tenant's 201 is the endpoint 201-t2, control/admin/users.py).
_SEQUENCED = re.compile(r"^(?:PJSIP|SIP)/(?P<endpoint>[^/@;<>]+)-[0-9a-fA-F]+(?:$|[;<])")

# The record of leaving a message (VoiceMail, answered) after a Dial record of the same channel repeats
# that unanswered call: users see one call ("no answer", "busy"), so it is not reported. When it is the
# channel's first record, no phone rang (do not disturb, call waiting off and a phone in use, out of
# office): it is the call's only record, busy with the busy greeting (option b), else no answer.
_VOICEMAIL = "voicemail"
# The leg side of a forward or follow-me (dialplan/asterisk.py rings them through Local/<n>@cpbx-<slug>-leg):
# its Dial of the target is the target's own record; its other records (the leg's own end after that
# Dial: Hangup, Busy) repeat it. A Dial that could not ring the target at all (FAILED: the phone is
# offline) is nobody's record: the target never rang; nor is the follow-me leg's hop to that leg.
_LOCAL_LEG = re.compile(r"^Local/[^;]+;2$")
_LOCAL_CALLER_SIDE = re.compile(r"^Local/[^;]+;1$")


class ChannelRecords:
    """The channels (uniqueids) whose records were already read, so a VoiceMail record can tell whether
    it is its channel's first. Asterisk dispatches all the records of a channel together when it hangs
    up (main/cdr.c), in order, so the live events and Master.csv each see a channel's records one after
    the other; a bounded memory is enough."""

    def __init__(self, size: int = 4096) -> None:
        self._seen: dict[str, None] = {}
        self._size = size

    def first(self, uniqueid: str) -> bool:
        """True the first time a channel's record is read."""
        if uniqueid in self._seen:
            return False
        self._seen[uniqueid] = None
        while len(self._seen) > self._size:
            del self._seen[next(iter(self._seen))]
        return True


def endpoint_of(channel: str) -> str:
    m = _SEQUENCED.match(channel or "") or _CHANNEL.match(channel or "")
    return m.group("endpoint") if m else ""


def split_callerid(clid: str) -> tuple[str, str]:
    """(name, number) from a CDR's CallerID field, read the way Asterisk writes it (main/callerid.c
    ast_callerid_merge): `"name" <number>` with the name passed through ast_escape_quoted, so `"`, `\\`
    and control characters come with a backslash before them (a CR or LF stays a raw byte after its
    backslash), and the name is cut at 127 bytes; just the name, or just the number, when the other is
    missing. A name never spills into the number: a number is only what looks like one."""
    text = clid or ""
    name, number = "", ""
    stripped = text.strip()
    if stripped.startswith('"'):
        out: list[str] = []
        i, closed = 1, False
        while i < len(stripped):
            c = stripped[i]
            if c == "\\" and i + 1 < len(stripped):
                out.append(stripped[i + 1])
                i += 2
                continue
            if c == '"':
                closed = True
                break
            out.append(c)
            i += 1
        name = "".join(out)
        if closed:
            m = _ANGLE_NUMBER.fullmatch(stripped[i + 1:])
            number = m.group("num") if m else ""
    else:
        m = _UNQUOTED.fullmatch(stripped)
        if m:
            name, number = m.group("name"), m.group("num")
        elif _DIALLED.fullmatch(stripped):
            number = stripped
        else:
            name = stripped
    return clean_name(name), number if _NUMBER.fullmatch(number) else ""


def clean_name(name: str) -> str:
    """A caller name fit to store and show: control characters become spaces, one line, bounded."""
    text = "".join(" " if (ord(c) < 32 or 0x7F <= ord(c) < 0xA0) else c for c in name)
    return " ".join(text.split())[:MAX_NAME]


_ISO_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


def _time(value: str, tz: dt.tzinfo) -> dt.datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    value = value[:19]
    # Asterisk's own format parsed in C; anything else as strptime reads (and refuses) it.
    local = (dt.datetime.fromisoformat(value) if _ISO_TIME.fullmatch(value)
             else dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S")).replace(tzinfo=tz)
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def _int(value: str) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


def _ringing_several(lastapp: str, lastdata: str) -> str:
    """For a Dial of several targets at once (a user's phones, follow-me's phones and numbers): a short,
    stable name of that dial string, else "". Asterisk (cdr.conf unanswered = yes) writes one record per
    target; they are one call attempt, so they share one identity and the answered one wins when stored
    (control/callrecords.insert_ignoring_duplicates)."""
    targets = lastdata.partition(",")[0]
    if lastapp != "dial" or "&" not in targets:
        return ""
    return "ring-" + hashlib.sha256(targets.encode("utf-8", "replace")).hexdigest()[:12]


def record_id(uniqueid: str, dstchannel: str, lastapp: str, start: dt.datetime) -> str:
    """One leg's identity, the same from the AMI Cdr event (the server's local time) and from
    Master.csv (UTC with usegmtime): the start is written in UTC, whatever zone the source used. On a
    UTC server this is the text both sources write, so ids stored before are unchanged."""
    return f"{uniqueid}|{dstchannel}|{lastapp}|{start:%Y-%m-%d %H:%M:%S}"


def _status(f: Mapping[str, str], lastapp: str) -> CallStatus:
    status = _STATUS.get((f.get("disposition") or "").upper(), CallStatus.FAILED)
    if lastapp == _VOICEMAIL:
        options = (f.get("lastdata") or "").partition(",")[2]
        return CallStatus.BUSY if "b" in options else CallStatus.NO_ANSWER
    if status is CallStatus.FAILED and _LOCAL_CALLER_SIDE.match(f.get("dstchannel") or ""):
        # A forward or follow-me whose targets could not be rung (offline, refused): the caller's call was
        # not answered, and went on to the callee's voicemail or ended there.
        return CallStatus.NO_ANSWER
    return status


def report_from_fields(f: Mapping[str, str], tz: dt.tzinfo,
                       channels: ChannelRecords | None = None) -> CallRecordReport | None:
    """`f` uses the CSV column names (lower case); the AMI event maps to them in `fields_from_event`.
    `channels` remembers the channels read before (one per source of records); without it a VoiceMail
    record is taken as following a Dial record (not reported)."""
    lastapp = (f.get("lastapp") or "").lower()
    first = channels.first(f.get("uniqueid") or "") if channels is not None else False
    if lastapp == _VOICEMAIL and not first:
        return None
    if _LOCAL_LEG.match(f.get("channel") or "") and (
            lastapp != "dial" or (f.get("disposition") or "").upper() in ("FAILED", "CONGESTION")
            or (f.get("dstchannel") or "").startswith("Local/")):  # a hop to the leg that rings the target
        return None
    start = _time(f.get("start", ""), tz)
    if start is None or not f.get("uniqueid"):
        return None
    name, number = split_callerid(f.get("clid", ""))
    if _CHANNEL.match(f.get("channel") or ""):
        # PJSIP keeps a SIP display name's quoted-pairs (backslash-quote, backslash-backslash) as they came
        # in the From header (seen on Asterisk 22.10 with a phone sending the display name
        # "Jean \"le grand\" C:\\x"): undo them too, so the record has the name the phone meant.
        name = _QUOTED_PAIR.sub(r"\1", name)
    # `src` is the caller's number as its own field: it wins over the one parsed out of `clid`.
    src = (f.get("src") or "").strip()
    if _NUMBER.fullmatch(src):
        number = src
    status = _status(f, lastapp)
    answered = status is CallStatus.ANSWERED
    return CallRecordReport(
        pbx_call_id=record_id(f["uniqueid"], _ringing_several(lastapp, f.get("lastdata") or "")
                              or f.get("dstchannel", ""), f.get("lastapp", ""), start),
        call_id=f["uniqueid"],
        started_at=start,
        answered_at=_time(f.get("answer", ""), tz) if answered else None,
        ended_at=_time(f.get("end", ""), tz),
        duration_seconds=_int(f.get("duration", "0")),
        billable_seconds=_int(f.get("billsec", "0")) if answered else 0,
        caller_name=name,
        caller_number=number,
        dialed_number=f.get("dst", ""),
        source_endpoint=endpoint_of(f.get("channel", "")),
        destination_endpoint=endpoint_of(f.get("dstchannel", "")),
        status=status,
        recording_path=_recording(f.get("userfield", "")),
        # the context the call was dialled in (cpbx-<slug>-ext...): the tenant of dialed_number
        context=(f.get("dcontext") or "").strip()[:80],
    )


def _recording(userfield: str) -> str:
    """The generated dialplan puts the MixMonitor file (relative to the monitor folder) in userfield."""
    path = userfield.strip()
    if path.endswith(".wav") and path.startswith("clusterpbx/") and ".." not in path and len(path) < 512:
        return path
    return ""


_EVENT_TO_CSV = {"accountcode": "AccountCode", "src": "Source", "dst": "Destination",
                 "dcontext": "DestinationContext", "clid": "CallerID", "channel": "Channel",
                 "dstchannel": "DestinationChannel", "lastapp": "LastApplication", "lastdata": "LastData",
                 "start": "StartTime", "answer": "AnswerTime", "end": "EndTime", "duration": "Duration",
                 "billsec": "BillableSeconds", "disposition": "Disposition", "amaflags": "AMAFlags",
                 "uniqueid": "UniqueID", "userfield": "UserField"}


def fields_from_event(event: Mapping[str, str]) -> dict[str, str]:
    """An AMI Cdr event's headers under the CSV column names."""
    lower = {k.lower(): v for k, v in event.items()}
    return {col: str(lower.get(header.lower(), "") or "") for col, header in _EVENT_TO_CSV.items()}


def report_from_event(event: Mapping[str, str], tz: dt.tzinfo,
                      channels: ChannelRecords | None = None) -> CallRecordReport | None:
    return report_from_fields(fields_from_event(event), tz, channels)


LOOK_BACK = 64 << 10  # bytes of Master.csv read again before the position, for their channels


def read_csv_since(path: str, position: int, tz: dt.tzinfo,
                   max_bytes: int = 16 << 20) -> tuple[list[CallRecordReport], int]:
    """Records appended to Master.csv after byte `position`, and the new position. Only complete lines
    are consumed; a file smaller than the position (rotated) is read from the start."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return [], position
    if size < position:
        position = 0
    with open(path, "rb") as fh:
        back = max(0, position - LOOK_BACK)
        fh.seek(back)
        before = fh.read(position - back)
        chunk = fh.read(max_bytes)
    end = chunk.rfind(b"\n")
    if end < 0:
        return [], position
    complete = chunk[: end + 1]
    reports = []
    channels = ChannelRecords()
    # The channels of the records just before the position were read last time: a VoiceMail record of
    # theirs after the position follows their Dial record (a read between two lines of one hangup).
    if back > 0:
        before = before[before.find(b"\n") + 1:]
    for row in csv.reader(io.StringIO(before.decode("utf-8", "replace"))):
        if len(row) >= 17:
            channels.first(row[CSV_COLUMNS.index("uniqueid")])
    for row in csv.reader(io.StringIO(complete.decode("utf-8", "replace"))):
        if len(row) < 17:
            continue
        report = report_from_fields(dict(zip(CSV_COLUMNS, row, strict=False)), tz, channels)
        if report is not None:
            reports.append(report)
    return reports, position + len(complete)
