"""FreeSWITCH call records as mod_json_cdr posts them (one JSON document per leg), turned into the
port's CallRecordReport: one report per call, from its A-leg.

mod_json_cdr posts each leg after hangup and, when our endpoint is down, writes it to its error
directory and never resends it; `read_error_dir` picks those files up so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from clusterpbx.control.port import CallRecordReport, CallStatus

MAX_BODY = 1 << 20  # real bodies are 4-16 KB


class InvalidCdr(ValueError):
    pass


def _epoch(value: str | None) -> dt.datetime | None:
    try:
        seconds = int(value or "0")
    except ValueError:
        return None
    if seconds <= 0:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or "0"))
    except ValueError:
        return 0


def _status(v: Mapping[str, str]) -> CallStatus:
    dial = (v.get("DIALSTATUS") or v.get("originate_disposition") or "").upper()
    bridged_to = v.get("bridge_channel", "")
    if dial == "SUCCESS":
        # Bridged to a loopback is voicemail (or another dialplan leg), not the person answering.
        return CallStatus.NO_ANSWER if bridged_to.startswith("loopback/") else CallStatus.ANSWERED
    if dial in ("NO_ANSWER", "ORIGINATOR_CANCEL", "ALLOTTED_TIMEOUT", "NO_USER_RESPONSE"):
        return CallStatus.NO_ANSWER
    if dial in ("USER_BUSY", "CALL_REJECTED"):
        return CallStatus.BUSY
    if dial:
        return CallStatus.FAILED
    return CallStatus.ANSWERED if _epoch(v.get("answer_epoch")) else CallStatus.NO_ANSWER


def report_from_document(doc: Mapping[str, Any]) -> CallRecordReport | None:
    """The call's report if `doc` is its A-leg; None for B-legs and internal loopback legs."""
    raw = doc.get("variables")
    if not isinstance(raw, Mapping):
        raise InvalidCdr("no variables")
    # With encode=false (what docs/operators.md asks for) values under `variables` are URL-encoded.
    v = {str(k): unquote(str(val)) for k, val in raw.items()}
    if v.get("originator") or v.get("channel_name", "").startswith("loopback/"):
        return None
    uuid = v.get("uuid") or ""
    if not uuid:
        raise InvalidCdr("no uuid")
    flow = doc.get("callflow")
    first = flow[0] if isinstance(flow, list) and flow else flow if isinstance(flow, Mapping) else {}
    profile = first.get("caller_profile", {}) if isinstance(first, Mapping) else {}
    started = _epoch(v.get("start_epoch"))
    if started is None:
        raise InvalidCdr("no start time")
    source = v.get("user_name", "") if v.get("sip_authorized") == "true" or v.get("user_name") else ""
    return CallRecordReport(
        pbx_call_id=uuid,
        call_id=v.get("call_uuid") or uuid,
        started_at=started,
        answered_at=_epoch(v.get("answer_epoch")),
        ended_at=_epoch(v.get("end_epoch")),
        duration_seconds=_int(v.get("duration")),
        billable_seconds=_int(v.get("billsec")),
        caller_name=str(profile.get("caller_id_name") or v.get("effective_caller_id_name") or ""),
        caller_number=str(profile.get("caller_id_number") or v.get("sip_from_user") or ""),
        dialed_number=str(profile.get("destination_number") or v.get("sip_to_user") or ""),
        source_endpoint=source,
        destination_endpoint=v.get("dialed_user", ""),
        status=_status(v),
        recording_path=v.get("record_file_name", ""),
    )


def report_from_body(body: bytes) -> CallRecordReport | None:
    if len(body) > MAX_BODY:
        raise InvalidCdr("body too large")
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidCdr("not JSON (is mod_json_cdr set to encode=false?)") from None
    if not isinstance(doc, Mapping):
        raise InvalidCdr("not a JSON object")
    return report_from_document(doc)


def read_error_dir(path: str | os.PathLike[str]) -> tuple[list[CallRecordReport], list[Path]]:
    """Reports from the legs mod_json_cdr could not post, and the files read (to archive afterwards)."""
    reports, files = [], []
    for f in sorted(Path(path).glob("*.cdr.json")):
        try:
            report = report_from_body(f.read_bytes())
        except (InvalidCdr, OSError):
            continue
        files.append(f)
        if report is not None:
            reports.append(report)
    return reports, files
