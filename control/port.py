"""The PBX port: the one interface that the Asterisk (ami/) and FreeSWITCH (esl/) adapters implement,
in the portal's language. The control daemon and the tests talk to a PBX only through it.

Every value is typed and validated (control.validation) before an adapter puts it on the wire;
adapters raise the typed errors below, never a library's own exception.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import validation

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Errors


class PbxError(Exception):
    """Base of every error an adapter raises; the portal turns each kind into a clear message."""


class PbxUnreachable(PbxError):
    """No connection to the PBX (refused, closed, not logged in yet)."""


class PbxRefused(PbxError):
    """The PBX answered with an error (authentication failed, unknown queue, no such mailbox...)."""


class PbxTimeout(PbxError):
    """The PBX did not answer within the adapter's timeout."""


# ---------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class RegistrationState:
    endpoint: str
    registered: bool
    contact: str = ""
    user_agent: str = ""


class CallState(enum.StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"


@dataclass(frozen=True)
class PbxCall:
    """A call in progress as the PBX reports it (what "Appels en cours" shows). Not the ORM row
    `control.models.LiveCall`, which control/daemon/projection.py writes from these."""

    call_id: str  # stable for the whole call (Asterisk Linkedid, FreeSWITCH call uuid)
    started_at: dt.datetime  # naive UTC
    state: CallState
    source_number: str = ""
    destination_number: str = ""
    source_uri: str = ""
    destination_uri: str = ""
    source_ip: str = ""
    destination_ip: str = ""
    answered_at: dt.datetime | None = None
    caller_name: str = ""
    # Which tenant the call belongs to, when two tenants of a node share numbers: the SIP endpoints
    # (globally unique names), the dialplan context the call runs in (cpbx-<slug>[-<part>]) and, on
    # FreeSWITCH, the directory domain of the caller or the user dialled.
    source_endpoint: str = ""
    destination_endpoint: str = ""
    context: str = ""
    domain: str = ""


class CallStatus(enum.StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"


@dataclass(frozen=True)
class CallRecordReport:
    """A finished call as the PBX reports it at hangup (Asterisk Cdr, FreeSWITCH HANGUP_COMPLETE)."""

    pbx_call_id: str  # unique per record on the node: used for idempotent ingestion
    call_id: str  # groups the legs of one call
    started_at: dt.datetime
    answered_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_seconds: int
    billable_seconds: int
    caller_name: str
    caller_number: str
    dialed_number: str
    source_endpoint: str  # the calling SIP endpoint when internal, else ""
    destination_endpoint: str  # the endpoint that answered or was rung, else ""
    status: CallStatus
    recording_path: str = ""
    # The tenant's namespace on the PBX, to attribute dialed_number (a bare number two tenants may
    # share): the dialplan context (Asterisk dcontext, FreeSWITCH caller context) and the FreeSWITCH
    # directory domain.
    context: str = ""
    domain: str = ""


@dataclass(frozen=True)
class QueueMember:
    queue: str
    interface: str  # e.g. PJSIP/201 or the mod_callcenter agent name
    member_name: str = ""
    logged_in: bool = True
    paused: bool = False
    pause_reason: str = ""
    in_call: bool = False


@dataclass(frozen=True)
class ConferenceParticipant:
    participant_id: str  # channel name (Asterisk) or member id (FreeSWITCH)
    caller_number: str
    caller_name: str = ""
    admin: bool = False
    muted: bool = False
    listen_only: bool = False


@dataclass(frozen=True)
class ConferenceRoom:
    name: str
    participants: int
    locked: bool = False


@dataclass(frozen=True)
class ExtensionFeatures:
    """Per-extension call features, written where the generated dialplan reads them."""

    call_waiting: bool = True
    dnd: bool = False
    forward_always: str = ""
    forward_busy: str = ""
    forward_noanswer: str = ""
    forward_noanswer_delay: int = 20
    followme_enabled: bool = False
    followme_numbers: tuple[str, ...] = ()
    followme_delay: int = 20
    followme_confirm: bool = False
    language: str = "fr"
    out_of_office: bool = False

    def validated(self) -> ExtensionFeatures:
        for name in ("forward_always", "forward_busy", "forward_noanswer"):
            value = getattr(self, name)
            if value:
                validation.dial_string(value, name)
        for n in self.followme_numbers:
            validation.dial_string(n, "followme_numbers")
        if self.language not in ("fr", "en"):
            raise validation.InvalidValue("language", "invalid_language")
        for name in ("forward_noanswer_delay", "followme_delay"):
            if not 0 <= getattr(self, name) <= 300:
                raise validation.InvalidValue(name, "out_of_range")
        return self


@dataclass(frozen=True)
class ConferenceSettings:
    """A user's personal conference, written where the generated dialplan reads it at call time."""

    enabled: bool = False
    admin_pin: str = ""
    user_pin: str = ""
    max_members: int = 15
    announce_count: bool = True
    announce_join_leave: bool = False
    music_on_hold: bool = True
    star_menu: bool = True
    wait_for_admin: bool = False
    listen_only: bool = False

    def validated(self) -> ConferenceSettings:
        for name in ("admin_pin", "user_pin"):
            value = getattr(self, name)
            if value:
                validation.pin(value, 4, 20, name)
        if not 0 <= self.max_members <= 500:
            raise validation.InvalidValue("max_members", "out_of_range")
        return self


class MailboxFolder(enum.StrEnum):
    INBOX = "INBOX"
    OLD = "Old"
    WORK = "Work"
    FAMILY = "Family"
    FRIENDS = "Friends"
    URGENT = "Urgent"


@dataclass(frozen=True)
class VoicemailMessage:
    message_id: str  # stable id (Asterisk msg_id, FreeSWITCH uuid)
    mailbox: str
    folder: MailboxFolder
    caller_id: str  # as the PBX recorded it: '"Name" <number>'
    received_at: dt.datetime  # naive UTC
    duration_seconds: int


@dataclass(frozen=True)
class MailboxCounts:
    new: int
    old: int
    urgent: int = 0


class PhoneVendor(enum.StrEnum):
    YEALINK = "yealink"
    GRANDSTREAM = "grandstream"
    POLYCOM = "polycom"
    CISCO = "cisco"
    SNOM = "snom"
    FANVIL = "fanvil"
    OTHER = "other"


# ---------------------------------------------------------------------------------------------
# Domain events, in the portal's terms


@dataclass(frozen=True)
class PbxEvent:
    at: dt.datetime


@dataclass(frozen=True)
class Connected(PbxEvent):
    """The adapter is logged in (first time or after a reconnect): take a snapshot now."""


@dataclass(frozen=True)
class Disconnected(PbxEvent):
    reason: str = ""


@dataclass(frozen=True)
class CallStarted(PbxEvent):
    call: PbxCall


@dataclass(frozen=True)
class CallRinging(PbxEvent):
    call_id: str
    destination_number: str = ""
    destination_uri: str = ""
    destination_ip: str = ""
    destination_endpoint: str = ""


@dataclass(frozen=True)
class CallAnswered(PbxEvent):
    call_id: str
    destination_number: str = ""
    destination_uri: str = ""
    destination_ip: str = ""
    destination_endpoint: str = ""


@dataclass(frozen=True)
class CallBridged(PbxEvent):
    call_id: str
    other_call_id: str = ""


@dataclass(frozen=True)
class CallTransferred(PbxEvent):
    call_id: str
    target: str = ""


@dataclass(frozen=True)
class CallEnded(PbxEvent):
    call_id: str
    cause: str = ""  # e.g. normal_clearing, no_answer, busy
    cause_code: int = 0


@dataclass(frozen=True)
class CallRecorded(PbxEvent):
    record: CallRecordReport


@dataclass(frozen=True)
class RegistrationChanged(PbxEvent):
    state: RegistrationState


@dataclass(frozen=True)
class QueueMemberChanged(PbxEvent):
    member: QueueMember
    removed: bool = False


@dataclass(frozen=True)
class MailboxChanged(PbxEvent):
    mailbox: str
    counts: MailboxCounts


@dataclass(frozen=True)
class ConferenceChanged(PbxEvent):
    room: str
    participant: ConferenceParticipant | None = None
    left: bool = False


# What a feature code dialled on a phone may report (dialplan/asterisk.py, dialplan/freeswitch.py):
# feature -> the values it may take.
PHONE_FEATURES: dict[str, tuple[str, ...]] = {"dnd": ("on", "off"), "queue": ("login", "logout")}
_ASTERISK_OWNER = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*-[0-9]{1,10}")
_FREESWITCH_OWNER = re.compile(r"[0-9]{1,10}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


@dataclass(frozen=True)
class FeatureChanged(PbxEvent):
    """A feature code dialled on a phone changed a setting on the PBX (``*76`` DND, ``*45``/``*46`` queue
    log-in/out). ``owner`` names the extension as ``control.pbxnames.PbxNames.feature_owner`` does
    (``<slug>-<number>`` on Asterisk, ``<number>@<tenant domain>`` on FreeSWITCH)."""

    owner: str
    feature: str
    value: str

    @classmethod
    def parse(cls, at: dt.datetime, owner: str, feature: str, value: str, *,
              freeswitch: bool) -> FeatureChanged | None:
        """The event, or None when any part is not exactly what the generated dialplan sends (the event
        stream is outside input: anything else is dropped)."""
        owner, feature, value = (x.strip() if isinstance(x, str) else "" for x in (owner, feature, value))
        pattern = _FREESWITCH_OWNER if freeswitch else _ASTERISK_OWNER
        # a slug and its dash fit in 40 characters (dialplan/keys.py), a domain in 253
        if len(owner) > (264 if freeswitch else 50) or not pattern.fullmatch(owner):
            return None
        if value not in PHONE_FEATURES.get(feature, ()):
            return None
        return cls(at, owner, feature, value)


EventHandler = Callable[[PbxEvent], None]


# ---------------------------------------------------------------------------------------------
# The port


@dataclass
class NodeAddress:
    """How an adapter reaches its node (from the pbx_nodes row)."""

    host: str
    port: int
    username: str = ""
    secret: str = ""
    spool_path: str = ""
    sip_domain: str = ""
    timeout: float = 5.0
    extra: dict[str, str] = field(default_factory=dict)


class PbxPort(abc.ABC):
    """What ClusterPBX asks of a PBX. All methods are coroutines run on the daemon's asyncio loop."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and log in; keeps re-connecting with capped back-off until stop()."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    def subscribe(self, handler: EventHandler) -> None:
        """Receive domain events. A handler that raises is logged and never kills the session."""
        self.__dict__.setdefault("_handlers", []).append(handler)

    def _emit(self, events: Sequence[PbxEvent]) -> None:
        """Deliver events to every subscriber, in order; a subscriber's bug is logged, never fatal."""
        for event in events:
            for handler in list(self.__dict__.get("_handlers", ())):
                try:
                    handler(event)
                except Exception:
                    log.exception("PBX event handler failed on %s", type(event).__name__)

    @property
    @abc.abstractmethod
    def connected(self) -> bool: ...

    async def call_records_since(self, position: str) -> tuple[list[CallRecordReport], str]:
        """Catch-up for call records the live event stream missed (daemon down, link cut): records
        after `position` (an opaque cursor the daemon keeps), and the new cursor. Adapters whose PBX
        replays or posts its records elsewhere keep this default."""
        return [], position

    async def reload_configuration(self, changed: Sequence[str] = ()) -> None:
        """Make the PBX re-read the generated configuration files (`clusterpbx dialplan apply`):
        `changed` names the files that changed (file names of dialplan/), so an adapter reloads only
        what they configure; empty means all of them."""
        raise PbxRefused("this adapter cannot reload the PBX configuration")

    # registrations and live calls
    @abc.abstractmethod
    async def registrations(self) -> list[RegistrationState]: ...

    @abc.abstractmethod
    async def live_calls(self) -> list[PbxCall]: ...

    # queues
    @abc.abstractmethod
    async def queue_members(self, queue: str | None = None) -> list[QueueMember]: ...

    @abc.abstractmethod
    async def queue_login(self, queue: str, interface: str, member_name: str = "") -> None: ...

    @abc.abstractmethod
    async def queue_logout(self, queue: str, interface: str) -> None: ...

    @abc.abstractmethod
    async def queue_pause(self, queue: str, interface: str, reason: str = "") -> None: ...

    @abc.abstractmethod
    async def queue_resume(self, queue: str, interface: str) -> None: ...

    # conferences
    @abc.abstractmethod
    async def conference_rooms(self) -> list[ConferenceRoom]: ...

    @abc.abstractmethod
    async def conference_participants(self, room: str) -> list[ConferenceParticipant]: ...

    @abc.abstractmethod
    async def conference_kick(self, room: str, participant_id: str) -> None: ...

    @abc.abstractmethod
    async def conference_mute(self, room: str, participant_id: str, muted: bool) -> None: ...

    # per-extension features
    @abc.abstractmethod
    async def write_features(self, extension: str, features: ExtensionFeatures) -> None: ...

    @abc.abstractmethod
    async def read_features(self, extension: str) -> ExtensionFeatures: ...

    async def write_conference(self, extension: str, settings: ConferenceSettings) -> None:
        """Write the personal conference's PIN, size and options (AstDB / mod_db, see dialplan/keys.py)."""
        raise PbxRefused("this adapter cannot write conference settings")

    async def move_features(self, old: str, new: str) -> int:
        """Move every call-setting and conference key of extension ``old`` to ``new`` (both as
        ``PbxNames.feature_owner`` names them; ``old`` may be a bare number, the layout before tenants
        had names on the PBX). Keys already under ``new`` win: then ``old``'s are only deleted. Returns
        how many keys ``old`` had (0: nothing to do, so running it again changes nothing)."""
        raise PbxRefused("this adapter cannot move feature keys")

    # voicemail
    @abc.abstractmethod
    async def voicemail_messages(self, mailbox: str) -> list[VoicemailMessage]: ...

    @abc.abstractmethod
    async def voicemail_audio(self, mailbox: str, message_id: str) -> bytes: ...

    @abc.abstractmethod
    async def voicemail_delete(self, mailbox: str, message_ids: Sequence[str]) -> None: ...

    @abc.abstractmethod
    async def voicemail_move(self, mailbox: str, message_ids: Sequence[str], folder: MailboxFolder) -> None: ...

    @abc.abstractmethod
    async def voicemail_refresh(self, mailbox: str) -> None:
        """Make the PBX re-count the mailbox and update the phone's message-waiting light."""

    @abc.abstractmethod
    async def mailbox_counts(self, mailbox: str) -> MailboxCounts: ...

    # phones and messages
    @abc.abstractmethod
    async def resync_phone(self, endpoint: str, vendor: PhoneVendor) -> None:
        """Ask the phone to re-read its configuration (SIP NOTIFY check-sync). ``endpoint``: as for
        click_to_call."""

    @abc.abstractmethod
    async def click_to_call(self, endpoint: str, number: str, caller_id: str = "", context: str = "") -> None:
        """Ring the user's own endpoint, then dial `number` once it answers, in dialplan `context` (the
        tenant's, ``cpbx-<slug>``; empty: the adapter's own choice). ``endpoint`` is the SIP user name;
        on FreeSWITCH ``<user>@<domain>`` names the tenant's directory domain (bare: the node's)."""

    @abc.abstractmethod
    async def send_message(self, from_endpoint: str, to_number: str, body: str, trunk: str = "") -> None:
        """Send a SIP MESSAGE (text SMS) through the PBX. ``from_endpoint``: the sender's SIP user name, as
        ``<user>@<tenant's SIP domain>`` (the From's domain; FreeSWITCH's directory domain) or bare (the
        node's domain). With a ``trunk`` (a PJSIP endpoint or FreeSWITCH host/gateway, or a SIP host with
        its port), ``to_number`` is the outside number it goes to; without, a phone of the box: the
        endpoint ``<user>@<tenant domain>`` the daemon resolved within the sender's tenant (a bare number
        is a user of the node's domain)."""
