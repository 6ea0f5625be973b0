"""A fake of our own PBX port (not of panoramisk or greenswitch): an in-memory PBX for daemon and
portal tests. Adapter tests use the real clients against sim/ instead."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from clusterpbx.control.port import (
    CallRecordReport,
    ConferenceParticipant,
    ConferenceRoom,
    ConferenceSettings,
    Connected,
    Disconnected,
    EventHandler,
    ExtensionFeatures,
    MailboxCounts,
    MailboxFolder,
    PbxCall,
    PbxEvent,
    PbxPort,
    PbxUnreachable,
    PhoneVendor,
    QueueMember,
    RegistrationState,
    VoicemailMessage,
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class FakePbx(PbxPort):
    up: bool = True
    features: dict[str, ExtensionFeatures] = field(default_factory=dict)
    members: dict[tuple[str, str], QueueMember] = field(default_factory=dict)
    calls: dict[str, PbxCall] = field(default_factory=dict)
    regs: dict[str, RegistrationState] = field(default_factory=dict)
    notifies: list[tuple[str, PhoneVendor]] = field(default_factory=list)
    originates: list[tuple[str, str]] = field(default_factory=list)
    originate_contexts: list[str] = field(default_factory=list)  # the dialplan context of each originate
    originate_caller_ids: list[str] = field(default_factory=list)  # what the user's phone shows, per originate
    handlers: list[EventHandler] = field(default_factory=list)
    record_log: list[CallRecordReport] = field(default_factory=list)
    mailboxes: dict[str, list[VoicemailMessage]] = field(default_factory=dict)
    audio: dict[str, bytes] = field(default_factory=dict)
    refreshed: list[str] = field(default_factory=list)
    conferences_written: dict[str, ConferenceSettings] = field(default_factory=dict)  # what the PBX wrote to its CDR file
    # Conference rooms by name, with who is in them; kicks and mutes as the PBX received them.
    rooms: dict[str, list[ConferenceParticipant]] = field(default_factory=dict)
    conference_actions: list[tuple[str, str, str]] = field(default_factory=list)
    messages: list[tuple[str, str, str, str]] = field(default_factory=list)  # SIP MESSAGEs sent (SMS)
    _connected: bool = False

    # lifecycle and faults
    async def start(self) -> None:
        if self.up:
            self._set_connected(True)

    async def stop(self) -> None:
        self._set_connected(False)

    def _set_connected(self, value: bool) -> None:
        if value == self._connected:
            return
        self._connected = value
        self.emit(Connected(now()) if value else Disconnected(now(), "fake"))

    def go_down(self) -> None:
        self.up = False
        self._set_connected(False)

    def come_back(self) -> None:
        self.up = True
        self._set_connected(True)

    def subscribe(self, handler: EventHandler) -> None:
        self.handlers.append(handler)

    def emit(self, event: PbxEvent) -> None:
        for h in self.handlers:
            h(event)

    @property
    def connected(self) -> bool:
        return self._connected

    def _check(self) -> None:
        if not self._connected:
            raise PbxUnreachable("fake PBX is down")

    async def call_records_since(self, position: str) -> tuple[list[CallRecordReport], str]:
        self._check()
        start = int(position or 0)
        return self.record_log[start:], str(len(self.record_log))

    async def registrations(self) -> list[RegistrationState]:
        self._check()
        return list(self.regs.values())

    async def live_calls(self) -> list[PbxCall]:
        self._check()
        return list(self.calls.values())

    async def queue_members(self, queue: str | None = None) -> list[QueueMember]:
        self._check()
        return [m for m in self.members.values() if queue is None or m.queue == queue]

    async def queue_login(self, queue: str, interface: str, member_name: str = "") -> None:
        self._check()
        self.members.setdefault((queue, interface), QueueMember(queue, interface, member_name))

    async def queue_logout(self, queue: str, interface: str) -> None:
        self._check()
        self.members.pop((queue, interface), None)

    async def queue_pause(self, queue: str, interface: str, reason: str = "") -> None:
        self._check()
        m = self.members[(queue, interface)]
        self.members[(queue, interface)] = QueueMember(queue, interface, m.member_name, True, True, reason)

    async def queue_resume(self, queue: str, interface: str) -> None:
        self._check()
        m = self.members[(queue, interface)]
        self.members[(queue, interface)] = QueueMember(queue, interface, m.member_name, True, False, "")

    async def conference_rooms(self) -> list[ConferenceRoom]:
        self._check()
        return [ConferenceRoom(name, len(people)) for name, people in self.rooms.items() if people]

    async def conference_participants(self, room: str) -> list[ConferenceParticipant]:
        self._check()
        return list(self.rooms.get(room, []))

    async def conference_kick(self, room: str, participant_id: str) -> None:
        self._check()
        self.conference_actions.append((room, participant_id, "kick"))
        self.rooms[room] = [p for p in self.rooms.get(room, []) if p.participant_id != participant_id]

    async def conference_mute(self, room: str, participant_id: str, muted: bool) -> None:
        self._check()
        self.conference_actions.append((room, participant_id, "mute" if muted else "unmute"))
        self.rooms[room] = [dataclasses.replace(p, muted=muted) if p.participant_id == participant_id else p
                            for p in self.rooms.get(room, [])]

    async def write_features(self, extension: str, features: ExtensionFeatures) -> None:
        self._check()
        self.features[extension] = features.validated()

    async def write_conference(self, extension: str, settings: ConferenceSettings) -> None:
        self._check()
        self.conferences_written[extension] = settings.validated()

    async def read_features(self, extension: str) -> ExtensionFeatures:
        self._check()
        return self.features.get(extension, ExtensionFeatures())

    async def move_features(self, old: str, new: str) -> int:
        self._check()
        moved = 0
        for store in (self.features, self.conferences_written):
            if old in store and old != new:
                value = store.pop(old)  # type: ignore[attr-defined]
                store.setdefault(new, value)  # type: ignore[attr-defined]
                moved += 1
        return moved

    async def voicemail_messages(self, mailbox: str) -> list[VoicemailMessage]:
        self._check()
        return list(self.mailboxes.get(mailbox, []))

    async def voicemail_audio(self, mailbox: str, message_id: str) -> bytes:
        self._check()
        return self.audio[message_id]

    async def voicemail_delete(self, mailbox: str, message_ids: Sequence[str]) -> None:
        self._check()
        self.mailboxes[mailbox] = [m for m in self.mailboxes.get(mailbox, []) if m.message_id not in message_ids]

    async def voicemail_move(self, mailbox: str, message_ids: Sequence[str], folder: MailboxFolder) -> None:
        self._check()
        self.mailboxes[mailbox] = [dataclasses.replace(m, folder=folder) if m.message_id in message_ids else m
                                   for m in self.mailboxes.get(mailbox, [])]

    async def voicemail_refresh(self, mailbox: str) -> None:
        self._check()
        self.refreshed.append(mailbox)

    async def mailbox_counts(self, mailbox: str) -> MailboxCounts:
        self._check()
        return MailboxCounts(0, 0)

    async def resync_phone(self, endpoint: str, vendor: PhoneVendor) -> None:
        self._check()
        self.notifies.append((endpoint, vendor))

    async def click_to_call(self, endpoint: str, number: str, caller_id: str = "", context: str = "") -> None:
        self._check()
        self.originates.append((endpoint, number))
        self.originate_contexts.append(context)
        self.originate_caller_ids.append(caller_id)

    async def send_message(self, from_endpoint: str, to_number: str, body: str, trunk: str = "") -> None:
        self._check()
        self.messages.append((from_endpoint, to_number, body, trunk))
