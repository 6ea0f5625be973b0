"""AMI events -> the port's domain events, as a pure synchronous state machine (feed it event dicts, get
domain events back), so recorded real sessions can be replayed into it.

Calls are grouped by ``Linkedid`` (the call id). Where each live-call field comes from:

* ``started_at``: the clock when the call's first channel appeared (Newchannel; for a snapshot,
  now minus the CoreShowChannel ``Duration`` of its oldest channel).
* ``source_number`` / ``caller_name``: ``CallerIDNum`` / ``CallerIDName`` of the originating channel
  (the one whose Uniqueid equals the Linkedid); ``destination_number``: its dialled ``Exten`` (``s``
  and empty are not numbers), replaced by the endpoint of the leg that rings or answers when that leg
  is a local phone.
* ``source_uri`` / ``source_ip`` and ``destination_uri`` / ``destination_ip``: AMI call events carry no
  SIP addresses, so they come from the registered contact of the channel's PJSIP endpoint (the part
  of ``PJSIP/<endpoint>-<seq>`` before the dash): the contact ``URI`` and ``ViaAddress`` of
  ContactStatus events and of the PJSIPShowContacts snapshot (``Uri``, ``ViaAddr``), overridden by the
  ``RemoteAddress`` of a PJSIP SuccessfulAuth (the address the INVITE really came from). Trunk legs and
  Local channels have none.
* answered: the first DialEnd with ``DialStatus: ANSWER`` whose destination is not a Local channel
  (call forwarding dials through Local/ channels; the real phone's DialEnd comes first); an
  originate's own first leg (DialEnd without a calling channel) is the user picking up for a
  click-to-call, not the call being answered. Joining a ConfBridge also counts as answered. A call
  answered by voicemail or a queue's hold music (the PBX answering itself) is not answered.
* ended: when the last channel of the Linkedid hangs up. The cause is the last DialEnd status when
  nobody answered (NOANSWER -> no_answer, BUSY -> busy, CANCEL -> cancelled, CONGESTION/CHANUNAVAIL ->
  failed), otherwise the Q.850 cause of the originating channel's Hangup.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

from clusterpbx.control.clock import utcnow
from clusterpbx.control.port import (
    CallAnswered,
    CallBridged,
    CallEnded,
    CallRecorded,
    CallRinging,
    CallStarted,
    CallState,
    CallTransferred,
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

from . import cdr

Clock = Callable[[], dt.datetime]

# The endpoint is everything before the channel's sequence number (the last dash): endpoint names may
# hold dashes themselves (a second tenant's 201 is the endpoint 201-t2, control/admin/users.py).
_PJSIP = re.compile(r"^(?:PJSIP|SIP)/(?P<endpoint>[^/@;]+)-[0-9a-fA-F]+$")
_UNKNOWN = {"", "<unknown>", "unknown"}
_NOT_A_NUMBER = {"", "s", "h", "i", "t"}
# Channels that are not calls: the SIP MESSAGE queue (recording 25) lives on without a Hangup.
_NOT_CALLS = ("Message/",)

# Q.850 cause code -> the port's cause words.
CAUSES = {
    0: "normal_clearing", 1: "unallocated_number", 3: "no_route", 16: "normal_clearing", 17: "busy",
    18: "no_answer", 19: "no_answer", 20: "subscriber_absent", 21: "call_rejected", 22: "number_changed",
    27: "destination_out_of_order", 28: "invalid_number", 31: "normal_unspecified", 34: "congestion",
    38: "network_out_of_order", 41: "temporary_failure", 42: "congestion", 66: "channel_unavailable",
    127: "interworking",
}
_DIAL_STATUS_CAUSE = {"NOANSWER": "no_answer", "BUSY": "busy", "CANCEL": "cancelled", "CONGESTION": "failed",
                      "CHANUNAVAIL": "failed", "INVALIDARGS": "failed"}
# The UserEvent the generated dialplan sends when a feature code changes a setting (dialplan/asterisk.py).
FEATURE_USEREVENT = "CPBXFeature"
# ContactStatus values that mean "a registration exists".
_REGISTERED = {"created", "reachable", "nonqualified", "updated", "unknown"}


def endpoint_of(channel_name: str) -> str:
    """'PJSIP/101-00000000' -> '101', 'PJSIP/201-t2-0000000a' -> '201-t2'; Local/, trunk-less or odd
    names -> ''."""
    m = _PJSIP.match(channel_name or "")
    return m.group("endpoint") if m else ""


def _clean(value: str | None) -> str:
    value = (value or "").strip()
    return "" if value in _UNKNOWN else value


def _yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "1", "on")


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        return default


def lower_keys(event: Mapping[str, object]) -> dict[str, str]:
    """Header names lower-cased; a header repeated in one message keeps its last value."""
    # A message of ami.protocol keeps them ready (read-only, shared: no handler writes to it).
    flat = getattr(event, "flat", None)
    if type(flat) is dict:
        return flat
    # panoramisk's CaseInsensitiveDict already keeps lower-cased keys: reading them directly is the
    # difference between this function dominating the event path and not showing up in a profile.
    store = getattr(event, "_store", None)
    pairs = ((k, v) for k, (_orig, v) in store.items()) if isinstance(store, dict) else \
        ((k.lower(), v) for k, v in event.items())
    out: dict[str, str] = {}
    for k, v in pairs:
        out[k] = v if type(v) is str else v[-1] if isinstance(v, list) and v else str(v) if v is not None else ""
    return out


@dataclass
class Contact:
    uri: str = ""
    ip: str = ""
    user_agent: str = ""


@dataclass
class _Channel:
    name: str
    uniqueid: str
    linkedid: str
    endpoint: str
    caller_num: str = ""
    caller_name: str = ""
    exten: str = ""
    context: str = ""
    state: str = ""
    created_at: dt.datetime | None = None

    @property
    def local(self) -> bool:
        return self.name.startswith("Local/")


@dataclass
class _Call:
    call_id: str
    started_at: dt.datetime
    origin: str  # uniqueid of the originating channel
    source_number: str = ""
    caller_name: str = ""
    source_endpoint: str = ""
    destination_number: str = ""
    destination_endpoint: str = ""
    context: str = ""  # the originating channel's tenant context (cpbx-<slug>...), else its first context
    answered_at: dt.datetime | None = None
    channels: set[str] = field(default_factory=set)
    rung: set[str] = field(default_factory=set)
    dial_status: str = ""
    origin_cause: int | None = None
    announced: bool = False


class EventTranslator:
    """Feed AMI events (``feed``) and CoreShowChannels snapshots (``load_channels``); read live calls."""

    def __init__(self, tz: ZoneInfo | None = None, clock: Clock = utcnow, voicemail_context: str = "default"):
        self.tz = tz or ZoneInfo("UTC")
        self.clock = clock
        self.voicemail_context = voicemail_context
        self.contacts: dict[str, Contact] = {}
        self._channels: dict[str, _Channel] = {}
        self._calls: dict[str, _Call] = {}
        self._bridges: dict[str, set[str]] = {}
        self._cdr_channels = cdr.ChannelRecords()  # whose call records were read (a VoiceMail record's first?)

    # ---------------------------------------------------------------- contacts

    def set_contact(self, endpoint: str, uri: str = "", ip: str = "", user_agent: str = "") -> None:
        c = self.contacts.setdefault(endpoint, Contact())
        c.uri = uri or c.uri
        c.ip = ip or c.ip or _host_of(uri)
        c.user_agent = user_agent or c.user_agent

    def _contact(self, endpoint: str) -> Contact:
        return self.contacts.get(endpoint, Contact()) if endpoint else Contact()

    # ---------------------------------------------------------------- live calls

    def live_calls(self) -> list[PbxCall]:
        return [self._live(c) for c in sorted(self._calls.values(), key=lambda c: c.started_at)]

    def _live(self, call: _Call) -> PbxCall:
        src, dst = self._contact(call.source_endpoint), self._contact(call.destination_endpoint)
        return PbxCall(
            call_id=call.call_id, started_at=call.started_at,
            state=CallState.ANSWERED if call.answered_at else CallState.RINGING,
            source_number=call.source_number, destination_number=call.destination_number,
            source_uri=src.uri, destination_uri=dst.uri, source_ip=src.ip, destination_ip=dst.ip,
            answered_at=call.answered_at, caller_name=call.caller_name,
            source_endpoint=call.source_endpoint, destination_endpoint=call.destination_endpoint,
            context=call.context,
        )

    def reset(self) -> None:
        """Forget channel state (after a reconnect, before the snapshot)."""
        self._channels.clear()
        self._calls.clear()
        self._bridges.clear()

    def load_channels(self, rows: Iterable[Mapping[str, object]]) -> list[PbxCall]:
        """Replace the channel state with a CoreShowChannels snapshot; returns the live calls. What the
        events already told about a call still up (answer time, who rang) is kept: the snapshot only
        approximates those."""
        known = dict(self._calls)
        self.reset()
        now = self.clock()
        items = [lower_keys(r) for r in rows]
        # The originating channel first, so the call takes its numbers.
        items.sort(key=lambda r: (r.get("uniqueid") != r.get("linkedid"), -_hms(r.get("duration", ""))))
        for r in items:
            ch = self._upsert_channel(r)
            if ch is None:
                continue
            ch.created_at = now - dt.timedelta(seconds=_hms(r.get("duration", "")))
            call = self._call_for(ch, r)
            call.started_at = min(call.started_at, ch.created_at)
            if r.get("bridgeid"):
                self._bridges.setdefault(r["bridgeid"], set()).add(ch.uniqueid)
        for call in self._calls.values():
            call.announced = True
            old = known.get(call.call_id)
            if old is not None:
                call.started_at, call.answered_at = old.started_at, old.answered_at
                call.rung, call.dial_status = old.rung, old.dial_status
                if old.destination_endpoint:
                    call.destination_endpoint, call.destination_number = (old.destination_endpoint,
                                                                          old.destination_number)
                continue
            # Answered when a leg other than the originating one is a real phone that is up.
            legs = sorted((self._channels[u] for u in call.channels if u != call.origin),
                          key=lambda c: c.created_at or now)
            for ch in legs:
                if not ch.local and ch.state == "Up":
                    call.answered_at = ch.created_at
                    self._set_destination(call, ch)
                    break
        return self.live_calls()

    # ---------------------------------------------------------------- events

    def feed(self, event: Mapping[str, object]) -> list[PbxEvent]:
        raw_name = event.get("Event") or event.get("event") or ""
        name = raw_name[-1] if isinstance(raw_name, list) and raw_name else str(raw_name)
        handler = _HANDLERS.get(name.lower())
        if handler is None:  # most of an unfiltered stream (VarSet, Newexten...): skip before any copying
            return []
        out: list[PbxEvent] = handler(self, lower_keys(event), self.clock())
        return out

    def _upsert_channel(self, e: Mapping[str, str], prefix: str = "") -> _Channel | None:
        k_uid, k_name, k_linked, k_num, k_cname, k_exten, k_context, k_state = _CHANNEL_KEYS[prefix]
        uid = e.get(k_uid, "")
        name = e.get(k_name, "")
        if not uid or not name or name.startswith(_NOT_CALLS):
            return None
        ch = self._channels.get(uid)
        if ch is None:
            ch = _Channel(name=name, uniqueid=uid, linkedid=e.get(k_linked, "") or uid,
                          endpoint=endpoint_of(name), created_at=self.clock())
            self._channels[uid] = ch
        ch.name = name
        ch.caller_num = _clean(e.get(k_num)) or ch.caller_num
        ch.caller_name = _clean(e.get(k_cname)) or ch.caller_name
        exten = e.get(k_exten, "")
        if exten not in _NOT_A_NUMBER:
            ch.exten = exten
        context = e.get(k_context, "")
        if context:
            ch.context = context[:80]
        ch.state = e.get(k_state, ch.state) or ch.state
        return ch

    def _call_for(self, ch: _Channel, e: Mapping[str, str]) -> _Call:
        call = self._calls.get(ch.linkedid)
        if call is None:
            call = _Call(call_id=ch.linkedid, started_at=ch.created_at or self.clock(), origin=ch.uniqueid)
            self._calls[ch.linkedid] = call
        if ch.uniqueid == call.origin or (ch.uniqueid == ch.linkedid and call.origin != ch.uniqueid):
            call.origin = ch.uniqueid
            call.source_number = ch.caller_num or call.source_number
            call.caller_name = ch.caller_name or call.caller_name
            call.source_endpoint = ch.endpoint or call.source_endpoint
            # A phone's call starts in its tenant's context (pjsip.conf context=cpbx-<slug>) and goes
            # through the tenant's subroutines (cpbx-<slug>-ext...) and global ones (cpbx-record): the
            # first context that is one of ours is kept.
            if ch.context and not call.context.startswith("cpbx-"):
                call.context = ch.context
            if ch.exten and not call.destination_endpoint:
                call.destination_number = ch.exten
        call.channels.add(ch.uniqueid)
        return call

    def _set_destination(self, call: _Call, ch: _Channel) -> None:
        if ch.endpoint:
            call.destination_endpoint = ch.endpoint
            call.destination_number = ch.endpoint
        elif ch.caller_num and not call.destination_number:
            call.destination_number = ch.caller_num

    def _started(self, call: _Call, at: dt.datetime) -> list[PbxEvent]:
        if call.announced:
            return []
        call.announced = True
        return [CallStarted(at, self._live(call))]

    def _on_newchannel(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        ch = self._upsert_channel(e)
        if ch is None:
            return []
        call = self._call_for(ch, e)
        return self._started(call, at)

    def _track(self, e: dict[str, str], at: dt.datetime) -> tuple[_Channel | None, _Call | None, list[PbxEvent]]:
        ch = self._upsert_channel(e)
        if ch is None:
            return None, None, []
        call = self._call_for(ch, e)
        return ch, call, self._started(call, at)

    def _on_newstate(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        ch, call, out = self._track(e, at)
        if ch is None or call is None:
            return out
        if ch.state == "Ringing" and ch.uniqueid != call.origin and not ch.local:
            out += self._ringing(call, ch, at)
        return out

    def _ringing(self, call: _Call, ch: _Channel, at: dt.datetime) -> list[PbxEvent]:
        if ch.uniqueid in call.rung or call.answered_at is not None:
            return []
        call.rung.add(ch.uniqueid)
        self._set_destination(call, ch)
        c = self._contact(ch.endpoint)
        return [CallRinging(at, call.call_id, destination_number=call.destination_number,
                            destination_uri=c.uri, destination_ip=c.ip,
                            destination_endpoint=call.destination_endpoint)]

    def _on_newcallerid(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return self._track(e, at)[2]

    def _on_dialbegin(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        if e.get("channel"):
            out += self._track(e, at)[2]
        dest = self._upsert_channel(e, "dest")
        if dest is not None:
            out += self._started(self._call_for(dest, e), at)
        return out

    def _on_dialstate(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        if e.get("channel"):
            out += self._track(e, at)[2]
        dest = self._upsert_channel(e, "dest")
        if dest is None or not e.get("channel"):
            return out
        call = self._call_for(dest, e)
        if e.get("dialstatus", "").upper() == "RINGING" and not dest.local:
            out += self._ringing(call, dest, at)
        return out

    def _on_dialend(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        if not e.get("channel"):
            # An originate's first leg: the user answering their own phone for a click-to-call.
            dest = self._upsert_channel(e, "dest")
            if dest is not None:
                out += self._started(self._call_for(dest, e), at)
            return out
        out += self._track(e, at)[2]
        dest = self._upsert_channel(e, "dest")
        if dest is None:
            return out
        call = self._call_for(dest, e)
        status = e.get("dialstatus", "").upper()
        if status == "ANSWER":
            if not dest.local and call.answered_at is None:
                out += self._answered(call, dest, at)
        elif status:
            call.dial_status = status
        return out

    def _answered(self, call: _Call, ch: _Channel | None, at: dt.datetime,
                  destination: str = "") -> list[PbxEvent]:
        call.answered_at = at
        if ch is not None:
            self._set_destination(call, ch)
        elif destination:
            call.destination_number = destination
        c = self._contact(call.destination_endpoint)
        return [CallAnswered(at, call.call_id, destination_number=call.destination_number,
                             destination_uri=c.uri, destination_ip=c.ip,
                             destination_endpoint=call.destination_endpoint)]

    def _on_bridgeenter(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        ch, call, out = self._track(e, at)
        bridge = e.get("bridgeuniqueid", "")
        if ch is None or call is None or not bridge:
            return out
        members = self._bridges.setdefault(bridge, set())
        others = {self._channels[u].linkedid for u in members if u in self._channels} - {call.call_id}
        members.add(ch.uniqueid)
        for other in sorted(others):
            # Two different calls in one bridge: an attended transfer or a pickup joined them.
            out.append(CallBridged(at, call.call_id, other_call_id=other))
        return out

    def _on_bridgeleave(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        bridge = e.get("bridgeuniqueid", "")
        uid = e.get("uniqueid", "")
        if bridge in self._bridges:
            self._bridges[bridge].discard(uid)
        return []

    def _on_bridgedestroy(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        self._bridges.pop(e.get("bridgeuniqueid", ""), None)
        return []

    def _on_blindtransfer(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        if e.get("result", "Success") != "Success":
            return []
        call_id = e.get("transfereelinkedid") or e.get("transfererlinkedid", "")
        target = e.get("extension", "")
        call = self._calls.get(call_id)
        if call is not None and target:
            call.destination_number, call.destination_endpoint = target, ""
        return [CallTransferred(at, call_id, target=target)] if call_id else []

    def _on_attendedtransfer(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        if e.get("result", "Success") != "Success":
            return []
        call_id = e.get("origtransfererlinkedid", "")
        target = (_clean(e.get("secondtransfererconnectedlinenum")) or _clean(e.get("transfertargetcalleridnum"))
                  or _clean(e.get("secondtransferercalleridnum")))
        return [CallTransferred(at, call_id, target=target)] if call_id else []

    def _on_hangup(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        uid = e.get("uniqueid", "")
        ch = self._channels.pop(uid, None)
        linkedid = ch.linkedid if ch else e.get("linkedid", "")
        call = self._calls.get(linkedid)
        if call is None:
            return []
        call.channels.discard(uid)
        for members in self._bridges.values():
            members.discard(uid)
        if uid == call.origin:
            call.origin_cause = _int(e.get("cause"), 0)
        if call.channels:
            return []
        del self._calls[linkedid]
        code = call.origin_cause if call.origin_cause is not None else _int(e.get("cause"), 0)
        if call.answered_at is None and call.dial_status in _DIAL_STATUS_CAUSE:
            cause = _DIAL_STATUS_CAUSE[call.dial_status]
        elif call.answered_at is None and code in (0, 16):
            cause = "no_answer" if call.rung else "normal_clearing"
        else:
            cause = CAUSES.get(code, f"cause_{code}")
        return [CallEnded(at, call.call_id, cause=cause, cause_code=code)]

    def _on_cdr(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        try:
            report = cdr.report_from_event(e, self.tz, self._cdr_channels)
        except ValueError:  # an unparsable time: skip this record rather than the session
            return []
        return [CallRecorded(at, report)] if report is not None else []

    # ---------------------------------------------------------------- conferences

    def _participant(self, e: dict[str, str], muted: bool | None = None) -> ConferenceParticipant:
        return ConferenceParticipant(
            participant_id=e.get("channel", ""), caller_number=_clean(e.get("calleridnum")),
            caller_name=_clean(e.get("calleridname")), admin=_yes(e.get("admin")),
            muted=_yes(e.get("muted")) if muted is None else muted)

    def _on_confbridgejoin(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        ch, call, out = self._track(e, at)
        out.append(ConferenceChanged(at, e.get("conference", ""), self._participant(e)))
        if call is not None and ch is not None and ch.uniqueid == call.origin and call.answered_at is None:
            out += self._answered(call, None, at, destination=call.destination_number or e.get("conference", ""))
        return out

    def _on_confbridgeleave(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [ConferenceChanged(at, e.get("conference", ""), self._participant(e), left=True)]

    def _on_confbridgemute(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [ConferenceChanged(at, e.get("conference", ""), self._participant(e, muted=True))]

    def _on_confbridgeunmute(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [ConferenceChanged(at, e.get("conference", ""), self._participant(e, muted=False))]

    def _on_confbridgestart(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [ConferenceChanged(at, e.get("conference", ""))]

    def _on_confbridgeend(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [ConferenceChanged(at, e.get("conference", ""), left=True)]

    # ---------------------------------------------------------------- queues, mailboxes, registrations

    def _member(self, e: dict[str, str]) -> QueueMember:
        return QueueMember(
            queue=e.get("queue", ""), interface=e.get("interface") or e.get("location", ""),
            member_name=e.get("membername") or e.get("name", ""), logged_in=True,
            paused=_yes(e.get("paused")), pause_reason=e.get("pausedreason", ""), in_call=_yes(e.get("incall")))

    def _on_queuememberadded(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [QueueMemberChanged(at, self._member(e))]

    def _on_queuememberremoved(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [QueueMemberChanged(at, replace(self._member(e), logged_in=False), removed=True)]

    def _on_queuememberpause(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [QueueMemberChanged(at, self._member(e))]

    _on_queuememberpaused = _on_queuememberpause  # the Asterisk 11 name

    def _on_queuememberstatus(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        return [QueueMemberChanged(at, self._member(e))]

    def mailbox_name(self, spec: str) -> str:
        """'103@default' -> '103' in the node's voicemail context, else unchanged."""
        box, _, ctx = spec.partition("@")
        return box if not ctx or ctx == self.voicemail_context else spec

    def _on_messagewaiting(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        counts = MailboxCounts(new=_int(e.get("new")), old=_int(e.get("old")), urgent=_int(e.get("urgent")))
        return [MailboxChanged(at, self.mailbox_name(e.get("mailbox", "")), counts)]

    def _on_contactstatus(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        endpoint = e.get("endpointname") or e.get("aor", "")
        if not endpoint:
            return []
        status = e.get("contactstatus", "").lower()
        registered = status in _REGISTERED
        uri = e.get("uri", "")
        if registered:
            self.set_contact(endpoint, uri, _host_of(e.get("viaaddress", "")) or _host_of(uri), e.get("useragent", ""))
        elif status == "removed":
            self.contacts.pop(endpoint, None)
        return [RegistrationChanged(at, RegistrationState(endpoint, registered, contact=uri if registered else "",
                                                          user_agent=e.get("useragent", "")))]

    def _on_successfulauth(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        # PJSIP authenticated a request from this endpoint: the address it really came from.
        if e.get("service") == "PJSIP" and e.get("accountid"):
            parts = e.get("remoteaddress", "").split("/")
            if len(parts) >= 4:
                self.set_contact(e["accountid"], ip=parts[2])
        return []

    # ---------------------------------------------------------------- phone feature codes

    def _on_userevent(self, e: dict[str, str], at: dt.datetime) -> list[PbxEvent]:
        """``UserEvent(CPBXFeature,Owner: <slug>-<ext>,Feature: dnd,Value: on)`` of the generated dialplan
        (*76, *45, *46); any other UserEvent, or one whose fields are not exactly ours, is dropped."""
        if e.get("userevent", "") != FEATURE_USEREVENT:
            return []
        event = FeatureChanged.parse(at, e.get("owner", ""), e.get("feature", ""), e.get("value", ""),
                                     freeswitch=False)
        return [event] if event is not None else []

    # Deliberately not translated: DeviceStateChange (UNAVAILABLE mixes "not registered" with
    # "unreachable"; ContactStatus is the registration source), VarSet/Newexten, RTCP, security events.


# The handlers by lower-cased event name (read once, not looked up by attribute name per event).
_HANDLERS: dict[str, Callable[[EventTranslator, dict[str, str], dt.datetime], list[PbxEvent]]] = {
    name[4:]: getattr(EventTranslator, name) for name in dir(EventTranslator) if name.startswith("_on_")}
# A channel's headers, alone or as the dialled side of a Dial* event ("dest" prefix).
_CHANNEL_KEYS = {prefix: tuple(prefix + k for k in ("uniqueid", "channel", "linkedid", "calleridnum", "calleridname",
                                                    "exten", "context", "channelstatedesc"))
                 for prefix in ("", "dest")}


def _host_of(value: str) -> str:
    """'sip:101@127.0.0.1:5071;transport=udp' or '127.0.0.1:5071' -> '127.0.0.1'."""
    v = (value or "").strip()
    if not v:
        return ""
    v = v.split(";", 1)[0]
    v = v.split("@", 1)[1] if "@" in v else v.removeprefix("sip:").removeprefix("sips:")
    if v.startswith("["):
        return v[1:].split("]", 1)[0]
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


def _hms(value: str) -> int:
    """'00:01:02' -> 62; anything else -> 0."""
    try:
        h, m, s = (int(x) for x in value.split(":"))
    except ValueError:
        return 0
    return h * 3600 + m * 60 + s
