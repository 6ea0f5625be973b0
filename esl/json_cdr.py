"""FreeSWITCH call records as mod_json_cdr posts them (one JSON document per leg), turned into the
port's CallRecordReport.

Which legs are records (every answered leg a user took part in is a record of that user's):

* the caller's leg (the A-leg, no ``originator``): the call as a whole, for the caller and the user
  it was last connected to: ``dialed_user`` (after a blind transfer, the transfer target), or, when
  an attended transfer or a pickup joined it with someone by uuid_bridge, that person;
* a user's dialled leg whose conversation the A-leg's record does not tell (see
  ``_dialled_leg_report``): its user answered and then transferred the call away (``hangup_cause``
  or ``endpoint_disposition`` BLIND_TRANSFER / ATTENDED_TRANSFER), or was transferred by the caller
  to someone else;
* the leg that rang a user before another phone picked the call up (``hangup_cause`` PICKED_OFF):
  a "no answer" record of that user's, as Asterisk records the Dial to the rung phone.

A leg's record has the leg's uuid as its id, so the live event and the posted leg are one record.
Not records: the other dialled legs (the callee of an ordinary call, a transfer target, a ringing leg:
the A-leg's record covers them), the leg of a phone that picked up another's ringing call (``intercept``:
the caller's leg names the picker), loopback legs.

mod_json_cdr posts each leg after hangup and, when our endpoint is down, writes it to its error
directory and never resends it; `read_error_dir` picks those files up so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from clusterpbx.control.port import CallRecordReport, CallStatus

MAX_BODY = 1 << 20  # real bodies are 4-16 KB
# The variable esl/adapter.py's click-to-call sets on the leg it originates to the user's phone: the
# user's directory id (a phone cannot set channel variables).
CLICK_TO_CALL = "cpbx_click_to_call"


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


# DIALSTATUS is what switch_ivr_originate leaves on the caller's leg: its own words for the common
# outcomes (CANCEL, BUSY, NOANSWER, DONTCALL, INVALIDARGS), else the hangup cause's name, SUCCESS when
# the bridge was made. originate_disposition holds the cause's name.
_NO_ANSWER = {"NO_ANSWER", "NOANSWER", "ORIGINATOR_CANCEL", "CANCEL", "ALLOTTED_TIMEOUT", "NO_USER_RESPONSE"}
_BUSY = {"USER_BUSY", "BUSY", "CALL_REJECTED", "DONTCALL"}


def _status(v: Mapping[str, str], destination: str = "") -> CallStatus:
    """`destination`: the newest profile's destination_number of a caller's leg."""
    dial = (v.get("DIALSTATUS") or v.get("originate_disposition") or "").upper()
    if dial == "SUCCESS":
        # Bridged to a loopback running an application (`loopback/app=voicemail:...`, channel
        # loopback/voicemail-a) is voicemail, not a person answering. The generated dialplan's loopback
        # legs (forwards, follow-me: loopback/<number>-a) only bridge phones or the trunk and answer when
        # the far end does; its voicemail runs on the caller's own leg after the dial (DIALSTATUS then
        # NOANSWER or BUSY).
        bridged_to = v.get("bridge_channel", "")
        if bridged_to.startswith("loopback/") and not loopback_target(v):
            return CallStatus.NO_ANSWER
        return CallStatus.ANSWERED
    if dial in _NO_ANSWER:
        return CallStatus.NO_ANSWER
    if dial in _BUSY:
        return CallStatus.BUSY
    if dial:
        return CallStatus.FAILED
    # No phone was dialled: the generated dialplan sent the call straight on (DND or call waiting off:
    # cpbx-busy; out of office: cpbx-unavailable), to voicemail, which answers.
    if destination == "cpbx-busy":
        return CallStatus.BUSY
    if destination.startswith(_INTERNAL_DESTINATION):
        return CallStatus.NO_ANSWER
    return CallStatus.ANSWERED if _epoch(v.get("answer_epoch")) else CallStatus.NO_ANSWER


# How a leg that handed its call on ends (switch_ivr_session_transfer hangs the transferor's leg up with
# BLIND_TRANSFER; mod_sofia marks the leg that sent the REFER with the endpoint disposition: a phone's REFER
# on FreeSWITCH 1.10.12 left hangup_cause NORMAL_CLEARING, endpoint_disposition BLIND_TRANSFER, see
# tests/esl_cdr/real/). A phone's REFER with Replaces (attended transfer) leaves the leg that received it
# ANSWER and NORMAL_CLEARING: mod_sofia marks it with transfer_disposition recv_replace and transfer_to
# att:<uuid> (ATTENDED_TRANSFER lands on the transferor's consultation leg, a call of its own; see
# tests/esl_cdr/real/attended_transfer_refer/).
_HANDED_ON = ("BLIND_TRANSFER", "ATTENDED_TRANSFER")


def handed_on(v: Mapping[str, str]) -> bool:
    """The leg was answered and its user transferred the call away (blind or attended)."""
    ended = {(v.get("hangup_cause") or "").upper(), (v.get("endpoint_disposition") or "").upper()}
    replaced = v.get("transfer_disposition") == "recv_replace" or (v.get("transfer_to") or "").startswith("att:")
    return bool(_epoch(v.get("answer_epoch"))) and (replaced or any(x in ended for x in _HANDED_ON))


def _profiles(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The leg's caller profiles, newest first (after a transfer callflow[0] is the newest)."""
    flow = doc.get("callflow")
    items = flow if isinstance(flow, list) else [flow] if isinstance(flow, Mapping) else []
    out = []
    for item in items:
        profile = item.get("caller_profile") if isinstance(item, Mapping) else None
        out.append(profile if isinstance(profile, Mapping) else {})
    return out


def rebridged_to(v: Mapping[str, str], profile: Mapping[str, Any]) -> str:
    """The user a leg was last joined with by a bridge of two existing legs (switch_ivr_uuid_bridge: the
    completion of an attended transfer, a pickup by intercept), or "" when its last bridge was not one.

    uuid_bridge leaves ``transfer_source`` = ``<epoch>:<uuid>:uuid_br:<other uuid>`` and gives the newest
    profile the other leg's profile: as ``originatee`` on the bridge's first leg (there the other leg is
    a dialled leg: its destination_number is the user dialled) or as ``originator`` on the second (the
    leg that bridged itself to us, a phone's own leg: its username)."""
    if ":uuid_br:" not in v.get("transfer_source", ""):
        return ""
    for kind, field in (("originatee", "destination_number"), ("originator", "username")):
        block = profile.get(kind)
        others = block.get(f"{kind}_caller_profiles") if isinstance(block, Mapping) else None
        if isinstance(others, list) and others and isinstance(others[0], Mapping):  # the newest first
            return str(others[0].get(field) or "")
    return ""


_NUMBER = re.compile(r"\+?[0-9*#]+")  # what a forward or follow-me may name (dialplan/keys.py)


def loopback_target(v: Mapping[str, str]) -> str:
    """The number a loopback leg the caller's leg was bridged to dialled in the tenant's leg context (a
    forward's or follow-me's target: ``bridge_channel`` ``loopback/203-a``), or ""."""
    channel = v.get("bridge_channel", "")
    if not channel.startswith("loopback/") or not channel.endswith("-a"):
        return ""
    number = channel[len("loopback/"):-2]
    return number if _NUMBER.fullmatch(number) else ""


# Extensions the generated dialplan transfers a call to after ringing (dialplan/freeswitch.py: cpbx-busy,
# cpbx-noanswer, cpbx-after-<cause>, cpbx-unavailable): not what the caller dialled.
_INTERNAL_DESTINATION = "cpbx-"


def dialled_number(v: Mapping[str, str], profile: Mapping[str, Any]) -> str:
    """What the caller dialled. After a transfer the newest profile names the new destination; when the
    generated dialplan itself moved the call on (busy, no answer, voicemail), the dialled extension is
    the ``cpbx_target`` it remembered (tests/esl_cdr/real/)."""
    number = str(profile.get("destination_number") or v.get("sip_to_user") or "")
    if number.startswith(_INTERNAL_DESTINATION) and v.get("cpbx_target"):
        return v["cpbx_target"]
    return number


def namespace(v: Mapping[str, str], profile: Mapping[str, Any]) -> tuple[str, str]:
    """(context, domain): where the leg ran, so a bare number is looked up in the right tenant (two
    tenants of a node may both have a 201). The context is the leg's dialplan context (the directory's
    user_context, cpbx-<slug>, for a phone's leg); the domain the directory domain its user
    authenticated in (``domain_name``) or was dialled in (``dialed_domain``), never the From host a
    caller chooses."""
    context = str(profile.get("context") or v.get("user_context") or "")
    domain = v.get("domain_name") or v.get("dialed_domain") or ""
    return context[:80], domain[:255]


def report_from_document(doc: Mapping[str, Any]) -> CallRecordReport | None:
    """The leg's report if it is a record (see the module docstring); None for the other dialled legs
    and internal loopback legs."""
    raw = doc.get("variables")
    if not isinstance(raw, Mapping):
        raise InvalidCdr("no variables")
    # With encode=false (what docs/operators.md asks for) values under `variables` are URL-encoded.
    v = {str(k): unquote(str(val)) for k, val in raw.items()}
    if v.get("channel_name", "").startswith("loopback/"):
        return None
    profiles = _profiles(doc)
    newest = profiles[0] if profiles else {}
    if v.get(CLICK_TO_CALL) and not v.get("originator"):
        # A click-to-call's first leg: its user is the caller (a user of the directory, as if the phone had
        # called), named as the directory names them; FreeSWITCH gave the leg, when it entered the
        # dialplan, the originate's callee profile ("Outbound Call" <u201>) as its caller.
        v["user_name"] = v[CLICK_TO_CALL]
        newest = {**newest, "caller_id_name": v.get("effective_caller_id_name", ""),
                  "caller_id_number": v.get("effective_caller_id_number") or v[CLICK_TO_CALL]}
    partner = rebridged_to(v, newest)
    if v.get("originator"):
        return _dialled_leg_report(v, profiles, partner)
    if (v.get("last_app") or v.get("current_application")) == "intercept":
        # a phone picking up another's ringing call: that call's record is the picker's (the caller's
        # leg names the picker as the user it was answered by)
        return None
    uuid = v.get("uuid") or ""
    if not uuid:
        raise InvalidCdr("no uuid")
    started = _epoch(v.get("start_epoch"))
    if started is None:
        raise InvalidCdr("no start time")
    answered = _epoch(v.get("answer_epoch"))
    source = v.get("user_name", "") if v.get("sip_authorized") == "true" or v.get("user_name") else ""
    context, domain = namespace(v, newest)
    # A phone's caller ID is what its From header says (any display name it likes); a user's own call is
    # named as the directory names them (effective_caller_id_*, set from the directory entry the phone
    # authenticated as, dialplan/freeswitch.py directory_domain).
    name = str(newest.get("caller_id_name") or v.get("effective_caller_id_name") or "")
    number = str(newest.get("caller_id_number") or v.get("sip_from_user") or "")
    if source and v.get("effective_caller_id_number"):
        name, number = v.get("effective_caller_id_name", ""), v["effective_caller_id_number"]
    status = CallStatus.ANSWERED if partner and answered else _status(v, str(newest.get("destination_number") or ""))
    return CallRecordReport(
        pbx_call_id=uuid,
        call_id=v.get("call_uuid") or uuid,
        started_at=started,
        answered_at=answered,
        ended_at=_epoch(v.get("end_epoch")),
        duration_seconds=_int(v.get("duration")),
        billable_seconds=_int(v.get("billsec")),
        caller_name=name,
        caller_number=number,
        dialed_number=dialled_number(v, newest),
        source_endpoint=source,
        # answered through a loopback leg (a forward, follow-me): the number it dialled, looked up in the
        # tenant (control/callrecords.rows_for)
        destination_endpoint=partner or (loopback_target(v) if status is CallStatus.ANSWERED else "")
        or v.get("dialed_user", ""),
        # joined with a person after the dial (attended transfer, pickup): answered whatever the dial said
        status=status,
        recording_path=v.get("record_file_name", ""),
        context=context,
        domain=domain,
    )


def _caller_dialled(dialled: Mapping[str, Any]) -> str:
    """What the caller dialled, from the caller's profile nested in a dialled leg's first profile."""
    block = dialled.get("originator")
    others = block.get("originator_caller_profiles") if isinstance(block, Mapping) else None
    if isinstance(others, list) and others and isinstance(others[0], Mapping):
        return str(others[0].get("destination_number") or "")
    return ""


def _dialled_leg_report(v: Mapping[str, str], profiles: list[Mapping[str, Any]],
                        partner: str) -> CallRecordReport | None:
    """A dialled leg is its user's own record when its conversation is not the one the caller's leg
    reports; otherwise (the ordinary callee, a transfer target, a ringing leg) the caller's leg covers
    it: None. The leg's user is the one it was dialled for (``user/<id>`` sets ``dialed_user`` on it);
    its record is:

    * its user answered and transferred the call away (blind or attended): theirs alone, the caller
      named by the number the leg presented (which an outside caller chooses: no attribution from it;
      the caller has their own record);
    * it rang and another phone picked the call up (``hangup_cause`` PICKED_OFF): a "no answer" record
      of its user alone, as Asterisk writes the Dial pairing with the rung channel (NO ANSWER);
    * its user was transferred to someone else by the caller (blind: the leg ran the dialplan again,
      ``transfer_source`` ``...:bl_xfer:...``, and dialled ``dialed_user``; attended: it is the first
      leg of the uuid_bridge that completed the transfer): its user and that other user.
    """
    uuid = v.get("uuid") or ""
    dialled = profiles[-1] if profiles else {}  # the profile the leg was dialled with: the oldest
    redialled = ":bl_xfer:" in v.get("transfer_source", "")
    # once the leg dialled someone itself, dialed_user names them; presence_data (the directory user,
    # set on the leg when it was dialled: dialplan/freeswitch.py DIAL_STRING; presence_id before it) and
    # its first profile still name its own user
    own = v.get("dialed_user", "")
    if redialled:
        own = (v.get("presence_data", "").partition("@")[0] or v.get("presence_id", "").partition("@")[0]
               or str(dialled.get("destination_number") or ""))
    answered = _epoch(v.get("answer_epoch"))
    first_of_bridge = bool(partner) and isinstance((profiles[0] if profiles else {}).get("originatee"), Mapping)
    other = partner if first_of_bridge else v.get("dialed_user", "") if redialled else ""
    picked_off = answered is None and (v.get("hangup_cause") or "").upper() == "PICKED_OFF"
    if not uuid or not own or not (picked_off or (answered is not None and (handed_on(v) or (other and other != own)))):
        return None
    started = _epoch(v.get("start_epoch"))
    if started is None:
        raise InvalidCdr("no start time")
    if handed_on(v) or picked_off:
        name = str(dialled.get("caller_id_name") or v.get("caller_id_name") or "")
        number = str(dialled.get("caller_id_number") or v.get("sip_from_user") or "")
        # the number the caller dialled (the caller's profile nested as originator): the dialled profile's
        # destination is the directory id user/ was given, a SIP username such as u1001 on our dialplan
        source, destination, dialed = "", own, _caller_dialled(dialled) or str(dialled.get("destination_number") or own)
        status = CallStatus.NO_ANSWER if picked_off else CallStatus.ANSWERED
    else:
        name, number = "", own
        source, destination, dialed = own, other, other
        status = CallStatus.ANSWERED if first_of_bridge else _status(v)
    context, domain = namespace(v, profiles[0] if profiles else {})
    return CallRecordReport(
        pbx_call_id=uuid,
        call_id=v.get("originator") or uuid,
        started_at=started,
        answered_at=answered,
        ended_at=_epoch(v.get("end_epoch")),
        duration_seconds=_int(v.get("duration")),
        billable_seconds=_int(v.get("billsec")),
        caller_name=name,
        caller_number=number,
        dialed_number=dialed,
        source_endpoint=source,
        destination_endpoint=destination,
        status=status,
        recording_path=v.get("record_file_name", ""),
        context=context,
        domain=domain,
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
