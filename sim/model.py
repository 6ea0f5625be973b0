"""Protocol-neutral in-memory model of a small company PBX that the sim's AMI and ESL servers expose.

The model owns the state (endpoints, channels, bridges, queues, conferences, mailboxes,
a key-value store, SIP NOTIFY/MESSAGE records) and publishes typed change events;
each protocol server subscribes and translates events into its own wire format.

Threading
---------
The model is NOT locked. Every call (mutations and reads) must happen on one thread,
normally the asyncio loop thread that also runs the protocol servers
(``SimPBX.call_soon`` / ``SimPBX.run`` marshal calls onto it). Subscribers are called
synchronously, in subscription order, inside the mutating call; they must not block.
A subscriber may call back into the model: events raised then are delivered after the
current one (never re-entrantly), so every subscriber sees the same order.

Public API (stable; the ESL server is written against it)
---------------------------------------------------------
Construction and lab data (``clusterpbx.sim.lab`` fills in the two recorded labs)::

    m = PBXModel(flavor="asterisk"|"freeswitch", spool_dir=Path|None, seed=0,
                 clock=time.time, domain="127.0.0.1")
    m.subscribe(cb) -> unsubscribe()            # cb(event) for every event listed below
    m.add_endpoint(ext, name="", context="internal", password="", mailbox=None, number=None, domain=None,
                   feature_key=None) -> Endpoint
        # ext: the endpoint (SIP user) name, unique on the node; number: what is dialled to reach it in
        # its context (default ext), so two tenants' contexts can both have a 201 ("201" and "201-t2");
        # domain: its SIP domain on FreeSWITCH (default the model's); feature_key: its DND/CF key
        # (default the number)
    m.add_queue(name, strategy="ringall") -> Queue
    m.add_mailbox(box, context="default", password="", fullname="", email="") -> Mailbox
    m.route(number, context) -> endpoint name | None   # what dialling number in context reaches
    m.namespace(context) -> endpoint context | None     # the tenant a dialplan context belongs to
    m.find_user(user, domain="") -> Endpoint | None     # FreeSWITCH user/<user>@<domain>
    m.endpoints / m.channels (uniqueid -> Channel, creation order) / m.bridges / m.queues /
    m.conferences / m.mailboxes ("box@context") / m.db / m.notifies / m.messages / m.call_records

Every Channel has both an Asterisk-style ``uniqueid`` ("1795797593.0") and a FreeSWITCH-style
``uuid``; ``name`` follows the flavor ("PJSIP/101-00000000" or "sofia/internal/1000@127.0.0.1").

Tenants are namespaces: an endpoint's ``context`` is where its calls enter the dialplan, and a number
dialled there reaches only an endpoint of the same context (or of the context it extends: the
generated dialplan's ``cpbx-acme-leg`` belongs to ``cpbx-acme``). A context no endpoint has (the lab's
``default`` for AMI Originate, ``from-trunk``) keeps the lab's plain lookup of the endpoint by name.

Registrations::

    m.register(ext, contact, user_agent="", expires=3600, call_id="") -> Registration
    m.unregister(ext)

Calls, high level (synchronous: all steps happen inside the call; times come from ``clock``)::

    m.place_call(src, dst, answer=True, to_voicemail=None, message_seconds=3, hangup_by="caller") -> Call
        # dst is dialled in src's context (m.route);
        # answered+bridged+hung up, or unanswered -> voicemail message in m.voicemail_box(dst) (the
        # endpoint's configured mailbox, as the dialplan's VoiceMail(box@context); else <dst>@default);
        # honours AstDB-style DND/<key> (straight to voicemail) and CF/<key> (forward), key = the
        # endpoint's feature_key.
    m.queue_call(src, queue, exten=None, answer=True) -> Call
    m.conference_call(src, room, admin=False, muted=False, exten=None) -> Channel (stays joined)
    m.inbound_call(number, dst_ext, name="", answer=True) / m.outbound_call(src_ext, number, answer=True)
    m.originate(target_ext, exten=None, context="internal", caller_id=None,
                application=None, data=None, answer=None) -> OriginateResult

Calls, step by step (to hold a call open, e.g. a bridged call for CoreShowChannels)::

    call = m.start_call(src, dst)    # caller channel (Ring)
    call.ring()                      # callee channel, DialBegin, Ringing, DialState
    call.answer()                    # Up, DialEnd ANSWER, bridge
    call.no_answer()                 # DialEnd NOANSWER, callee gone
    call.hangup(cause=16, by="caller")   # bridge torn down, both legs hung up, CDR

    m.hangup_channel(ch, cause=16, via="ami")   # from outside (AMI Hangup, uuid_kill): the whole call
    m.originate_continue(result, exten, context="internal", application=None, data=None) -> Call | None
        # second half of an originate: the answered channel dials exten (left bridged) or runs the app
    m.calls: uniqueid -> Call for two-party calls still up

Lower-level steps (each publishes the matching event): new_channel, set_state, answer,
set_caller_id, set_connected_line, set_application, dial_begin, dial_state, dial_end,
bridge/enter_bridge/unbridge/destroy_bridge, request_hangup, destroy_channel, hangup (= request +
unbridge + destroy), call_record, flush_devices (phone device states trail channel events, as in
Asterisk), set_device_state, phone_state(ext), get_channel(name|uniqueid|uuid),
set_channel_sequence(n) (number the next channel n, to line names up with a recording).

Queues::

    m.queue_add(queue, interface, name=None, penalty=0, paused=False, reason="",
                state_interface=None)            # raises NoSuchQueue / MemberExists
    m.queue_remove(queue, interface)              # NoSuchQueue / NoSuchMember
    m.queue_pause(interface, paused, reason="", queue=None)  # all queues if None; NoSuchMember
    m.queue_join(queue, ch) / m.queue_leave(queue, ch)

Conferences (a room exists while it has participants)::

    m.conf_join(room, ch, admin=False, muted=False, listen_only=False, marked=False) -> Participant
    m.conf_leave(room, ch); m.conf_kick(room, channel_name|uniqueid|uuid|member_id|"all"|"participants") -> int
    m.conf_mute(room, who, muted=True) -> int; m.conf_lock(room, locked=True)

Voicemail (files in ``<spool>/voicemail/<context>/<box>/<folder>/msgNNNN.{txt,wav}``)::

    m.leave_voicemail(box, caller_id='"Name" <num>', duration=3, context="default",
                      callerchan="", folder="INBOX", origtime=None, msg_id=None, channel=None,
                      audio=None)                # audio: the recording's WAV bytes (silence if None)
    m.load_spool() -> int                        # read messages already in the spool (a restarted PBX)
    m.move_message(box, folder, msg_id, to_folder, context="default") -> bool
    m.delete_message(box, folder, msg_id, context="default") -> bool
    m.forward_message(box, folder, msg_id, to_box, to_folder="INBOX", context=..., to_context=...) -> bool
    m.mark_read(box, msg_id, read=True, context=...) -> bool   # INBOX <-> Old
    m.mailbox_counts(box, context="default") -> (urgent, new, old)
    m.announce_mwi(box=None, context=None)    # publish MessageWaiting for every (matching) mailbox

Key-value store (AstDB "family/key", FreeSWITCH db "realm/key")::

    m.db_put(family, key, value); m.db_get(family, key) -> str | None
    m.db_del(family, key) -> bool; m.db_deltree(family, key=None) -> int
    m.db_tree(family=None, key=None) -> list[(family, key, value)]
    m.warnings   # the PBX log's WARNING lines clients caused (AMI DBDel of an absent key)

SIP side effects (recorded in ``m.notifies`` / ``m.messages`` for tests)::

    m.send_notify(endpoint=None, uri=None, event="check-sync", headers=None, body="") -> SipNotify
    m.send_message(to, from_, body, destination=None, variables=None) -> SipMessage

Lifecycle: ``m.reload(module=None)`` (publishes Reloaded; for voicemail modules first a
MessageWaiting per mailbox), ``m.shutdown(restart=False)``.

Events (dataclasses below, all subclasses of ``ModelEvent``): RegistrationChanged,
DeviceStateChanged, ChannelCreated, ChannelStateChanged, CallerIdChanged,
ConnectedLineChanged, ApplicationChanged, DialBegin, DialState, DialEnd, BridgeCreated,
Bridged, Unbridged, BridgeDestroyed, HangupRequested, ChannelHangup, CallRecord, MusicOnHold,
QueueMemberChanged, QueueCallerJoin, QueueCallerLeave, AgentCalled, AgentConnect,
AgentComplete, ConferenceStart, ConferenceJoin, ConferenceLeave, ConferenceMute,
ConferenceEnd, VoicemailLeft, MessageWaiting, DbChanged, NotifySent, MessageSent,
Reloaded, Shutdown. Event order within a call follows what Asterisk 22 was recorded doing
(fixtures 06, 08, 11), including its device-state updates lagging one step behind.
"""
from __future__ import annotations

import enum
import hashlib
import logging
import random
import struct
import time
import uuid as uuidlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Q.850 causes the sim uses, with Asterisk's cause texts and FreeSWITCH's names.
CAUSES: dict[int, tuple[str, str]] = {
    0: ("Unknown", "NONE"),
    1: ("Unallocated (unassigned) number", "UNALLOCATED_NUMBER"),
    16: ("Normal Clearing", "NORMAL_CLEARING"),
    17: ("User busy", "USER_BUSY"),
    18: ("No user responding", "NO_USER_RESPONSE"),
    19: ("User alerting, no answer", "NO_ANSWER"),
    20: ("Subscriber absent", "SUBSCRIBER_ABSENT"),
    21: ("Call Rejected", "CALL_REJECTED"),
    26: ("Answered elsewhere", "LOSE_RACE"),
    27: ("Destination out of order", "DESTINATION_OUT_OF_ORDER"),
    34: ("Circuit/channel congestion", "NORMAL_CIRCUIT_CONGESTION"),
    38: ("Network out of order", "NETWORK_OUT_OF_ORDER"),
    41: ("Temporary failure", "NORMAL_TEMPORARY_FAILURE"),
    66: ("Channel not implemented", "CHAN_NOT_IMPLEMENTED"),
}


def _escape_quoted(name: str, buflen: int = 128) -> str:
    """Asterisk's ast_escape_quoted (main/utils.c): a backslash before anything but tab, VT, space, "!",
    #-[ and ]-~ and non-ASCII bytes (so before `"`, `\\` and control characters), cut to buflen - 1 bytes."""
    out = b""
    for byte in name.encode("utf-8"):
        c = chr(byte)
        plain = c in "\t\v !" or "#" <= c <= "[" or "]" <= c <= "~" or byte > 0x7F
        piece = bytes([byte]) if plain else b"\\" + bytes([byte])
        if len(out) + len(piece) > buflen - 1:
            break
        out += piece
    return out.decode("utf-8", "ignore")


def callerid_merge(name: str, number: str) -> str:
    """The CDR's clid as Asterisk writes it (main/callerid.c ast_callerid_merge)."""
    if name and number:
        return f'"{_escape_quoted(name)}" <{number}>'
    return name or number or "<unknown>"


def cause_text(cause: int) -> str:
    return CAUSES.get(cause, ("Unknown", "NONE"))[0]


def cause_name(cause: int) -> str:
    return CAUSES.get(cause, ("Unknown", "NONE"))[1]


class ChannelState(enum.Enum):
    """Channel states with Asterisk's numeric code and description."""

    DOWN = (0, "Down")
    RESERVED = (1, "Rsrvd")
    OFFHOOK = (2, "OffHook")
    DIALING = (3, "Dialing")
    RING = (4, "Ring")
    RINGING = (5, "Ringing")
    UP = (6, "Up")
    BUSY = (7, "Busy")

    @property
    def code(self) -> int:
        return self.value[0]

    @property
    def desc(self) -> str:
        return self.value[1]


class DeviceState(enum.Enum):
    """Device states in Asterisk's ast_device_state order (QueueMember Status is the index)."""

    UNKNOWN = "UNKNOWN"
    NOT_INUSE = "NOT_INUSE"
    INUSE = "INUSE"
    BUSY = "BUSY"
    INVALID = "INVALID"
    UNAVAILABLE = "UNAVAILABLE"
    RINGING = "RINGING"
    RINGINUSE = "RINGINUSE"
    ONHOLD = "ONHOLD"

    @property
    def code(self) -> int:
        return list(DeviceState).index(self)


class SimError(Exception):
    """Base of the model's refusals; protocol servers map them to their own error replies."""


class NoSuchQueue(SimError):
    pass


class MemberExists(SimError):
    pass


class NoSuchMember(SimError):
    pass


class NoSuchEndpoint(SimError):
    pass


class NoSuchConference(SimError):
    pass


class NoSuchMailbox(SimError):
    pass


# --------------------------------------------------------------------------- state


@dataclass
class Registration:
    contact: str                 # e.g. "sip:101@127.0.0.1:5071"
    user_agent: str = ""
    registered: bool = True
    expires: int = 3600
    reg_time: float = 0.0
    via_addr: str = ""           # "127.0.0.1:5071", taken from the contact
    call_id: str = ""

    @property
    def expiration_time(self) -> int:
        return int(self.reg_time + self.expires)

    @property
    def contact_hash(self) -> str:
        # Stable per contact, like the hash pjsip puts in contact ids ("101;@<32 hex>").
        return hashlib.md5(self.contact.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Endpoint:
    ext: str
    name: str = ""               # caller id name
    context: str = "internal"
    password: str = ""
    mailbox: str | None = None   # "101@default"
    auto_answer: bool = True     # sim phones answer originates and calls unless told otherwise
    registration: Registration | None = None
    device_state: DeviceState = DeviceState.UNAVAILABLE
    number: str = ""             # dialled in its context to reach it ("" = ext); its caller id number
    domain: str = ""             # FreeSWITCH: its directory domain ("" = the model's)
    feature_key: str = ""        # the <key> of its DND/<key>, CF/<key> ("" = its number)

    @property
    def registered(self) -> bool:
        return self.registration is not None and self.registration.registered

    @property
    def dial_number(self) -> str:
        return self.number or self.ext

    @property
    def callerid(self) -> str:
        return f'"{self.name}" <{self.dial_number}>' if self.name else f"<{self.dial_number}>"


@dataclass
class Channel:
    uniqueid: str                # Asterisk style "1795797593.0"
    uuid: str                    # FreeSWITCH style UUID, always present
    name: str                    # flavor-specific channel name
    endpoint: str | None         # local extension the channel belongs to, None for trunks
    linkedid: str
    caller_num: str
    caller_name: str
    connected_num: str = ""
    connected_name: str = ""
    state: ChannelState = ChannelState.DOWN
    context: str = "internal"
    exten: str = ""
    priority: int = 1
    created: float = 0.0
    answered: float | None = None
    ended: float | None = None
    src_addr: str = ""
    dst_addr: str = ""
    src_uri: str = ""
    dst_uri: str = ""
    direction: str = "inbound"   # as FreeSWITCH sees it: "inbound" = the leg that called the PBX
    application: str = ""
    app_data: str = ""
    dnid: str = ""
    bridge_id: str | None = None
    account_code: str = ""
    language: str = "en"
    variables: dict[str, str] = field(default_factory=dict)
    hangup_cause: int | None = None
    peer: str | None = None      # uniqueid of the other leg once dialled
    trunk: str | None = None

    @property
    def tech(self) -> str:
        return self.name.split("/", 1)[0]

    def seconds(self, now: float) -> int:
        return max(0, int(now - self.created))


@dataclass
class Bridge:
    id: str                      # a UUID, as both PBXs use
    type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"
    channels: list[str] = field(default_factory=list)   # uniqueids, entry order
    created: float = 0.0
    video_source_mode: str = "none"
    extra_channels: int = 0      # ConfBridge's announcer channel counts in Asterisk's NumChannels

    @property
    def num_channels(self) -> int:
        return len(self.channels) + self.extra_channels


@dataclass
class QueueMember:
    interface: str               # "PJSIP/104" (Asterisk) or agent name (FreeSWITCH)
    name: str
    state_interface: str
    penalty: int = 0
    paused: bool = False
    pause_reason: str = ""
    logged_in: bool = True
    in_call: bool = False
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    membership: str = "dynamic"
    wrapup: int = 0
    ring_in_use: bool = False
    status: DeviceState = DeviceState.NOT_INUSE


@dataclass
class QueueCaller:
    uniqueid: str
    joined: float
    position: int


@dataclass
class Queue:
    name: str
    strategy: str = "ringall"
    max: int = 0
    weight: int = 0
    service_level: int = 0
    members: dict[str, QueueMember] = field(default_factory=dict)
    callers: list[QueueCaller] = field(default_factory=list)
    completed: int = 0
    abandoned: int = 0
    holdtime: int = 0
    talktime: int = 0


@dataclass
class Participant:
    uniqueid: str
    member_id: int
    admin: bool = False
    marked: bool = False
    muted: bool = False
    listen_only: bool = False
    waiting: bool = False        # wait_marked / wait-mod: held, heard by nobody, until a leader joins
    joined: float = 0.0
    talking: bool = False
    peer_channel: str = ""       # first channel already in the bridge when this one entered (its CDR peer)


@dataclass
class Conference:
    name: str
    bridge: Bridge
    profile: str = "default_bridge"
    participants: dict[str, Participant] = field(default_factory=dict)   # by uniqueid, join order
    locked: bool = False
    created: float = 0.0
    uuid: str = ""
    next_member_id: int = 1
    moh: str | None = None       # uniqueid of the participant currently hearing music on hold


@dataclass
class VoicemailMessage:
    context: str
    mailbox: str
    folder: str
    msg_id: str                  # "1795797635-00000000": Asterisk's msg_id, kept by moves and forwards
    uuid: str                    # FreeSWITCH-style message uuid
    caller_id: str               # '"Bob Sales" <101>'
    callerchan: str
    origtime: int
    duration: int
    exten: str = ""
    origmailbox: str = ""
    priority: int = 1
    flag: str = ""               # "" or "Urgent"

    @property
    def read(self) -> bool:
        return self.folder != "INBOX"

    @property
    def caller_num(self) -> str:
        if "<" in self.caller_id:
            return self.caller_id.rsplit("<", 1)[1].rstrip(">")
        return self.caller_id

    @property
    def caller_name(self) -> str:
        if "<" in self.caller_id:
            return self.caller_id.split("<", 1)[0].strip().strip('"')
        return ""

    @property
    def origdate(self) -> str:
        return datetime.fromtimestamp(self.origtime, UTC).strftime("%a %b %d %I:%M:%S %p UTC %Y")


VM_FOLDERS = ("INBOX", "Old", "Work", "Family", "Friends", "Cust1", "Cust2", "Cust3", "Cust4", "Cust5",
              "Deleted", "Urgent")


@dataclass
class Mailbox:
    box: str
    context: str = "default"
    password: str = ""
    fullname: str = ""
    email: str = ""
    pager: str = ""
    messages: dict[str, list[VoicemailMessage]] = field(default_factory=dict)   # folder -> ordered

    def folder(self, name: str) -> list[VoicemailMessage]:
        return self.messages.setdefault(name, [])

    @property
    def id(self) -> str:
        return f"{self.box}@{self.context}"


@dataclass
class SipNotify:
    endpoint: str | None
    uri: str
    event: str
    headers: list[tuple[str, str]]
    body: str
    time: float


@dataclass
class SipMessage:
    to: str
    from_: str
    body: str
    destination: str
    variables: dict[str, str]
    time: float
    delivered: bool


@dataclass
class CallRecordData:
    """A CDR as Asterisk's cdr_manager/cdr_csv and mod_json_cdr both describe it."""

    accountcode: str
    src: str
    dst: str
    dcontext: str
    clid: str
    channel: str
    dstchannel: str
    lastapp: str
    lastdata: str
    start: float
    answer: float | None
    end: float
    duration: int
    billsec: int
    disposition: str             # ANSWERED, NO ANSWER, BUSY, FAILED
    amaflags: str
    uniqueid: str
    linkedid: str
    userfield: str = ""
    uuid: str = ""


@dataclass
class OriginateResult:
    success: bool
    reason: int                  # Asterisk's OriginateResponse Reason (4 = answered, 0 = failed, 3 = no answer)
    cause: int                   # Q.850 cause when it failed
    channel: Channel | None = None
    other: Channel | None = None


# --------------------------------------------------------------------------- events


@dataclass
class ModelEvent:
    """Base class of every notification the model publishes."""


@dataclass
class RegistrationChanged(ModelEvent):
    endpoint: Endpoint
    registration: Registration | None   # the new one; on "Removed" the one removed (registered=False)
    status: str                  # "Created" (registered) / "Removed"


@dataclass
class DeviceStateChanged(ModelEvent):
    device: str                  # "PJSIP/101", "Queue:support_avail", "MWI:103@default", "confbridge:500"
    endpoint: str | None         # the extension when the device is a phone
    state: DeviceState


@dataclass
class ChannelCreated(ModelEvent):
    channel: Channel


@dataclass
class ChannelStateChanged(ModelEvent):
    channel: Channel
    old_state: ChannelState


@dataclass
class CallerIdChanged(ModelEvent):
    channel: Channel


@dataclass
class ConnectedLineChanged(ModelEvent):
    channel: Channel


@dataclass
class ApplicationChanged(ModelEvent):
    channel: Channel


@dataclass
class DialBegin(ModelEvent):
    caller: Channel | None       # None when the PBX itself dials (originate)
    callee: Channel
    dialstring: str


@dataclass
class DialState(ModelEvent):
    caller: Channel | None
    callee: Channel
    status: str                  # RINGING, PROCEEDING, PROGRESS


@dataclass
class DialEnd(ModelEvent):
    caller: Channel | None
    callee: Channel
    status: str                  # ANSWER, NOANSWER, BUSY, CANCEL, CHANUNAVAIL


@dataclass
class BridgeCreated(ModelEvent):
    bridge: Bridge


@dataclass
class Bridged(ModelEvent):
    bridge: Bridge
    channel: Channel


@dataclass
class Unbridged(ModelEvent):
    bridge: Bridge
    channel: Channel


@dataclass
class BridgeDestroyed(ModelEvent):
    bridge: Bridge


@dataclass
class HangupRequested(ModelEvent):
    channel: Channel
    cause: int | None            # None: requested without a cause (Asterisk omits the header)
    soft: bool = False


@dataclass
class ChannelHangup(ModelEvent):
    channel: Channel
    cause: int

    @property
    def cause_txt(self) -> str:
        return cause_text(self.cause)


@dataclass
class CallRecord(ModelEvent):
    record: CallRecordData


@dataclass
class MusicOnHold(ModelEvent):
    channel: Channel
    start: bool
    moh_class: str = "default"


@dataclass
class QueueMemberChanged(ModelEvent):
    queue: Queue
    member: QueueMember
    change: str                  # "added", "removed", "paused", "status"


@dataclass
class QueueCallerJoin(ModelEvent):
    queue: Queue
    channel: Channel
    position: int
    count: int


@dataclass
class QueueCallerLeave(ModelEvent):
    queue: Queue
    channel: Channel
    position: int
    count: int


@dataclass
class AgentCalled(ModelEvent):
    queue: Queue
    member: QueueMember
    caller: Channel
    agent: Channel


@dataclass
class AgentConnect(ModelEvent):
    queue: Queue
    member: QueueMember
    caller: Channel
    agent: Channel
    holdtime: int
    ringtime: int


@dataclass
class AgentComplete(ModelEvent):
    queue: Queue
    member: QueueMember
    caller: Channel
    agent: Channel
    holdtime: int
    talktime: int
    reason: str                  # "caller" / "agent"


@dataclass
class ConferenceStart(ModelEvent):
    conference: Conference


@dataclass
class ConferenceJoin(ModelEvent):
    conference: Conference
    participant: Participant
    channel: Channel


@dataclass
class ConferenceLeave(ModelEvent):
    conference: Conference
    participant: Participant
    channel: Channel


@dataclass
class ConferenceMute(ModelEvent):
    conference: Conference
    participant: Participant
    channel: Channel
    muted: bool


@dataclass
class ConferenceEnd(ModelEvent):
    conference: Conference


@dataclass
class VoicemailLeft(ModelEvent):
    mailbox: Mailbox
    message: VoicemailMessage


@dataclass
class MessageWaiting(ModelEvent):
    mailbox: Mailbox
    new: int
    old: int
    urgent: int = 0
    channel: Channel | None = None   # the caller's channel when a message was just left

    @property
    def waiting(self) -> bool:
        return self.new > 0


@dataclass
class DbChanged(ModelEvent):
    family: str
    key: str | None
    value: str | None            # None = deleted
    op: str                      # "put", "del", "deltree"


@dataclass
class NotifySent(ModelEvent):
    notify: SipNotify


@dataclass
class MessageSent(ModelEvent):
    message: SipMessage


@dataclass
class Reloaded(ModelEvent):
    module: str | None


@dataclass
class Shutdown(ModelEvent):
    restart: bool


Subscriber = Callable[[ModelEvent], Any]


# --------------------------------------------------------------------------- calls


@dataclass
class Call:
    """Handle on a two-party call; the steps can be driven one by one (see the module docstring)."""

    model: PBXModel
    caller: Channel
    dst: str
    callee: Channel | None = None
    bridge: Bridge | None = None
    dialstring: str = ""
    records: list[CallRecordData] = field(default_factory=list)
    voicemail: VoicemailMessage | None = None
    # A forward rung through a Local leg, as the generated dialplan does: the leg's channel name without
    # its ;1/;2 and the number the caller dialled (see PBXModel.local_leg_records).
    via_local: str = ""
    dialled: str = ""

    def ring(self) -> Channel | None:
        """Dial the destination: callee channel, DialBegin, callee ringing (None if it cannot ring)."""
        m = self.model
        # The number is dialled in the caller's context: another tenant's identical number is not reached.
        key = m.route(self.dst, self.caller.context)
        target = m.endpoints.get(key) if key is not None else None
        m.set_application(self.caller, "Dial", self.dialstring, priority=6)
        if key is None or target is None or not target.registered:
            return None
        callee = m.new_channel(key, "s", context=target.context, state=ChannelState.DOWN,
                               caller_num=target.dial_number, caller_name=target.name,
                               linkedid=self.caller.linkedid, direction="outbound")
        callee.exten = self.dst
        callee.application, callee.app_data = "AppDial", "(Outgoing Line)"
        m.set_connected_line(callee, self.caller.caller_num, self.caller.caller_name)
        m.dial_begin(self.caller, callee, key)
        m.set_connected_line(self.caller, callee.caller_num, callee.caller_name)
        m.set_state(callee, ChannelState.RINGING)
        m.dial_state(self.caller, callee, "RINGING")
        m.flush_devices(callee.endpoint, self.caller.endpoint)
        self.callee = callee
        if self.caller.uniqueid in m.calls:
            m.calls[callee.uniqueid] = self
        return callee

    def answer(self) -> Bridge:
        m = self.model
        assert self.callee is not None, "ring() first"
        m.set_state(self.callee, ChannelState.UP)
        self.callee.exten = ""
        m.dial_end(self.caller, self.callee, "ANSWER")
        m.set_state(self.caller, ChannelState.UP)
        m.flush_devices(self.callee.endpoint, self.caller.endpoint)
        self.bridge = m.bridge(self.callee, self.caller)
        return self.bridge

    def backdate(self, ring_seconds: float, talk_seconds: float) -> None:
        """Make an instant call look as if it rang and talked that long, ending now (CDR durations)."""
        if ring_seconds <= 0 and talk_seconds <= 0:
            return
        now = self.model.clock()
        for ch in (self.caller, self.callee):
            if ch is not None:
                ch.created = now - ring_seconds - talk_seconds
                if ch.answered is not None:
                    ch.answered = now - talk_seconds

    def no_answer(self) -> None:
        m = self.model
        if self.callee is not None:
            m.dial_end(self.caller, self.callee, "NOANSWER")
            m.destroy_channel(self.callee, cause=0)

    def hangup(self, cause: int = 16, by: str = "caller", via: str = "remote") -> None:
        """Tear down the bridge, hang up both legs (``by`` hangs up first) and emit the CDR.

        via="remote": the phone sent BYE (recording 06); via="ami": an AMI Hangup (recording 16),
        where Asterisk raises no HangupRequest and the soft hangup follows the other leg's Hangup."""
        m = self.model
        first, second = self.caller, self.callee
        if by == "callee" and self.callee is not None:
            first, second = self.callee, self.caller
        m.calls.pop(self.caller.uniqueid, None)
        if self.callee is not None:
            m.calls.pop(self.callee.uniqueid, None)
        if via == "remote":
            m.request_hangup(first, cause)
        for ch in (first, second):
            if ch is not None:
                m.unbridge(ch)
        if via == "remote":
            m.request_hangup(first, cause, soft=True)
        if second is not None and second.uniqueid in m.channels:
            m.destroy_channel(second, cause)
        if via != "remote":
            m.request_hangup(first, cause, soft=True)
        if second is not None:
            m.flush_devices(second.endpoint)
        m.destroy_channel(first, cause)
        if not self.records:
            for rec in (m.local_leg_records(self) if self.via_local else
                        [m.cdr_for(self.caller, self.callee, self.dst, "Dial", self.dialstring)]):
                self.records.append(rec)
                m.call_record(rec)
        m.flush_devices(first.endpoint)


# --------------------------------------------------------------------------- model


class PBXModel:
    """The shared PBX state; see the module docstring for the API and the threading rule."""

    def __init__(self, flavor: str = "asterisk", spool_dir: Path | str | None = None, seed: int = 0,
                 clock: Callable[[], float] = time.time, domain: str = "127.0.0.1") -> None:
        self.flavor = flavor
        self.spool_dir = Path(spool_dir) if spool_dir is not None else None
        self.rng = random.Random(seed)
        self.clock = clock
        self.domain = domain
        self.sip_port = 5060            # the PBX's own SIP port (channel source/destination addresses)
        self.started = clock()
        self.last_reload = self.started
        self.endpoints: dict[str, Endpoint] = {}
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.queues: dict[str, Queue] = {}
        self.conferences: dict[str, Conference] = {}
        self.mailboxes: dict[str, Mailbox] = {}
        self.db: dict[str, str] = {}                    # "family/key" -> value
        # WARNING lines the real PBX writes to its log for what clients did (AMI DBDel of an absent key:
        # Asterisk's "AstDB key /F/K does not exist", main/db.c ast_db_del2)
        self.warnings: list[str] = []
        self.notifies: list[SipNotify] = []
        self.messages: list[SipMessage] = []
        # Bounded, so that a long benchmark stream does not grow memory without end.
        self.call_records: deque[CallRecordData] = deque(maxlen=100_000)
        self.calls: dict[str, Call] = {}                # open two-party calls, by each leg's uniqueid
        self.credentials: dict[str, str] = {}           # AMI user -> secret, "ESL" -> password
        self.device_states: dict[str, DeviceState] = {}
        self.processed_calls = 0
        self.version = "22.10.1" if flavor == "asterisk" else "1.10.12-release"
        self._subscribers: list[Subscriber] = []
        self._queue: deque[ModelEvent] = deque()
        self._dispatching = False
        self._chan_seq = 0
        self._local_seq = 0
        self._uid_base = int(self.started)
        self._msg_seq = 0
        # Extensions whose phone device state must be re-evaluated at the next flush point.
        self._dirty_devices: list[str] = []

    # ------------------------------------------------------------------ pub/sub

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)
        return unsubscribe

    def publish(self, event: ModelEvent) -> None:
        # Queue then drain, so events raised by subscribers arrive after the current one.
        self._queue.append(event)
        if self._dispatching:
            return
        self._dispatching = True
        try:
            while self._queue:
                ev = self._queue.popleft()
                if isinstance(ev, CallRecord):
                    self.call_records.append(ev.record)
                for cb in list(self._subscribers):
                    try:
                        cb(ev)
                    except Exception:  # a broken subscriber must not break the model or the others
                        log.exception("model subscriber failed on %s", type(ev).__name__)
        finally:
            self._dispatching = False

    # ------------------------------------------------------------------ ids

    def new_uuid(self) -> str:
        return str(uuidlib.UUID(int=self.rng.getrandbits(128), version=4))

    def set_channel_sequence(self, n: int) -> None:
        """Number the next channel n (Asterisk's "-0000000n" suffix and uniqueid ".n"), e.g. to line
        channel names up with a recording."""
        self._chan_seq = n

    def _channel_name(self, owner: str, seq: int, trunk: str | None) -> str:
        if self.flavor == "freeswitch":
            profile = "external" if trunk else "internal"
            return f"sofia/{profile}/{owner}@{self.domain}"
        return f"PJSIP/{trunk or owner}-{seq:08x}"

    # ------------------------------------------------------------------ config

    def add_endpoint(self, ext: str, name: str = "", context: str = "internal", password: str = "",
                     mailbox: str | None = None, number: str | None = None, domain: str | None = None,
                     feature_key: str | None = None) -> Endpoint:
        ep = Endpoint(ext=ext, name=name, context=context, password=password, mailbox=mailbox,
                      number=number or "", domain=domain or "", feature_key=feature_key or "")
        self.endpoints[ext] = ep
        self.device_states[f"PJSIP/{ext}"] = DeviceState.UNAVAILABLE
        return ep

    # ------------------------------------------------------------------ routing (tenants are namespaces)

    def namespace(self, context: str | None) -> str | None:
        """The endpoint context that ``context`` belongs to: itself when endpoints live there, else the
        longest endpoint context it extends with a dash (``cpbx-acme-leg`` -> ``cpbx-acme``); None for
        a context no endpoint's numbers are in (the lab's plain lookup applies there)."""
        if not context:
            return None
        contexts = {ep.context for ep in self.endpoints.values()}
        if context in contexts:
            return context
        return max((c for c in contexts if context.startswith(c + "-")), key=len, default=None)

    def route(self, number: str, context: str | None) -> str | None:
        """The endpoint (its name) that dialling ``number`` in ``context`` rings, as the dialplan of that
        context would: an endpoint of the same namespace whose number it is (or, the sim's shortcut,
        whose name it is); never another namespace's endpoint. In a context outside every namespace,
        the endpoint named ``number`` (the lab)."""
        ns = self.namespace(context)
        if ns is None:
            return number if number in self.endpoints else None
        for key, ep in self.endpoints.items():
            if ep.context == ns and ep.dial_number == number:
                return key
        named = self.endpoints.get(number)
        return number if named is not None and named.context == ns else None

    def find_user(self, user: str, domain: str = "") -> Endpoint | None:
        """FreeSWITCH's ``user/<user>@<domain>``: a directory user of that domain (named ``user``, or
        whose number it is), never one of another domain. No domain, or one the sim does not host (a lab
        reached under another name for the box): the user named so."""
        ep = self.endpoints.get(user)
        if not domain or domain not in {e.domain or self.domain for e in self.endpoints.values()}:
            return ep
        if ep is not None and (ep.domain or self.domain) == domain:
            return ep
        return next((e for e in self.endpoints.values()
                     if (e.domain or self.domain) == domain and e.dial_number == user), None)

    def _feature_key(self, key: str) -> str:
        ep = self.endpoints.get(key)
        return (ep.feature_key or ep.dial_number) if ep is not None else key

    def add_queue(self, name: str, strategy: str = "ringall") -> Queue:
        q = Queue(name=name, strategy=strategy)
        self.queues[name] = q
        # Initial states set silently: an empty queue has no available member and no caller.
        self.device_states[f"Queue:{name}_avail"] = DeviceState.INUSE
        self.device_states[f"Queue:{name}"] = DeviceState.NOT_INUSE
        return q

    def add_mailbox(self, box: str, context: str = "default", password: str = "", fullname: str = "",
                    email: str = "") -> Mailbox:
        mb = Mailbox(box=box, context=context, password=password, fullname=fullname, email=email)
        for f in ("INBOX", "Old", "Urgent"):
            mb.messages.setdefault(f, [])
        self.mailboxes[mb.id] = mb
        self.device_states[f"MWI:{mb.id}"] = DeviceState.NOT_INUSE
        return mb

    def voicemail_box(self, dst: str, context: str | None = None) -> Mailbox | None:
        """The mailbox an unanswered call to endpoint ``dst`` lands in, as the PBX's dialplan picks it.

        The configuration names it per endpoint: the lab's dialplan runs VoiceMail(${EXTEN}@default), the
        generated one (dialplan/asterisk.py) VoiceMail(<box>@<tenant's voicemail context>), the same
        reference as the endpoint's ``mailboxes=``; FreeSWITCH's ``voicemail default <domain> <box>``. So
        the endpoint's configured mailbox decides; an endpoint without one falls back to the lab's
        ``<ext>@default`` (Asterisk) or ``<ext>@<domain>`` (FreeSWITCH). With ``context``, ``dst`` is a
        number dialled there (m.route): another tenant's mailbox of that number is never picked."""
        if context is not None and self.namespace(context) is not None:
            key = self.route(dst, context)
            if key is None:
                return None
            dst = key
        ep = self.endpoints.get(dst)
        if ep is not None and ep.mailbox:
            box, _, context = ep.mailbox.partition("@")
            return self.mailboxes.get(f"{box}@{context or 'default'}")
        return self.mailboxes.get(f"{dst}@default") or self.mailboxes.get(f"{dst}@{self.domain}")

    def mailbox(self, box: str, context: str = "default") -> Mailbox:
        mb = self.mailboxes.get(f"{box}@{context}")
        if mb is None:
            raise NoSuchMailbox(f"{box}@{context}")
        return mb

    # ------------------------------------------------------------------ device states

    def set_device_state(self, device: str, state: DeviceState, endpoint: str | None = None) -> None:
        """Record a device state and publish DeviceStateChanged when it changed."""
        if self.device_states.get(device) == state:
            return
        self.device_states[device] = state
        self.publish(DeviceStateChanged(device, endpoint, state))

    def phone_state(self, ext: str) -> DeviceState:
        ep = self.endpoints.get(ext)
        if ep is None:
            return DeviceState.INVALID
        chans = [c for c in self.channels.values() if c.endpoint == ext]
        if not chans:
            return DeviceState.NOT_INUSE if ep.registered else DeviceState.UNAVAILABLE
        ringing = any(c.state == ChannelState.RINGING for c in chans)
        inuse = any(c.state not in (ChannelState.RINGING, ChannelState.DOWN) for c in chans)
        if ringing and inuse:
            return DeviceState.RINGINUSE
        if ringing:
            return DeviceState.RINGING
        return DeviceState.INUSE if inuse else DeviceState.NOT_INUSE

    def _touch(self, ext: str | None) -> None:
        if ext is not None and ext not in self._dirty_devices:
            self._dirty_devices.append(ext)

    def flush_devices(self, *exts: str | None) -> None:
        """Publish phone device-state changes: the given extensions first, in order, then any other
        pending ones. Asterisk updates device states asynchronously, so they trail the channel events."""
        order = [e for e in exts if e is not None] + [e for e in self._dirty_devices if e not in exts]
        for ext in order:
            if ext in self._dirty_devices:
                self._dirty_devices.remove(ext)
            ep = self.endpoints.get(ext)
            if ep is None:
                continue
            st = self.phone_state(ext)
            ep.device_state = st
            self.set_device_state(f"PJSIP/{ext}", st, ext)

    def _queue_devices(self, q: Queue) -> None:
        avail = any(not mem.paused and self._member_state(mem) == DeviceState.NOT_INUSE
                    for mem in q.members.values())
        self.set_device_state(f"Queue:{q.name}_avail", DeviceState.NOT_INUSE if avail else DeviceState.INUSE)

    def _member_state(self, mem: QueueMember) -> DeviceState:
        tech, _, ext = mem.state_interface.partition("/")
        if ext in self.endpoints:
            return self.endpoints[ext].device_state
        return DeviceState.NOT_INUSE

    def _member_status(self, q: Queue, mem: QueueMember) -> None:
        mem.status = self._member_state(mem)
        mem.in_call = mem.status in (DeviceState.INUSE, DeviceState.BUSY, DeviceState.RINGINUSE)
        self.publish(QueueMemberChanged(q, mem, "status"))

    # ------------------------------------------------------------------ registrations

    def register(self, ext: str, contact: str, user_agent: str = "", expires: int = 3600,
                 call_id: str = "") -> Registration:
        ep = self.endpoints.get(ext)
        if ep is None:
            raise NoSuchEndpoint(ext)
        hostport = contact.split("@", 1)[-1].split(";", 1)[0].removeprefix("sip:")
        reg = Registration(contact=contact, user_agent=user_agent, expires=expires,
                           reg_time=self.clock(), via_addr=hostport, call_id=call_id or self.new_uuid())
        ep.registration = reg
        self.publish(RegistrationChanged(ep, reg, "Created"))
        self._touch(ext)
        self.flush_devices(ext)
        return reg

    def unregister(self, ext: str) -> None:
        ep = self.endpoints.get(ext)
        if ep is None:
            raise NoSuchEndpoint(ext)
        if ep.registration is not None:
            old = ep.registration
            old.registered = False
            self.publish(RegistrationChanged(ep, old, "Removed"))
            ep.registration = None
        self._touch(ext)
        self.flush_devices(ext)

    # ------------------------------------------------------------------ channel steps

    def new_channel(self, owner: str, exten: str, context: str = "internal", caller_num: str | None = None,
                    caller_name: str | None = None, linkedid: str | None = None,
                    state: ChannelState = ChannelState.RING, trunk: str | None = None,
                    direction: str = "inbound") -> Channel:
        """Create a channel owned by a local extension (or, with trunk=..., an external number)."""
        ep = self.endpoints.get(owner) if trunk is None else None
        seq = self._chan_seq
        uid = f"{self._uid_base}.{seq}"
        self._chan_seq += 1
        reg = ep.registration if ep else None
        ch = Channel(
            uniqueid=uid, uuid=self.new_uuid(), name=self._channel_name(owner, seq, trunk),
            endpoint=ep.ext if ep else None, linkedid=linkedid or uid,
            caller_num=caller_num if caller_num is not None else (ep.dial_number if ep else owner),
            caller_name=caller_name if caller_name is not None else (ep.name if ep else ""),
            state=state, context=context, exten=exten, created=self.clock(), direction=direction,
            dnid=exten if direction == "inbound" else "", trunk=trunk,
        )
        pbx_addr = f"{self.domain}:{self.sip_port}"
        phone_addr = reg.via_addr if reg else ""
        phone_uri = reg.contact if reg else f"sip:{owner}@{self.domain}"
        if direction == "inbound":      # the phone (or trunk) calls the PBX
            ch.src_addr, ch.src_uri = phone_addr, phone_uri
            ch.dst_addr, ch.dst_uri = pbx_addr, f"sip:{exten}@{self.domain}"
        else:                           # the PBX calls the phone
            ch.src_addr, ch.src_uri = pbx_addr, f"sip:{self.domain}:{self.sip_port}"
            ch.dst_addr, ch.dst_uri = phone_addr, phone_uri
        self.channels[uid] = ch
        if linkedid is None:
            self.processed_calls += 1
        self.publish(ChannelCreated(ch))
        self._touch(ch.endpoint)
        return ch

    def get_channel(self, name_or_id: str) -> Channel | None:
        ch = self.channels.get(name_or_id)
        if ch is not None:
            return ch
        for c in self.channels.values():
            if name_or_id in (c.name, c.uuid):
                return c
        return None

    def set_state(self, ch: Channel, state: ChannelState) -> None:
        if ch.state == state:
            return
        old = ch.state
        ch.state = state
        if state == ChannelState.UP and ch.answered is None:
            ch.answered = self.clock()
        self.publish(ChannelStateChanged(ch, old))
        self._touch(ch.endpoint)

    def answer(self, ch: Channel) -> None:
        self.set_state(ch, ChannelState.UP)

    def set_caller_id(self, ch: Channel, num: str, name: str) -> None:
        ch.caller_num, ch.caller_name = num, name
        self.publish(CallerIdChanged(ch))

    def set_connected_line(self, ch: Channel, num: str, name: str) -> None:
        ch.connected_num, ch.connected_name = num, name
        self.publish(ConnectedLineChanged(ch))

    def set_application(self, ch: Channel, app: str, data: str = "", priority: int | None = None) -> None:
        ch.application, ch.app_data = app, data
        if priority is not None:
            ch.priority = priority
        self.publish(ApplicationChanged(ch))

    def dial_begin(self, caller: Channel | None, callee: Channel, dialstring: str) -> None:
        if caller is not None:
            caller.peer, callee.peer = callee.uniqueid, caller.uniqueid
        self.publish(DialBegin(caller, callee, dialstring))

    def dial_state(self, caller: Channel | None, callee: Channel, status: str = "RINGING") -> None:
        self.publish(DialState(caller, callee, status))

    def dial_end(self, caller: Channel | None, callee: Channel, status: str) -> None:
        self.publish(DialEnd(caller, callee, status))

    def bridge(self, *chans: Channel, bridge: Bridge | None = None) -> Bridge:
        br = bridge or Bridge(id=self.new_uuid(), created=self.clock())
        self.bridges[br.id] = br
        self.publish(BridgeCreated(br))
        for ch in chans:
            self.enter_bridge(br, ch)
        if br.type == "basic" and len(br.channels) == 2:
            # Asterisk moves a two-party PJSIP bridge to native RTP once both legs are in.
            br.technology = "native_rtp"
        return br

    def enter_bridge(self, br: Bridge, ch: Channel) -> None:
        br.channels.append(ch.uniqueid)
        ch.bridge_id = br.id
        self.publish(Bridged(br, ch))

    def unbridge(self, ch: Channel) -> None:
        if ch.bridge_id is None:
            return
        br = self.bridges.get(ch.bridge_id)
        ch.bridge_id = None
        if br is None:
            return
        if ch.uniqueid in br.channels:
            br.channels.remove(ch.uniqueid)
        self.publish(Unbridged(br, ch))
        if not br.channels and br.type == "basic":
            self.destroy_bridge(br)

    def destroy_bridge(self, br: Bridge) -> None:
        if self.bridges.pop(br.id, None) is not None:
            br.extra_channels = 0
            self.publish(BridgeDestroyed(br))

    def request_hangup(self, ch: Channel, cause: int | None = 16, soft: bool = False) -> None:
        self.publish(HangupRequested(ch, cause, soft))

    def destroy_channel(self, ch: Channel, cause: int = 16) -> None:
        """The channel is gone: leave what it is in, publish ChannelHangup."""
        if ch.uniqueid not in self.channels:
            return
        self.unbridge(ch)
        for conf in list(self.conferences.values()):
            if ch.uniqueid in conf.participants:
                self.conf_leave(conf.name, ch)
        for q in self.queues.values():
            if any(c.uniqueid == ch.uniqueid for c in q.callers):
                self.queue_leave(q.name, ch)
        ch.hangup_cause = cause
        ch.ended = self.clock()
        del self.channels[ch.uniqueid]
        self.calls.pop(ch.uniqueid, None)
        self.publish(ChannelHangup(ch, cause))
        self._touch(ch.endpoint)

    def hangup(self, ch: Channel, cause: int = 16, soft: bool = False, cdr: bool = True) -> None:
        """Hang up one channel now (request, leave bridge or conference, destroy), emit its CDR (its last
        application; in a conference the CDR peer is the first channel that was in the bridge before it)
        and update its device."""
        if ch.uniqueid not in self.channels:
            return
        peer = next((conf.participants[ch.uniqueid].peer_channel for conf in self.conferences.values()
                     if ch.uniqueid in conf.participants), "")
        self.request_hangup(ch, cause, soft)
        self.destroy_channel(ch, cause)
        if cdr:
            rec = self.cdr_for(ch, None, ch.exten, ch.application, ch.app_data,
                               disposition="ANSWERED" if ch.answered is not None else "NO ANSWER")
            rec.dstchannel = peer
            self.call_record(rec)
        self.flush_devices(ch.endpoint)

    def cdr_for(self, caller: Channel, callee: Channel | None, dst: str, lastapp: str, lastdata: str,
                disposition: str | None = None, start: float | None = None) -> CallRecordData:
        end = caller.ended if caller.ended is not None else self.clock()
        begin = caller.created if start is None else start
        answer = callee.answered if callee is not None else caller.answered
        if disposition is None:
            disposition = "ANSWERED" if answer is not None else "NO ANSWER"
        if disposition != "ANSWERED":
            answer = None
        return CallRecordData(
            accountcode=caller.account_code, src=caller.caller_num, dst=dst, dcontext=caller.context,
            clid=callerid_merge(caller.caller_name, caller.caller_num),
            channel=caller.name, dstchannel=callee.name if callee else "", lastapp=lastapp, lastdata=lastdata,
            start=begin, answer=answer, end=end, duration=int(end - begin),
            billsec=int(end - answer) if answer is not None else 0, disposition=disposition,
            amaflags="DOCUMENTATION", uniqueid=caller.uniqueid, linkedid=caller.linkedid, uuid=caller.uuid,
        )

    def call_record(self, record: CallRecordData) -> None:
        self.publish(CallRecord(record))

    def local_leg_records(self, call: Call, disposition: str | None = None) -> list[CallRecordData]:
        """What Asterisk 22 writes for a call rung through a Local leg (the generated dialplan's forwards,
        seen on the lab: tests/real/test_asterisk_calls.py), in its order: the leg's Dial of the target
        (channel ``Local/...;2``, its own uniqueid; FAILED when the target cannot ring), unanswered also the
        leg's own end (Hangup), then the caller's Dial of the leg (destination ``Local/...;1``, the number
        the caller dialled)."""
        target = call.callee
        uid = f"{self._uid_base}.{900000 + self._local_seq}"
        self._local_seq += 1
        leg = self.cdr_for(call.caller, target, call.dst, "Dial", f"PJSIP/{target.endpoint if target else call.dst}",
                           disposition=disposition if target is not None else "FAILED")
        leg.channel, leg.uniqueid, leg.dcontext = f"{call.via_local};2", uid, f"{call.caller.context}-leg"
        out = [leg]
        if leg.disposition == "NO ANSWER":
            end = self.cdr_for(call.caller, None, call.dst, "Hangup", "", disposition="NO ANSWER")
            end.channel, end.uniqueid, end.dcontext = leg.channel, uid, leg.dcontext
            end.start = end.end
            end.duration = 0
            out.append(end)
        mine = self.cdr_for(call.caller, target, call.dialled, "Dial", call.dialstring,
                            disposition=disposition if target is not None else "FAILED")
        mine.dstchannel = f"{call.via_local};1"
        out.append(mine)
        return out

    # ------------------------------------------------------------------ high-level calls

    def start_call(self, src: str, dst: str, context: str | None = None) -> Call:
        """The caller's channel, in ``context`` (default: the caller's own, where its calls enter the
        dialplan), about to dial ``dst`` there."""
        ep = self.endpoints.get(src)
        if ep is None:
            raise NoSuchEndpoint(src)
        context = context or ep.context
        ch = self.new_channel(src, dst, context=context)
        call = Call(self, ch, dst, dialstring=f"PJSIP/{self.route(dst, context) or dst},15")
        self.calls[ch.uniqueid] = call
        return call

    def hangup_channel(self, ch: Channel, cause: int = 16, via: str = "ami") -> None:
        """Hang up a channel from outside (AMI Hangup, uuid_kill): its whole call if it is in one."""
        call = self.calls.get(ch.uniqueid)
        if call is not None:
            call.hangup(cause, by="caller" if ch is call.caller else "callee", via=via)
        else:
            self.hangup(ch, cause, soft=True)

    def place_call(self, src: str, dst: str, answer: bool = True, to_voicemail: bool | None = None,
                   message_seconds: int = 3, hangup_by: str = "caller", ring_seconds: float = 0.0,
                   talk_seconds: float = 0.0) -> Call:
        """A whole internal call: answered and bridged, or unanswered (then voicemail if dst has a box).

        ``dst`` is dialled in the caller's context (route): another tenant's endpoint with the same number
        is never reached. Like the lab dialplan, DND/<key> in the key-value store sends the call straight
        to voicemail (busy greeting) and CF/<key> forwards it (key: the endpoint's feature_key)."""
        src_ep = self.endpoints.get(src)
        if src_ep is None:
            raise NoSuchEndpoint(src)
        target = self.route(dst, src_ep.context)
        fkey = self._feature_key(target) if target is not None else dst
        if self.db_get("DND", fkey) is not None:
            return self._dnd_call(src, dst, message_seconds, target)
        fwd = self.db_get("CF", fkey)
        if fwd is not None and self.route(fwd, src_ep.context) is not None:
            call = self.start_call(src, dst)
            local = f"Local/{fwd}@{src_ep.context}-{self._local_seq:08x}"
            leg = Call(self, call.caller, fwd, dialstring=f"Local/{fwd}@{src_ep.context},30", via_local=local,
                       dialled=dst)
            callee = leg.ring()
            if answer and callee is not None:
                leg.answer()
                # FreeSWITCH (generated dialplan): the caller's leg is bridged to a loopback leg that dialled
                # the target (tests/esl_cdr/real/forward_always); its record names the target
                call.caller.variables.update({"DIALSTATUS": "SUCCESS", "bridge_channel": f"loopback/{fwd}-a",
                                              "cpbx_target": dst})
                leg.hangup(by=hangup_by)
            else:
                leg.no_answer()
                self.hangup(call.caller, 16, cdr=False)
                for rec in self.local_leg_records(leg, "NO ANSWER"):
                    leg.records.append(rec)
                    self.call_record(rec)
            call.callee, call.records, call.bridge, call.dialstring = leg.callee, leg.records, leg.bridge, leg.dialstring
            return call
        call = self.start_call(src, dst)
        callee = call.ring()
        if answer and callee is not None:
            call.answer()
            call.backdate(ring_seconds, talk_seconds)
            call.hangup(by=hangup_by)
            return call
        mb = self.voicemail_box(target if target is not None else dst)
        if to_voicemail is None:
            to_voicemail = mb is not None
        call.no_answer()
        if not to_voicemail or mb is None:
            self.hangup(call.caller, cause=19 if callee is not None else 20, cdr=False)
            rec = self.cdr_for(call.caller, callee, dst, "Dial", call.dialstring)
            call.records.append(rec)
            self.call_record(rec)
            return call
        # The Dial attempt and the VoiceMail application are two CDRs, as Asterisk splits them.
        caller = call.caller
        if ring_seconds > 0:
            # Instant calls are back-dated so that the CDRs carry the ringing and message durations.
            caller.created = self.clock() - ring_seconds - message_seconds
        # What both PBXs leave on the caller's channel after the unanswered dial (Asterisk's Dial, FreeSWITCH's
        # bridge in the generated dialplan, which then records the dialled extension as cpbx_target and
        # transfers to voicemail: tests/esl_cdr/real/no_answer_voicemail)
        caller.variables.update({"DIALSTATUS": "NOANSWER", "originate_disposition": "NO_ANSWER", "cpbx_target": dst})
        dial_rec = self.cdr_for(caller, callee, dst, "Dial", call.dialstring, disposition="NO ANSWER")
        dial_rec.end = caller.created + ring_seconds if ring_seconds > 0 else self.clock()
        dial_rec.duration = int(dial_rec.end - dial_rec.start)
        vm_start = dial_rec.end
        self.set_application(caller, "VoiceMail", f"{mb.id},u", priority=7)
        self.answer(caller)
        caller.answered = vm_start
        self.flush_devices(callee.endpoint if callee else None)
        self.request_hangup(caller, None)
        call.voicemail = self.leave_voicemail(
            mb.box, context=mb.context, caller_id=f'"{caller.caller_name}" <{caller.caller_num}>',
            duration=message_seconds, callerchan=caller.name, exten=dst, channel=caller)
        self.request_hangup(caller, 16, soft=True)
        self.destroy_channel(caller, 0)
        call.records.append(dial_rec)
        self.call_record(dial_rec)
        self.flush_devices(caller.endpoint)
        vm_rec = self.cdr_for(caller, None, dst, "VoiceMail", f"{mb.id},u", start=vm_start)
        call.records.append(vm_rec)
        self.call_record(vm_rec)
        return call

    def _dnd_call(self, src: str, dst: str, message_seconds: int, target: str | None = None) -> Call:
        call = self.start_call(src, dst)
        caller = call.caller
        # busy without dialling: FreePBX's DND sets DIALSTATUS=BUSY; the generated FreeSWITCH dialplan
        # transfers to cpbx-busy, which its records read as busy (tests/esl_cdr/real/dnd)
        caller.variables.update({"DIALSTATUS": "BUSY", "cpbx_target": dst})
        mb = self.voicemail_box(target if target is not None else dst)
        ref = mb.id if mb is not None else f"{dst}@default"
        self.set_application(caller, "VoiceMail", f"{ref},b", priority=10)
        self.answer(caller)
        self.flush_devices(caller.endpoint)
        self.request_hangup(caller, None)
        if mb is not None:
            call.voicemail = self.leave_voicemail(mb.box, context=mb.context,
                                                  caller_id=f'"{caller.caller_name}" <{caller.caller_num}>',
                                                  duration=message_seconds, callerchan=caller.name, exten=dst,
                                                  channel=caller)
        self.request_hangup(caller, 16, soft=True)
        rec = self.cdr_for(caller, None, dst, "VoiceMail", f"{ref},b")
        call.records.append(rec)
        self.call_record(rec)
        self.destroy_channel(caller, 16)
        self.flush_devices(caller.endpoint)
        return call

    def inbound_call(self, number: str, dst: str, name: str = "", answer: bool = True, trunk: str = "trunk",
                     ring_seconds: float = 0.0, talk_seconds: float = 0.0) -> Call:
        """An external caller on a trunk calling a local extension."""
        ch = self.new_channel(number, dst, context="from-trunk", caller_num=number, caller_name=name, trunk=trunk)
        call = Call(self, ch, dst, dialstring=f"PJSIP/{dst},15")
        callee = call.ring()
        if answer and callee is not None:
            call.answer()
            call.backdate(ring_seconds, talk_seconds)
            call.hangup()
        else:
            call.no_answer()
            self.hangup(ch, cause=19, cdr=False)
            rec = self.cdr_for(ch, callee, dst, "Dial", call.dialstring)
            call.records.append(rec)
            self.call_record(rec)
        return call

    def outbound_call(self, src: str, number: str, answer: bool = True, trunk: str = "trunk",
                      ring_seconds: float = 0.0, talk_seconds: float = 0.0) -> Call:
        """A local extension calling an external number over a trunk."""
        caller = self.new_channel(src, number, context="internal")
        call = Call(self, caller, number, dialstring=f"PJSIP/{number}@{trunk},60")
        self.set_application(caller, "Dial", call.dialstring, priority=2)
        callee = self.new_channel(number, "s", context="from-trunk", caller_num=number, caller_name="",
                                  linkedid=caller.linkedid, state=ChannelState.DOWN, trunk=trunk,
                                  direction="outbound")
        callee.application, callee.app_data = "AppDial", "(Outgoing Line)"
        self.set_connected_line(callee, caller.caller_num, caller.caller_name)
        self.dial_begin(caller, callee, f"{number}@{trunk}")
        self.set_state(callee, ChannelState.RINGING)
        self.set_connected_line(caller, number, "")
        self.dial_state(caller, callee, "RINGING")
        self.flush_devices(caller.endpoint)
        call.callee = callee
        if answer:
            call.answer()
            call.backdate(ring_seconds, talk_seconds)
            call.hangup()
        else:
            call.no_answer()
            self.hangup(caller, cause=19, cdr=False)
            rec = self.cdr_for(caller, callee, number, "Dial", call.dialstring)
            call.records.append(rec)
            self.call_record(rec)
        return call

    def queue_call(self, src: str, queue: str, exten: str | None = None, answer: bool = True,
                   agent_interface: str | None = None, hold_seconds: float = 0.0, talk_seconds: float = 0.0) -> Call:
        """Caller dials the queue and waits; the first free member rings and (optionally) answers;
        the caller hangs up. Without a free, registered member the caller gives up (abandoned)."""
        q = self.queue(queue)
        caller = self.new_channel(src, exten or queue, context="internal")
        call = Call(self, caller, exten or queue, dialstring=f"{queue},,,,120")
        self.set_application(caller, "Answer", "", priority=1)
        self.answer(caller)
        self.flush_devices(caller.endpoint)
        self.set_application(caller, "Queue", call.dialstring, priority=2)
        self.queue_join(queue, caller)
        self.publish(MusicOnHold(caller, True))
        members = [m for m in q.members.values()
                   if not m.paused and m.logged_in and self._member_state(m) == DeviceState.NOT_INUSE]
        if agent_interface is not None:
            members = [m for m in members if m.interface == agent_interface]
        mem = members[0] if members else None
        agent_ext = mem.state_interface.partition("/")[2] if mem else None
        if mem is None or agent_ext not in self.endpoints:
            self.publish(MusicOnHold(caller, False))
            q.abandoned += 1
            self.request_hangup(caller, None)
            self.queue_leave(queue, caller)
            self.request_hangup(caller, 16, soft=True)
            self.destroy_channel(caller, 16)
            self.flush_devices(caller.endpoint)
            rec = self.cdr_for(caller, None, call.dst, "Queue", call.dialstring)
            call.records.append(rec)
            self.call_record(rec)
            return call
        ep = self.endpoints[agent_ext]
        agent = self.new_channel(agent_ext, "s", context=ep.context, state=ChannelState.DOWN,
                                 caller_num=agent_ext, caller_name=ep.name, linkedid=caller.linkedid,
                                 direction="outbound")
        agent.application, agent.app_data = "AppQueue", "(Outgoing Line)"
        agent.exten = call.dst
        agent.connected_num, agent.connected_name = caller.caller_num, caller.caller_name
        self.publish(AgentCalled(q, mem, caller, agent))
        self.dial_begin(caller, agent, mem.interface)
        self.set_state(agent, ChannelState.RINGING)
        self.set_connected_line(agent, caller.caller_num, caller.caller_name)
        self.flush_devices(agent_ext)
        self.dial_state(caller, agent, "RINGING")
        self._member_status(q, mem)
        self._queue_devices(q)
        call.callee = agent
        ring_start = self.clock()
        if not answer:
            self.dial_end(caller, agent, "NOANSWER")
            self.destroy_channel(agent, 0)
            self.flush_devices(agent_ext)
            self._member_status(q, mem)
            self._queue_devices(q)
            self.publish(MusicOnHold(caller, False))
            self.request_hangup(caller, None)
            self.queue_leave(queue, caller)
            q.abandoned += 1
            self.request_hangup(caller, 16, soft=True)
            self.destroy_channel(caller, 16)
            self.flush_devices(caller.endpoint)
            rec = self.cdr_for(caller, agent, call.dst, "Queue", call.dialstring)
            call.records.append(rec)
            self.call_record(rec)
            return call
        self.answer(agent)
        if hold_seconds > 0 or talk_seconds > 0:
            # Back-date the instant queue call: the caller waited hold_seconds and talked talk_seconds.
            now = self.clock()
            caller.created = caller.answered = now - hold_seconds - talk_seconds
            q.callers[0].joined = caller.created if q.callers else now
            agent.created, agent.answered = now - talk_seconds, now - talk_seconds
            ring_start = agent.created
        self.dial_end(caller, agent, "ANSWER")
        self.set_connected_line(caller, agent_ext, ep.name)
        self.publish(MusicOnHold(caller, False))
        self.flush_devices(agent_ext)
        hold = int(hold_seconds) if hold_seconds > 0 else int(self.clock() - caller.created)
        self.queue_leave(queue, caller)
        self.publish(AgentConnect(q, mem, caller, agent, hold, int(max(0.0, agent.answered - ring_start))
                                  if agent.answered is not None else 0))
        self._member_status(q, mem)
        call.bridge = self.bridge(agent, caller)
        talk_start = self.clock() - talk_seconds
        # The caller hangs up (the recorded queue call).
        self.request_hangup(caller, None)
        mem.calls_taken += 1
        mem.last_call = int(self.clock())
        q.completed += 1
        q.holdtime, q.talktime = hold, int(self.clock() - talk_start)
        self.publish(AgentComplete(q, mem, caller, agent, hold, int(self.clock() - talk_start), "caller"))
        self.unbridge(caller)
        self.request_hangup(caller, 16, soft=True)
        caller.ended = self.clock()
        del self.channels[caller.uniqueid]
        caller.hangup_cause = 16
        self.publish(ChannelHangup(caller, 16))
        self._touch(caller.endpoint)
        self.unbridge(agent)
        self.flush_devices(caller.endpoint)
        rec = self.cdr_for(caller, agent, call.dst, "Queue", call.dialstring)
        rec.answer = caller.answered
        rec.billsec = int(rec.end - caller.answered) if caller.answered else 0
        call.records.append(rec)
        self.call_record(rec)
        self.destroy_channel(agent, 16)
        self.flush_devices(agent_ext)
        self._member_status(q, mem)
        self._queue_devices(q)
        return call

    def conference_call(self, src: str, room: str, admin: bool = False, muted: bool = False,
                        exten: str | None = None, wait_marked: bool = False) -> Channel:
        """Caller dials into a conference room and stays there (hang the channel up to leave)."""
        ch = self.new_channel(src, exten or room, context="internal")
        self.set_application(ch, "Answer", "", priority=1)
        self.answer(ch)
        self.flush_devices(ch.endpoint)
        self.set_application(ch, "ConfBridge", f"{room},default_bridge,default_user", priority=2)
        self.conf_join(room, ch, admin=admin, muted=muted, wait_marked=wait_marked)
        return ch

    def originate(self, target: str, exten: str | None = None, context: str = "internal",
                  caller_id: str | None = None, application: str | None = None, data: str | None = None,
                  answer: bool | None = None, connected: tuple[str, str] | None = None) -> OriginateResult:
        """Ring a local endpoint; once it answers, dial exten@context (an internal call) or run the app.
        `connected` (number, name): what the rung phone is shown, the channel's own caller id unchanged
        (Asterisk's CONNECTEDLINE variables, FreeSWITCH's origination_caller_id_*)."""
        ep = self.endpoints.get(target)
        if ep is None:
            return OriginateResult(False, 0, 66)
        if not ep.registered:
            return OriginateResult(False, 0, 20)
        ch = self.new_channel(target, "s", context=context, state=ChannelState.DOWN,
                              caller_num=target, caller_name=ep.name, direction="outbound")
        ch.application, ch.app_data = "AppDial2", "(Outgoing Line)"
        if caller_id:
            name, _, num = caller_id.rpartition("<")
            num = num.rstrip(">") if num else caller_id
            self.set_caller_id(ch, num, name.strip().strip('"'))
            self.set_connected_line(ch, num, ch.caller_name)
        if connected:
            self.set_connected_line(ch, *connected)
        self.dial_begin(None, ch, target)
        self.set_state(ch, ChannelState.RINGING)
        self.dial_state(None, ch, "RINGING")
        self.flush_devices(target)
        if answer is None:
            answer = ep.auto_answer
        if not answer:
            self.dial_end(None, ch, "NOANSWER")
            self.destroy_channel(ch, 19)
            self.flush_devices(target)
            return OriginateResult(False, 3, 19)
        self.answer(ch)
        self.dial_end(None, ch, "ANSWER")
        self.flush_devices(target)
        return OriginateResult(True, 4, 0, ch)

    def originate_continue(self, result: OriginateResult, exten: str | None, context: str = "internal",
                           application: str | None = None, data: str | None = None) -> Call | None:
        """Second half of an originate: the answered channel dials exten@context (left bridged)."""
        ch = result.channel
        if ch is None or ch.uniqueid not in self.channels:
            return None
        ch.context, ch.exten, ch.priority = context, exten or "s", 1
        if application:
            self.set_application(ch, application, data or "")
            return None
        call = Call(self, ch, exten or "s", dialstring=f"PJSIP/{exten},15")
        self.calls[ch.uniqueid] = call
        result.other = call.ring()
        if result.other is not None:
            self.calls[result.other.uniqueid] = call
        if result.other is not None:
            if self.endpoints[result.other.endpoint or ""].auto_answer:
                call.answer()
        return call

    # ------------------------------------------------------------------ queues

    def queue(self, name: str) -> Queue:
        q = self.queues.get(name)
        if q is None:
            raise NoSuchQueue(name)
        return q

    def queue_add(self, queue: str, interface: str, name: str | None = None, penalty: int = 0,
                  paused: bool = False, reason: str = "", state_interface: str | None = None) -> QueueMember:
        q = self.queue(queue)
        if interface in q.members:
            raise MemberExists(interface)
        now = int(self.clock())
        mem = QueueMember(interface=interface, name=name or interface, state_interface=state_interface or interface,
                          penalty=penalty, paused=paused, pause_reason=reason if paused else "",
                          login_time=now, last_pause=now if paused else 0)
        mem.status = self._member_state(mem)
        q.members[interface] = mem
        pause_dev = f"Queue:{q.name}_pause_{interface}"
        self.device_states.pop(pause_dev, None)
        self.set_device_state(pause_dev, DeviceState.INUSE if paused else DeviceState.NOT_INUSE)
        self.publish(QueueMemberChanged(q, mem, "added"))
        self._queue_devices(q)
        return mem

    def queue_remove(self, queue: str, interface: str) -> QueueMember:
        q = self.queue(queue)
        mem = q.members.pop(interface, None)
        if mem is None:
            raise NoSuchMember(interface)
        self.publish(QueueMemberChanged(q, mem, "removed"))
        self.set_device_state(f"Queue:{q.name}_pause_{interface}", DeviceState.NOT_INUSE)
        self._queue_devices(q)
        return mem

    def queue_pause(self, interface: str, paused: bool, reason: str = "", queue: str | None = None) -> int:
        """Pause/unpause a member in one queue or in all its queues; returns how many changed."""
        if queue is not None and queue not in self.queues:
            raise NoSuchMember(interface)
        queues = [self.queues[queue]] if queue is not None else list(self.queues.values())
        n = 0
        for q in queues:
            mem = q.members.get(interface)
            if mem is None:
                continue
            mem.paused, mem.pause_reason = paused, reason
            if paused:
                mem.last_pause = int(self.clock())
            self.set_device_state(f"Queue:{q.name}_pause_{interface}",
                                  DeviceState.INUSE if paused else DeviceState.NOT_INUSE)
            self._queue_devices(q)
            self.publish(QueueMemberChanged(q, mem, "paused"))
            if not paused:
                # Asterisk reports the unpause reason once, then forgets it.
                mem.pause_reason = ""
            n += 1
        if n == 0:
            raise NoSuchMember(interface)
        return n

    def queue_join(self, queue: str, ch: Channel) -> QueueCaller:
        q = self.queue(queue)
        entry = QueueCaller(ch.uniqueid, self.clock(), len(q.callers) + 1)
        q.callers.append(entry)
        self.set_device_state(f"Queue:{q.name}", DeviceState.RINGING)
        self.publish(QueueCallerJoin(q, ch, entry.position, len(q.callers)))
        return entry

    def queue_leave(self, queue: str, ch: Channel) -> None:
        q = self.queue(queue)
        for i, entry in enumerate(q.callers):
            if entry.uniqueid == ch.uniqueid:
                del q.callers[i]
                for j, e in enumerate(q.callers):
                    e.position = j + 1
                if not q.callers:
                    self.set_device_state(f"Queue:{q.name}", DeviceState.NOT_INUSE)
                self.publish(QueueCallerLeave(q, ch, entry.position, len(q.callers)))
                return

    # ------------------------------------------------------------------ conferences

    def conf_join(self, room: str, ch: Channel, admin: bool = False, muted: bool = False,
                  listen_only: bool = False, marked: bool = False, wait_marked: bool = False) -> Participant:
        conf = self.conferences.get(room)
        if conf is None:
            br = Bridge(id=self.new_uuid(), type="base", technology="softmix", creator="ConfBridge", name=room,
                        created=self.clock())
            conf = Conference(name=room, bridge=br, created=self.clock(), uuid=self.new_uuid())
            self.conferences[room] = conf
            self.bridge(bridge=br)
            br.extra_channels = 1   # the announcer channel
            self.publish(ConferenceStart(conf))
            self.set_device_state(f"confbridge:{room}", DeviceState.INUSE)
        p = Participant(uniqueid=ch.uniqueid, member_id=conf.next_member_id, admin=admin, marked=marked,
                        muted=muted or listen_only, listen_only=listen_only, joined=self.clock())
        # ConfBridge's wait_marked (mod_conference's wait-mod): a user waits until a marked user (the
        # moderator) is there; the leader's arrival lets every waiting user in.
        leader = admin or marked
        p.waiting = wait_marked and not leader and not any(q.admin or q.marked for q in conf.participants.values())
        if leader:
            for q in conf.participants.values():
                q.waiting = False
        conf.next_member_id += 1
        conf.participants[ch.uniqueid] = p
        first = self.channels.get(conf.bridge.channels[0]) if conf.bridge.channels else None
        p.peer_channel = first.name if first is not None else ""
        self.enter_bridge(conf.bridge, ch)
        self.publish(ConferenceJoin(conf, p, ch))
        # music_on_hold_when_empty: a lone participant hears MOH until someone joins.
        self._conf_moh(conf)
        return p

    def _conf_moh(self, conf: Conference, leaving: Channel | None = None) -> None:
        alone = next(iter(conf.participants)) if len(conf.participants) == 1 else None
        if conf.moh is not None and conf.moh != alone:
            ch = self.channels.get(conf.moh) or leaving
            if ch is not None:
                self.publish(MusicOnHold(ch, False))
            conf.moh = None
        if alone is not None and conf.moh is None and alone in self.channels:
            conf.moh = alone
            self.publish(MusicOnHold(self.channels[alone], True))

    def conf_leave(self, room: str, ch: Channel) -> None:
        conf = self.conferences.get(room)
        if conf is None:
            raise NoSuchConference(room)
        p = conf.participants.pop(ch.uniqueid, None)
        if p is None:
            return
        self.publish(ConferenceLeave(conf, p, ch))
        self.unbridge(ch)
        self._conf_moh(conf, leaving=ch)
        if not conf.participants:
            del self.conferences[room]
            self.set_device_state(f"confbridge:{room}", DeviceState.NOT_INUSE)
            self.publish(ConferenceEnd(conf))
            self.destroy_bridge(conf.bridge)

    def _conf_targets(self, conf: Conference, who: str) -> list[tuple[Participant, Channel]]:
        out = []
        for uid, p in conf.participants.items():
            ch = self.channels.get(uid)
            if ch is None:
                continue
            if who == "all" or (who == "participants" and not p.admin) or who in (
                    ch.name, ch.uniqueid, ch.uuid, str(p.member_id)):
                out.append((p, ch))
        return out

    def conf_kick(self, room: str, who: str) -> int:
        """Kick participants; like ConfBridge, a kicked caller continues in the dialplan (Hangup())."""
        conf = self.conferences.get(room)
        if conf is None:
            raise NoSuchConference(room)
        targets = self._conf_targets(conf, who)
        for p, ch in targets:
            start = ch.created
            self.conf_leave(room, ch)
            self.set_application(ch, "Hangup", "", priority=3)
            self.request_hangup(ch, 16, soft=True)
            self.destroy_channel(ch, 16)
            conf_rec = self.cdr_for(ch, None, ch.exten, "ConfBridge", f"{room},default_bridge,default_user",
                                    start=start)
            conf_rec.dstchannel = p.peer_channel
            self.call_record(conf_rec)
            self.call_record(self.cdr_for(ch, None, ch.exten, "Hangup", "", start=self.clock()))
            self.flush_devices(ch.endpoint)
        return len(targets)

    def conf_mute(self, room: str, who: str, muted: bool = True) -> int:
        conf = self.conferences.get(room)
        if conf is None:
            raise NoSuchConference(room)
        targets = self._conf_targets(conf, who)
        for p, ch in targets:
            p.muted = muted
            self.publish(ConferenceMute(conf, p, ch, muted))
        return len(targets)

    def conf_lock(self, room: str, locked: bool = True) -> None:
        conf = self.conferences.get(room)
        if conf is None:
            raise NoSuchConference(room)
        conf.locked = locked

    def conf_end(self, room: str) -> int:
        return self.conf_kick(room, "all")

    # ------------------------------------------------------------------ voicemail

    def _box_dir(self, mb: Mailbox, folder: str) -> Path | None:
        if self.spool_dir is None:
            return None
        return self.spool_dir / "voicemail" / mb.context / mb.box / folder

    def message_path(self, msg: VoicemailMessage) -> Path | None:
        """The .wav of a message in the spool (None without a spool dir)."""
        mb = self.mailbox(msg.mailbox, msg.context)
        d = self._box_dir(mb, msg.folder)
        if d is None:
            return None
        return d / f"msg{mb.folder(msg.folder).index(msg):04d}.wav"

    def _write_folder(self, mb: Mailbox, folder: str, audio: dict[str, bytes] | None = None) -> None:
        """Rewrite a folder so its files are numbered msg0000.. in list order, as app_voicemail keeps them."""
        d = self._box_dir(mb, folder)
        if d is None:
            return
        d.mkdir(parents=True, exist_ok=True)
        wavs: dict[str, bytes] = dict(audio or {})
        for old in sorted(d.glob("msg*.txt")):
            meta = old.read_text()
            mid = next((ln.split("=", 1)[1] for ln in meta.splitlines() if ln.startswith("msg_id=")), None)
            wav = old.with_suffix(".wav")
            if mid is not None and wav.exists() and mid not in wavs:
                wavs[mid] = wav.read_bytes()
            old.unlink()
            wav.unlink(missing_ok=True)
        for i, msg in enumerate(mb.folder(folder)):
            base = d / f"msg{i:04d}"
            base.with_suffix(".txt").write_text(self._msg_txt(msg))
            base.with_suffix(".wav").write_bytes(wavs.pop(msg.msg_id, None) or silent_wav(msg.duration))

    def _read_audio(self, mb: Mailbox, msg: VoicemailMessage) -> dict[str, bytes]:
        d = self._box_dir(mb, msg.folder)
        if d is None:
            return {}
        wav = d / f"msg{mb.folder(msg.folder).index(msg):04d}.wav"
        return {msg.msg_id: wav.read_bytes()} if wav.exists() else {}

    def _msg_txt(self, msg: VoicemailMessage) -> str:
        return (";\n; Message Information file\n;\n[message]\n"
                f"origmailbox={msg.origmailbox or msg.mailbox}\ncontext=internal\nexten={msg.exten or msg.mailbox}\n"
                f"rdnis=unknown\npriority={msg.priority}\ncallerchan={msg.callerchan}\ncallerid={msg.caller_id}\n"
                f"origdate={msg.origdate}\norigtime={msg.origtime}\ncategory=\nmsg_id={msg.msg_id}\n"
                f"flag={msg.flag}\nduration={msg.duration}\n")

    def load_spool(self) -> int:
        """Read the messages already in the spool into the mailboxes, as app_voicemail finds them at
        start-up (a restarted PBX keeps its messages); returns how many were read. Without this a restart
        would number new messages from msg0000 again, over the old files."""
        count = 0
        for mb in self.mailboxes.values():
            for folder in list(mb.messages):
                d = self._box_dir(mb, folder)
                if d is None or not d.is_dir():
                    continue
                known = {m.msg_id for m in mb.folder(folder)}
                for txt in sorted(d.glob("msg[0-9][0-9][0-9][0-9].txt")):
                    meta = dict(ln.split("=", 1) for ln in txt.read_text(errors="replace").splitlines()
                                if "=" in ln and not ln.startswith(";"))
                    mid = meta.get("msg_id") or f"{txt.stem}-{folder}"
                    if mid in known:
                        continue
                    try:
                        origtime, duration = int(meta.get("origtime", "0")), int(meta.get("duration", "0"))
                    except ValueError:
                        origtime, duration = 0, 0
                    mb.folder(folder).append(VoicemailMessage(
                        context=mb.context, mailbox=mb.box, folder=folder, msg_id=mid, uuid=self.new_uuid(),
                        caller_id=meta.get("callerid", ""), callerchan=meta.get("callerchan", ""),
                        origtime=origtime, duration=duration, exten=meta.get("exten", ""),
                        origmailbox=meta.get("origmailbox", ""), flag=meta.get("flag", "")))
                    known.add(mid)
                    count += 1
        return count

    def mailbox_counts(self, box: str, context: str = "default") -> tuple[int, int, int]:
        mb = self.mailboxes.get(f"{box}@{context}")
        if mb is None:
            return 0, 0, 0
        return len(mb.folder("Urgent")), len(mb.folder("INBOX")), len(mb.folder("Old"))

    def _mwi(self, mb: Mailbox, channel: Channel | None = None, device: bool = True) -> None:
        urgent, new, old = self.mailbox_counts(mb.box, mb.context)
        self.publish(MessageWaiting(mb, new, old, urgent, channel))
        if device:
            self.set_device_state(f"MWI:{mb.id}", DeviceState.INUSE if new + urgent else DeviceState.NOT_INUSE)

    def announce_mwi(self, box: str | None = None, context: str | None = None) -> None:
        """Publish MessageWaiting for every matching mailbox (what a voicemail reload does)."""
        for mb in self.mailboxes.values():
            if (box is None or mb.box == box) and (context is None or mb.context == context):
                self._mwi(mb)

    def leave_voicemail(self, box: str, caller_id: str = '"" <unknown>', duration: int = 3,
                        context: str = "default", callerchan: str = "", folder: str = "INBOX",
                        exten: str = "", origtime: int | None = None, msg_id: str | None = None,
                        channel: Channel | None = None, audio: bytes | None = None) -> VoicemailMessage:
        """A message as app_voicemail records it; ``audio`` is the recording (a WAV), silence if None."""
        mb = self.mailbox(box, context)
        ot = int(origtime if origtime is not None else self.clock())
        msg = VoicemailMessage(context=context, mailbox=box, folder=folder,
                               msg_id=msg_id or f"{ot}-{self._msg_seq:08x}", uuid=self.new_uuid(),
                               caller_id=caller_id, callerchan=callerchan, origtime=ot, duration=duration,
                               exten=exten or box, origmailbox=box)
        self._msg_seq += 1
        mb.folder(folder).append(msg)
        d = self._box_dir(mb, folder)
        if d is not None:
            # A new message only adds the next msgNNNN pair; renumbering is for moves and deletes.
            d.mkdir(parents=True, exist_ok=True)
            base = d / f"msg{len(mb.folder(folder)) - 1:04d}"
            base.with_suffix(".txt").write_text(self._msg_txt(msg))
            base.with_suffix(".wav").write_bytes(audio if audio is not None else silent_wav(msg.duration))
        self.publish(VoicemailLeft(mb, msg))
        self._mwi(mb, channel)
        return msg

    def find_message(self, box: str, folder: str | None, msg_id: str,
                     context: str = "default") -> VoicemailMessage | None:
        mb = self.mailboxes.get(f"{box}@{context}")
        if mb is None:
            return None
        folders = [folder] if folder is not None else list(mb.messages)
        for f in folders:
            for m in mb.folder(f):
                if msg_id in (m.msg_id, m.uuid):
                    return m
        return None

    def move_message(self, box: str, folder: str, msg_id: str, to_folder: str, context: str = "default") -> bool:
        msg = self.find_message(box, folder, msg_id, context)
        if msg is None:
            return False
        mb = self.mailbox(box, context)
        audio = self._read_audio(mb, msg)
        mb.folder(folder).remove(msg)
        msg.folder = to_folder
        mb.folder(to_folder).append(msg)
        self._write_folder(mb, folder)
        self._write_folder(mb, to_folder, audio)
        self._mwi(mb)
        return True

    def mark_read(self, box: str, msg_id: str, read: bool = True, context: str = "default") -> bool:
        src, dst = ("INBOX", "Old") if read else ("Old", "INBOX")
        return self.move_message(box, src, msg_id, dst, context)

    def delete_message(self, box: str, folder: str, msg_id: str, context: str = "default") -> bool:
        msg = self.find_message(box, folder, msg_id, context)
        if msg is None:
            return False
        mb = self.mailbox(box, context)
        mb.folder(folder).remove(msg)
        self._write_folder(mb, folder)
        # app_voicemail reports the new counts but the lamp device only changes when it really changes.
        self._mwi(mb)
        return True

    def forward_message(self, box: str, folder: str, msg_id: str, to_box: str, to_folder: str = "INBOX",
                        context: str = "default", to_context: str = "default") -> bool:
        msg = self.find_message(box, folder, msg_id, context)
        if msg is None:
            return False
        src = self.mailbox(box, context)
        dst = self.mailbox(to_box, to_context)
        audio = self._read_audio(src, msg)
        copy = VoicemailMessage(context=to_context, mailbox=to_box, folder=to_folder, msg_id=msg.msg_id,
                                uuid=self.new_uuid(), caller_id=msg.caller_id, callerchan=msg.callerchan,
                                origtime=msg.origtime, duration=msg.duration, exten=msg.exten,
                                origmailbox=msg.origmailbox, flag=msg.flag)
        dst.folder(to_folder).append(copy)
        self._write_folder(dst, to_folder, audio)
        self.publish(VoicemailLeft(dst, copy))
        self._mwi(dst)
        return True

    # ------------------------------------------------------------------ key-value store

    def db_put(self, family: str, key: str, value: str) -> None:
        self.db[f"{family}/{key}"] = value
        self.publish(DbChanged(family, key, value, "put"))

    def db_get(self, family: str, key: str) -> str | None:
        return self.db.get(f"{family}/{key}")

    def db_del(self, family: str, key: str) -> bool:
        if self.db.pop(f"{family}/{key}", None) is None:
            return False
        self.publish(DbChanged(family, key, None, "del"))
        return True

    def db_deltree(self, family: str, key: str | None = None) -> int:
        prefix = f"{family}/{key}" if key else family
        gone = [k for k in self.db if k == prefix or k.startswith(prefix + "/")]
        for k in gone:
            del self.db[k]
        if gone:
            self.publish(DbChanged(family, key, None, "deltree"))
        return len(gone)

    def db_tree(self, family: str | None = None, key: str | None = None) -> list[tuple[str, str, str]]:
        """Entries under family[/key] sorted by full key, each as (family, key, value)."""
        prefix = None if not family else (f"{family}/{key}" if key else family)
        out = []
        for k in sorted(self.db):
            if prefix is None or k == prefix or k.startswith(prefix + "/"):
                fam, _, kk = k.rpartition("/")
                out.append((fam, kk, self.db[k]))
        return out

    # ------------------------------------------------------------------ SIP side effects

    def send_notify(self, endpoint: str | None = None, uri: str | None = None, event: str = "check-sync",
                    headers: list[tuple[str, str]] | None = None, body: str = "") -> SipNotify:
        if endpoint is not None and endpoint not in self.endpoints:
            raise NoSuchEndpoint(endpoint)
        if uri is None:
            ep = self.endpoints.get(endpoint or "")
            uri = ep.registration.contact if ep and ep.registration else f"sip:{endpoint}@{self.domain}"
        n = SipNotify(endpoint, uri, event, list(headers or []), body, self.clock())
        self.notifies.append(n)
        self.publish(NotifySent(n))
        return n

    def send_message(self, to: str, from_: str, body: str, destination: str | None = None,
                     variables: dict[str, str] | None = None) -> SipMessage:
        """Send a SIP MESSAGE; it is delivered when the target is not a local phone or is registered."""
        target = (destination or to).split(":", 1)[-1].split("@", 1)[0].split("/")[-1]
        ep = self.endpoints.get(target)
        delivered = ep is None or ep.registered
        msg = SipMessage(to, from_, body, destination or to, dict(variables or {}), self.clock(), delivered)
        self.messages.append(msg)
        self.publish(MessageSent(msg))
        return msg

    # ------------------------------------------------------------------ lifecycle

    def reload(self, module: str | None = None) -> None:
        self.last_reload = self.clock()
        if module is None or "voicemail" in module:
            self.announce_mwi()
        self.publish(Reloaded(module))

    def shutdown(self, restart: bool = False) -> None:
        self.publish(Shutdown(restart))

    def uptime(self) -> int:
        return int(self.clock() - self.started)


def silent_wav(seconds: int, rate: int = 8000) -> bytes:
    """A PCM 16-bit mono WAV of silence, the format app_voicemail writes with format=wav."""
    frames = max(0, int(seconds)) * rate
    data_len = frames * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_len) + b"WAVE"
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return header + fmt + b"data" + struct.pack("<I", data_len) + bytes(data_len)
