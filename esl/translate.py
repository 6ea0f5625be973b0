"""FreeSWITCH events -> the port's domain events, as a pure synchronous state machine (feed it parsed
events, get domain events back), so recorded real sessions replay into it unchanged.

A call is identified by its A-leg uuid (what mod_json_cdr's report and ``show channels``' call_uuid
use). A leg belongs to the call named by, in order: ``variable_originator`` (a bridged B-leg),
``variable_cc_member_session_uuid`` (a mod_callcenter agent leg), ``variable_other_loopback_from_uuid``
(a loopback leg), the call an earlier event put it in, else its own uuid (the A-leg).

* CallStarted: CHANNEL_CREATE of the A-leg (loopback legs never start a call).
* CallRinging: CHANNEL_PROGRESS of a B-leg.
* CallAnswered: the first CHANNEL_ANSWER of a B-leg that is not a loopback (a person picked up), or the
  A-leg joining a conference. FreeSWITCH answering the caller itself (voicemail, queue music) is not
  an answer, and neither is the user picking up the first leg of a click-to-call.
* CallBridged: CHANNEL_BRIDGE; ``other_call_id`` only when two different calls are joined.
* CallEnded: CHANNEL_HANGUP_COMPLETE of the A-leg.
* CallRecorded: CHANNEL_HANGUP_COMPLETE of every leg ``esl.json_cdr.report_from_document`` makes a
  record of (the A-leg; a transferor's leg; a leg transferred to someone else), built from the event's
  variables and profile (with the Other-Leg block), so a live record and the one mod_json_cdr posts
  for the same leg are identical (same pbx_call_id, the leg's uuid) and the daemon's idempotent
  ingestion never counts a leg twice. That includes the leg mod_callcenter originates to an agent
  (it has no originator).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from clusterpbx.control.clock import utcnow
from clusterpbx.control.port import (
    CallAnswered,
    CallBridged,
    CallEnded,
    CallRecorded,
    CallRecordReport,
    CallRinging,
    CallStarted,
    CallState,
    ConferenceChanged,
    ConferenceParticipant,
    FeatureChanged,
    MailboxChanged,
    MailboxCounts,
    PbxCall,
    PbxEvent,
    QueueMember,
    QueueMemberChanged,
    RegistrationChanged,
    RegistrationState,
)

from . import json_cdr
from .protocol import EslEvent

# The CUSTOM event the generated dialplan fires when a feature code changes a setting (dialplan/freeswitch.py).
FEATURE_SUBCLASS = "cpbx::feature"
AGENT_LOGGED_OUT = "Logged Out"
AGENT_ON_BREAK = "On Break"
AGENT_IN_CALL_STATES = ("In a queue call",)

# Dial outcome of an unanswered call -> the port's cause words (as the Asterisk adapter reports them).
_UNANSWERED_CAUSE = {
    "NO_ANSWER": "no_answer", "NOANSWER": "no_answer", "ALLOTTED_TIMEOUT": "no_answer",
    "NO_USER_RESPONSE": "no_answer", "USER_BUSY": "busy", "BUSY": "busy", "CALL_REJECTED": "busy",
    "ORIGINATOR_CANCEL": "cancelled", "CANCEL": "cancelled",
}


def from_micros(value: str | None) -> dt.datetime | None:
    try:
        us = int(value or "0")
    except ValueError:
        return None
    if us <= 0:
        return None
    return dt.datetime.fromtimestamp(us / 1_000_000, dt.UTC).replace(tzinfo=None)


def from_epoch(value: str | None) -> dt.datetime | None:
    try:
        s = int(value or "0")
    except ValueError:
        return None
    return dt.datetime.fromtimestamp(s, dt.UTC).replace(tzinfo=None) if s > 0 else None


def event_time(ev: EslEvent) -> dt.datetime:
    return from_micros(ev.get("Event-Date-Timestamp")) or utcnow()


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def record_from_variables(variables: Mapping[str, str], profile: Mapping[str, object], *,
                          encoded: bool = False) -> CallRecordReport | None:
    """The call record json_cdr would give for this leg (its newest profile, as the event carries it);
    None for the legs json_cdr does not report.

    json_cdr URL-decodes what mod_json_cdr posts; decoded values are quoted again here (``encoded``:
    they are still URL-encoded, as a plain event carries them) and the very same function decides
    every field.
    """
    doc = {
        "variables": dict(variables) if encoded else {k: quote(v, safe="") for k, v in variables.items()},
        "callflow": [{"caller_profile": dict(profile)}],
    }
    try:
        return json_cdr.report_from_document(doc)
    except json_cdr.InvalidCdr:
        return None


@dataclass
class _Call:
    call_id: str
    started_at: dt.datetime
    source_number: str = ""
    caller_name: str = ""
    destination_number: str = ""
    source_uri: str = ""
    source_ip: str = ""
    destination_uri: str = ""
    destination_ip: str = ""
    answered_at: dt.datetime | None = None
    legs: set[str] = field(default_factory=set)
    dial_status: str = ""
    source_endpoint: str = ""
    destination_endpoint: str = ""
    context: str = ""
    domain: str = ""

    def live(self) -> PbxCall:
        return PbxCall(call_id=self.call_id, started_at=self.started_at,
                        state=CallState.ANSWERED if self.answered_at else CallState.RINGING,
                        source_number=self.source_number, destination_number=self.destination_number,
                        source_uri=self.source_uri, destination_uri=self.destination_uri,
                        source_ip=self.source_ip, destination_ip=self.destination_ip,
                        answered_at=self.answered_at, caller_name=self.caller_name,
                        source_endpoint=self.source_endpoint, destination_endpoint=self.destination_endpoint,
                        context=self.context, domain=self.domain)


def _is_loopback(h: Mapping[str, str]) -> bool:
    return h.get("Channel-Name", "").startswith("loopback/")


def _presence(row: Mapping[str, str]) -> tuple[str, str, str]:
    """(endpoint, number, domain) of a `show channels` row. The generated directory gives a phone's legs
    presence_id <extension number>@<tenant domain> (what phones watch) and presence_data
    <directory user>@<tenant domain> (the endpoint); without presence_data (a channel from an older
    directory, or FreeSWITCH's default of the From user) presence_id names both."""
    number, _at, domain = row.get("presence_id", "").partition("@")
    endpoint, _at, data_domain = row.get("presence_data", "").partition("@")
    if not endpoint or not data_domain:
        return number, number, domain
    return endpoint, number or endpoint, data_domain


def _sip_uri(user: str, host: str) -> str:
    return f"sip:{user}@{host}" if user and host else ""


@dataclass
class AgentInfo:
    status: str = AGENT_LOGGED_OUT
    state: str = "Waiting"


class EventTranslator:
    """Feed parsed ESL events, get domain events. ``member_interface`` turns an agent name back into the
    interface the portal uses (``1001@default`` -> ``PJSIP/1001``); ``mailbox_name`` does the same for
    ``box@domain`` mailboxes."""

    def __init__(self, member_interface: Callable[[str], str] | None = None,
                 mailbox_name: Callable[[str, str], str] | None = None, domain: str = "") -> None:
        # the node's own domain; registrations of every domain are kept (each tenant is a directory
        # domain of the node, and a directory user id is unique across them: see _on_register)
        self.domain = domain
        self.member_interface = member_interface or (lambda agent: agent)
        self.mailbox_name = mailbox_name or (lambda box, domain: f"{box}@{domain}")
        self.calls: dict[str, _Call] = {}
        self.legs: dict[str, str] = {}  # leg uuid -> call id
        self.agents: dict[str, AgentInfo] = {}
        self.tiers: dict[str, set[str]] = {}  # agent -> queues
        self.pause_reasons: dict[str, str] = {}  # agent -> reason (see the adapter)

    def reset(self) -> None:
        """After a reconnect: what was tracked is stale until the next snapshot."""
        self.calls.clear()
        self.legs.clear()

    # ---------------------------------------------------------------- dispatch

    def feed(self, ev: EslEvent) -> list[PbxEvent]:
        name = ev.name
        if name == "CUSTOM":
            handler = _CUSTOM.get(ev.subclass)
        else:
            handler = _EVENTS.get(name)
        if handler is None:
            return []
        return handler(self, ev, event_time(ev))

    def feed_all(self, events: Iterable[EslEvent]) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        for ev in events:
            out.extend(self.feed(ev))
        return out

    # ---------------------------------------------------------------- calls

    def call_id_of(self, h: Mapping[str, str]) -> str:
        uuid = h.get("Unique-ID", "")
        for name in ("variable_originator", "variable_cc_member_session_uuid",
                     "variable_other_loopback_from_uuid"):
            other = h.get(name, "")
            if other and other != uuid:
                return self.legs.get(other, other)
        return self.legs.get(uuid, uuid)

    def _on_create(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        h = ev.headers
        uuid = h.get("Unique-ID", "")
        if not uuid:
            return []
        call_id = self.call_id_of(h)
        self.legs[uuid] = call_id
        if call_id != uuid:
            call = self.calls.get(call_id)
            if call is not None:
                call.legs.add(uuid)
            return []
        if _is_loopback(h) or call_id in self.calls:
            return []
        started = from_micros(h.get("Caller-Channel-Created-Time")) or at
        user = h.get("Caller-Caller-ID-Number", "")
        call = _Call(call_id=call_id, started_at=started, source_number=user,
                     caller_name=h.get("Caller-Caller-ID-Name", ""),
                     destination_number=h.get("Caller-Destination-Number", ""),
                     source_ip=h.get("Caller-Network-Addr", ""),
                     source_uri=_sip_uri(h.get("variable_sip_from_user", ""), h.get("variable_sip_from_host", "")),
                     legs={uuid},
                     # the tenant: the directory user the phone authenticated as, its user_context
                     # (cpbx-<slug>) and directory domain; not the From header a caller writes
                     source_endpoint=h.get("variable_user_name", ""),
                     context=(h.get("Caller-Context") or h.get("variable_user_context", ""))[:80],
                     domain=h.get("variable_domain_name", "")[:255])
        if h.get("Call-Direction") == "outbound":
            # an originated first leg (click to call) rings the user, who is calling: the number dialed
            # once they answer is known from the B-leg (CallRinging / CallAnswered)
            call.source_number = h.get("variable_dialed_user") or h.get("Caller-Destination-Number", "") or user
            call.source_endpoint = h.get("variable_dialed_user", "")
            call.domain = h.get("variable_dialed_domain", "")[:255] or call.domain
            call.destination_number = ""
            call.caller_name = ""
        self.calls[call_id] = call
        return [CallStarted(at, call.live())]

    def _destination(self, call: _Call, h: Mapping[str, str]) -> None:
        user = h.get("variable_dialed_user") or h.get("Caller-Destination-Number", "")
        if user and not _is_loopback(h):
            call.destination_number = user
            # user/<id>@<domain> dialled a directory user: its id is the endpoint, its domain the tenant's
            call.destination_endpoint = h.get("variable_dialed_user", "") or call.destination_endpoint
            call.domain = call.domain or h.get("variable_dialed_domain", "")[:255]
        ip = h.get("variable_sip_network_ip") or h.get("Caller-Network-Addr", "")
        if ip:
            call.destination_ip = ip
        uri = h.get("variable_sip_destination_url") or h.get("variable_sip_contact_uri", "")
        if uri:
            call.destination_uri = uri.split(";")[0] if uri.startswith("sip:") else f"sip:{uri.split(';')[0]}"

    def _b_leg(self, ev: EslEvent) -> tuple[str, _Call | None]:
        h = ev.headers
        uuid = h.get("Unique-ID", "")
        call_id = self.call_id_of(h)
        if uuid and uuid not in self.legs:
            self.legs[uuid] = call_id
        return call_id, self.calls.get(call_id)

    def _on_progress(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        h = ev.headers
        call_id, call = self._b_leg(ev)
        if call is None or call_id == h.get("Unique-ID") or _is_loopback(h):
            return []
        self._destination(call, h)
        return [CallRinging(at, call_id, destination_number=call.destination_number,
                            destination_uri=call.destination_uri, destination_ip=call.destination_ip,
                            destination_endpoint=call.destination_endpoint)]

    def _answered(self, call: _Call, at: dt.datetime, when: dt.datetime | None = None) -> list[PbxEvent]:
        if call.answered_at is not None:
            return []
        call.answered_at = when or at
        return [CallAnswered(at, call.call_id, destination_number=call.destination_number,
                             destination_uri=call.destination_uri, destination_ip=call.destination_ip,
                             destination_endpoint=call.destination_endpoint)]

    def _on_answer(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        h = ev.headers
        call_id, call = self._b_leg(ev)
        if call is None or call_id == h.get("Unique-ID") or _is_loopback(h):
            return []
        self._destination(call, h)
        return self._answered(call, at, from_micros(h.get("Caller-Channel-Answered-Time")))

    def _on_bridge(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        h = ev.headers
        call_id, call = self._b_leg(ev)
        other_leg = h.get("Other-Leg-Unique-ID", "")
        other_call = self.legs.get(other_leg, "") if other_leg else ""
        if call is None:
            return []
        return [CallBridged(at, call_id, other_call_id=other_call if other_call and other_call != call_id else "")]

    def _on_hangup_complete(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        h = ev.headers
        uuid = h.get("Unique-ID", "")
        call_id = self.call_id_of(h)
        self.legs.pop(uuid, None)
        out: list[PbxEvent] = []
        call = self.calls.get(call_id)
        if call is not None:
            call.legs.discard(uuid)
        if call is not None and call_id == uuid:
            del self.calls[call_id]
            for leg in call.legs:
                self.legs.pop(leg, None)
            code = _int(h.get("variable_hangup_cause_q850"))
            hangup = h.get("Hangup-Cause") or h.get("variable_hangup_cause", "")
            dial = (h.get("variable_DIALSTATUS") or h.get("variable_originate_disposition") or "").upper()
            if call.answered_at is None and dial in _UNANSWERED_CAUSE:
                cause = _UNANSWERED_CAUSE[dial]
            elif call.answered_at is None and hangup in _UNANSWERED_CAUSE:
                cause = _UNANSWERED_CAUSE[hangup]
            else:
                cause = hangup.lower() or "normal_clearing"
            out.append(CallEnded(at, call_id, cause=cause, cause_code=code))
        profile: dict[str, object] = {
            "caller_id_name": h.get("Caller-Caller-ID-Name", ""),
            "caller_id_number": h.get("Caller-Caller-ID-Number", ""),
            "destination_number": h.get("Caller-Destination-Number", ""),
            "context": h.get("Caller-Context", ""),
        }
        other = h.get("Other-Type", "")
        if other in ("originator", "originatee"):
            # the other leg's profile, as mod_json_cdr nests it (json_cdr.rebridged_to reads it)
            profile[other] = {f"{other}_caller_profiles": [{
                "username": h.get("Other-Leg-Username", ""),
                "caller_id_number": h.get("Other-Leg-Caller-ID-Number", ""),
                "destination_number": h.get("Other-Leg-Destination-Number", ""),
            }]}
        record = record_from_variables(ev.encoded_variables(), profile, encoded=True)
        if record is not None:
            out.append(CallRecorded(at, record))
        return out

    def load_channels(self, rows: Iterable[Mapping[str, str]], now: dt.datetime | None = None) -> list[PbxCall]:
        """Rebuild the live calls from a ``show channels as json`` snapshot (rows of both legs)."""
        rows = list(rows)
        calls: dict[str, _Call] = {}
        legs: dict[str, str] = {}
        by_uuid = {r.get("uuid", ""): r for r in rows}
        # A-legs first: rows whose call_uuid is their own uuid (or whose call is not listed)
        for r in rows:
            uuid = r.get("uuid", "")
            call_id = r.get("call_uuid") or uuid
            if call_id not in by_uuid:
                call_id = uuid
            legs[uuid] = call_id
            if call_id != uuid or r.get("name", "").startswith("loopback/"):
                continue
            started = from_epoch(r.get("created_epoch")) or now or utcnow()
            endpoint, number, domain = _presence(r)
            call = _Call(call_id=call_id, started_at=started, source_number=r.get("cid_num", ""),
                         caller_name=r.get("cid_name", ""), destination_number=r.get("dest", ""),
                         source_ip=r.get("ip_addr", ""), legs={uuid}, source_endpoint=endpoint,
                         context=r.get("context", "")[:80], domain=domain[:255])
            if r.get("direction") == "outbound":
                # an originated first leg (click to call): its user is the caller
                user = number or r.get("dest", "")
                call.source_number, call.caller_name = user, ""
                call.destination_number = "" if r.get("dest") == user else r.get("dest", "")
            calls[call_id] = call
            if r.get("callstate") == "ACTIVE" and r.get("application") == "conference":
                calls[call_id].answered_at = started  # joining a conference counts as answered
        for r in rows:
            uuid = r.get("uuid", "")
            owner = calls.get(legs[uuid])
            if owner is None or legs[uuid] == uuid or r.get("name", "").startswith("loopback/"):
                continue
            owner.legs.add(uuid)
            endpoint, number, domain = _presence(r)
            user = number or r.get("dest", "")
            if user:
                owner.destination_number = user
            if endpoint:
                owner.destination_endpoint = endpoint
                owner.domain = owner.domain or domain[:255]
            owner.destination_ip = r.get("ip_addr", "") or owner.destination_ip
            if r.get("callstate") == "ACTIVE" and owner.answered_at is None:
                owner.answered_at = from_epoch(r.get("created_epoch")) or owner.started_at
        self.calls = calls
        self.legs = legs
        return [c.live() for c in calls.values()]

    # ---------------------------------------------------------------- registrations

    def _on_register(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        h = ev.headers
        # Any realm: every tenant of the node registers its phones in its own directory domain; the
        # endpoint is the directory user id (the portal's SIP user name, unique across tenants).
        user = h.get("username") or h.get("from-user", "")
        if not user:
            return []
        registered = ev.subclass == "sofia::register"
        contact = h.get("contact", "")
        if "<" in contact:
            contact = contact.split("<", 1)[1].split(">", 1)[0]
        return [RegistrationChanged(at, RegistrationState(
            endpoint=user, registered=registered, contact=contact if registered else "",
            user_agent=h.get("user-agent", "")))]

    # ---------------------------------------------------------------- mod_callcenter

    def member(self, queue: str, agent: str) -> QueueMember:
        info = self.agents.get(agent, AgentInfo())
        paused = info.status == AGENT_ON_BREAK
        return QueueMember(queue=queue, interface=self.member_interface(agent), member_name=agent,
                           logged_in=info.status != AGENT_LOGGED_OUT, paused=paused,
                           pause_reason=self.pause_reasons.get(agent, "") if paused else "",
                           in_call=info.state in AGENT_IN_CALL_STATES)

    def _on_callcenter(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        action = ev.get("CC-Action")
        agent = ev.get("CC-Agent")
        if not agent or action not in ("agent-status-change", "agent-state-change"):
            if action == "agent-offering" and agent and ev.get("CC-Queue"):
                self.tiers.setdefault(agent, set()).add(ev.get("CC-Queue"))
            return []
        info = self.agents.setdefault(agent, AgentInfo())
        if action == "agent-status-change":
            info.status = ev.get("CC-Agent-Status", info.status)
            if info.status != AGENT_ON_BREAK:
                self.pause_reasons.pop(agent, None)
        else:
            info.state = ev.get("CC-Agent-State", info.state)
        # mod_callcenter's status is the agent's, in every queue it has a tier in
        return [QueueMemberChanged(at, self.member(q, agent)) for q in sorted(self.tiers.get(agent, ()))]

    # ---------------------------------------------------------------- conferences and voicemail

    def _on_conference(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        action = ev.get("Action")
        room = ev.get("Conference-Name")
        if action in ("conference-create", "conference-destroy"):
            return [ConferenceChanged(at, room, left=action == "conference-destroy")]
        if action not in ("add-member", "del-member", "mute-member", "unmute-member", "kick-member"):
            return []
        p = ConferenceParticipant(participant_id=ev.get("Member-ID"), caller_number=ev.get("Caller-Caller-ID-Number"),
                                  caller_name=ev.get("Caller-Caller-ID-Name"),
                                  admin=ev.get("Member-Type") == "moderator", muted=ev.get("Speak") == "false")
        out: list[PbxEvent] = []
        if action == "add-member":
            call = self.calls.get(self.call_id_of(ev.headers))
            if call is not None:
                out.extend(self._answered(call, at))
        out.append(ConferenceChanged(at, room, p, left=action in ("del-member", "kick-member")))
        return out

    def _on_voicemail(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        if ev.get("VM-Action") != "mwi-update":
            return []
        counts = MailboxCounts(new=_int(ev.get("VM-Total-New")), old=_int(ev.get("VM-Total-Saved")),
                               urgent=_int(ev.get("VM-Total-New-Urgent")))
        return [MailboxChanged(at, self.mailbox_name(ev.get("VM-User"), ev.get("VM-Domain")), counts)]

    # ---------------------------------------------------------------- phone feature codes

    def _on_feature(self, ev: EslEvent, at: dt.datetime) -> list[PbxEvent]:
        """The generated dialplan's ``event`` application after *76, *45, *46 (CUSTOM cpbx::feature, headers
        owner=<ext>@<tenant domain>, feature, value); anything not exactly that is dropped."""
        event = FeatureChanged.parse(at, ev.get("owner"), ev.get("feature"), ev.get("value"), freeswitch=True)
        return [event] if event is not None else []


_EVENTS: dict[str, Callable[[EventTranslator, EslEvent, dt.datetime], list[PbxEvent]]] = {
    "CHANNEL_CREATE": EventTranslator._on_create,
    "CHANNEL_PROGRESS": EventTranslator._on_progress,
    "CHANNEL_ANSWER": EventTranslator._on_answer,
    "CHANNEL_BRIDGE": EventTranslator._on_bridge,
    "CHANNEL_HANGUP_COMPLETE": EventTranslator._on_hangup_complete,
}
_CUSTOM: dict[str, Callable[[EventTranslator, EslEvent, dt.datetime], list[PbxEvent]]] = {
    "sofia::register": EventTranslator._on_register,
    "sofia::unregister": EventTranslator._on_register,
    "sofia::expire": EventTranslator._on_register,
    "callcenter::info": EventTranslator._on_callcenter,
    "conference::maintenance": EventTranslator._on_conference,
    "vm::maintenance": EventTranslator._on_voicemail,
    FEATURE_SUBCLASS: EventTranslator._on_feature,
}
