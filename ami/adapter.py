"""The Asterisk adapter: ``control.port.PbxPort`` over AMI (panoramisk underneath, see ami.protocol and
ami.connection), with every value validated before it reaches a header.

Choices (NodeAddress.extra keys in brackets):

* Click to call: Originate ``PJSIP/<endpoint>`` with ``Async: true`` to ``<number>`` in the dialplan
  context the phone itself dials from, so the call gets exactly the phone's permissions. That context is
  the one the call names (the daemon passes the tenant's ``cpbx-<slug>``, the context the generated
  configuration gives a tenant's phones); a call naming none uses [``context``] when set, otherwise the
  endpoint's own ``Context`` read once with PJSIPShowEndpoint; ``DEFAULT_CONTEXT`` only if Asterisk
  does not say. The user's phone shows the caller id given for this first leg (its connected line).
* Voicemail: messages are read from the spool (NodeAddress.spool_path) in context
  [``voicemail_context``] (default ``default``); deleting and moving use the AMI actions
  VoicemailRemove / VoicemailMove (recording 14), so app_voicemail renumbers the folder itself, keeps its
  counts and lights the phones' lamps. A mailbox argument is ``<box>`` or ``<box>@<context>``.
* Features: ``dialplan.keys.asterisk_feature_entries`` decides every AstDB key (DBPut, DBDel for
  None); the personal-conference keys are not part of ExtensionFeatures and are left alone. The
  extension may carry the tenant's AstDB prefix (``acme-101``).
* Queue login/logout are idempotent: "Already there" / "Not there" count as done.
* SMS: MessageSend with Base64Body (line breaks travel safely); to ``pjsip:<number>`` or, with a trunk,
  ``pjsip:PJSIP/<number>@<trunk>`` (notes item 8), From ``sip:<endpoint>@<sip_domain or host>``.
* Call records: live from Cdr events; [``cdr_csv``] names the Master.csv the catch-up reads, the cursor
  being its byte offset; [``timezone``] is the zone Asterisk writes CDR times in (default UTC).
* Link: [``events``] overrides the event classes asked for at login (default
  ``system,call,agent,user,cdr,security``, the read classes docs/operators.md grants); [``ping_interval``]
  seconds between pings (default 20; a ping unanswered within NodeAddress.timeout drops the link).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import logging
import re
import time
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from zoneinfo import ZoneInfo

from panoramisk.message import Message

from clusterpbx.control import validation
from clusterpbx.control.port import (
    CallRecordReport,
    ConferenceParticipant,
    ConferenceRoom,
    ConferenceSettings,
    Connected,
    Disconnected,
    ExtensionFeatures,
    MailboxCounts,
    MailboxFolder,
    NodeAddress,
    PbxCall,
    PbxError,
    PbxPort,
    PbxRefused,
    PhoneVendor,
    QueueMember,
    RegistrationState,
    VoicemailMessage,
)
from clusterpbx.dialplan import keys

from . import cdr, spool, validate
from .connection import AmiConnection, ConnectionSettings, Headers
from .translate import EventTranslator, lower_keys, utcnow

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = "clusterpbx-internal"
_DOMAIN = re.compile(r"[A-Za-z0-9.\-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")
# An SMS trunk given as a SIP host with its port (trunk.example.com:5080), rather than a PJSIP endpoint.
_TRUNK_HOST = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})")
DEFAULT_VOICEMAIL_CONTEXT = "default"
# The module that reads each generated file (dialplan/asterisk.py ASTERISK_FILES).
RELOAD_MODULES = {"pjsip_clusterpbx.conf": "res_pjsip.so", "extensions_clusterpbx.conf": "pbx_config.so",
                  "queues_clusterpbx.conf": "app_queue.so", "confbridge_clusterpbx.conf": "app_confbridge.so",
                  "voicemail_clusterpbx.conf": "app_voicemail.so"}
CHECK_SYNC = {
    PhoneVendor.YEALINK: "check-sync;reboot=false",
    PhoneVendor.SNOM: "check-sync;reboot=false",
}


def needed_events() -> tuple[str, ...]:
    """The AMI events the translator uses, plus the two the connection manager watches."""
    handled = sorted(name[4:] for name in dir(EventTranslator) if name.startswith("_on_"))
    names = {n.lower() for n in handled}
    known = {"newchannel": "Newchannel", "newstate": "Newstate", "newcallerid": "NewCallerid",
             "dialbegin": "DialBegin", "dialstate": "DialState", "dialend": "DialEnd", "bridgeenter": "BridgeEnter",
             "bridgeleave": "BridgeLeave", "bridgedestroy": "BridgeDestroy", "blindtransfer": "BlindTransfer",
             "attendedtransfer": "AttendedTransfer", "hangup": "Hangup", "cdr": "Cdr",
             "confbridgejoin": "ConfbridgeJoin", "confbridgeleave": "ConfbridgeLeave",
             "confbridgemute": "ConfbridgeMute", "confbridgeunmute": "ConfbridgeUnmute",
             "confbridgestart": "ConfbridgeStart", "confbridgeend": "ConfbridgeEnd",
             "queuememberadded": "QueueMemberAdded", "queuememberremoved": "QueueMemberRemoved",
             "queuememberpause": "QueueMemberPause", "queuememberpaused": "QueueMemberPaused",
             "queuememberstatus": "QueueMemberStatus",
             "messagewaiting": "MessageWaiting", "contactstatus": "ContactStatus", "successfulauth": "SuccessfulAuth",
             "userevent": "UserEvent"}
    unknown = names - set(known)
    if unknown:  # a new handler without its AMI spelling here would silently never fire
        raise RuntimeError(f"add the AMI spelling of {sorted(unknown)} to needed_events()")
    return tuple(sorted({known[n] for n in names} | {"FullyBooted", "Shutdown"}))


class AsteriskAdapter(PbxPort):
    def __init__(self, address: NodeAddress, *, ping_interval: float | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0) -> None:
        self.address = address
        extra = address.extra or {}
        self.voicemail_context = validate.context(extra.get("voicemail_context") or DEFAULT_VOICEMAIL_CONTEXT,
                                                  "voicemail_context")
        self.dial_context = validate.context(extra["context"], "context") if extra.get("context") else ""
        # The PBX server's zone: Asterisk writes the Cdr event's times in it. Given as the node option
        # `timezone`, or learned at every connection (and each minute, for daylight saving) from
        # CoreStatus's start-up time plus FullyBooted's uptime (_learn_zone).
        self.zone_given = bool(extra.get("timezone"))
        self.tz: dt.tzinfo = ZoneInfo(extra["timezone"]) if self.zone_given else dt.UTC
        # Master.csv's zone: UTC with cdr.conf's usegmtime = yes (docs/operators.md), else the server's.
        self.csv_in_utc = str(extra.get("cdr_csv_zone", "utc")).lower() != "local"
        self._booted: tuple[int, float] | None = None  # FullyBooted's Uptime, and when it arrived
        self._zone_known = self.zone_given
        self._held_cdrs: list[Message] = []  # Cdr events that arrived before the zone was known
        self.translator = EventTranslator(tz=self.tz, voicemail_context=self.voicemail_context)
        settings = ConnectionSettings(
            host=address.host, port=address.port, username=address.username, secret=address.secret,
            timeout=address.timeout, ping_interval=ping_interval or float(extra.get("ping_interval") or 20.0),
            backoff_initial=backoff_initial, backoff_max=backoff_max)
        if extra.get("events"):
            settings.events = validate.header_value(extra["events"], "events")
        if extra.get("event_filter", "on") != "off":
            settings.event_names = needed_events()
        settings.dispatch_events = needed_events()  # nothing else is read, filtered at the PBX or not
        self.connection = AmiConnection(settings, self._on_ami_event, self._on_state)
        self._endpoint_contexts: dict[str, str] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    # ---------------------------------------------------------------- lifecycle and events

    async def start(self) -> None:
        await self.connection.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.connection.stop()

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def _on_state(self, up: bool, reason: str) -> None:
        if up:
            # Channel state from before the outage is stale; the daemon's snapshot (live_calls) reloads it.
            self.translator.reset()
            self._zone_known = self.zone_given
            self._tasks.add(task := asyncio.ensure_future(self._prime_contacts()))
            task.add_done_callback(self._tasks.discard)
            self._tasks.add(task := asyncio.ensure_future(self._release_held_cdrs()))
            task.add_done_callback(self._tasks.discard)
            self._emit([Connected(utcnow())])
        else:
            self._booted = None  # the next session's FullyBooted counts (the PBX may restart meanwhile)
            self._emit([Disconnected(utcnow(), reason=reason)])

    async def _release_held_cdrs(self) -> None:
        # Call records of this session are read once the zone is known, never in a wrong one.
        await self._learn_zone()
        held, self._held_cdrs = self._held_cdrs, []
        for event in held:
            self._on_ami_event(event)

    async def _learn_zone(self) -> None:
        """The server's UTC offset: its local start-up time (CoreStatus) plus its uptime (FullyBooted,
        sent at login) is its local time now. Rounded to a quarter of an hour. Kept as it was when the
        PBX does not say (an old session without FullyBooted, an error)."""
        if self.zone_given:
            self._zone_known = True
            return
        try:
            # FullyBooted comes right after the login answer (class system): waited for once per session.
            for _ in range(0 if self._zone_known else 20):
                if self._booted is not None:
                    break
                await asyncio.sleep(0.05)
            if self._booted is not None:
                status = await self._action({"Action": "CoreStatus"})
                uptime, seen = self._booted
                started = dt.datetime.strptime(f"{status.get('CoreStartupDate')} {status.get('CoreStartupTime')}",
                                               "%Y-%m-%d %H:%M:%S")
                local_now = started + dt.timedelta(seconds=uptime + (time.monotonic() - seen))
                offset = round((local_now - utcnow()).total_seconds() / 900) * 900
                if abs(offset) <= 14 * 3600:
                    zone = dt.UTC if offset == 0 else dt.timezone(dt.timedelta(seconds=offset))
                    if zone != self.tz:
                        log.info("AMI %s: the PBX's clock is UTC%+.2f h", self.address.host, offset / 3600)
                    self.tz = self.translator.tz = zone
        except (PbxError, ValueError, TypeError) as exc:
            log.info("AMI %s: the PBX's zone could not be learned (%s); keeping %s", self.address.host, exc, self.tz)
        finally:
            self._zone_known = True

    def _on_ami_event(self, event: Message) -> None:
        name = event.get("Event")
        if name == "FullyBooted":
            with contextlib.suppress(TypeError, ValueError):
                self._booted = (int(event.get("Uptime") or 0), time.monotonic())
        elif name == "Cdr" and not self._zone_known:
            self._held_cdrs.append(event)
            return
        try:
            events = self.translator.feed(event)
        except Exception:
            log.exception("AMI event %s could not be translated", event.get("event"))
            return
        self._emit(events)

    # ---------------------------------------------------------------- plumbing

    async def _action(self, headers: Headers, *, as_list: bool = False, ok: Sequence[str] = (),
                      timeout: float | None = None) -> Any:
        """Send one action; an Error answer raises PbxRefused unless its message is in ``ok``."""
        answer = await self.connection.send(headers, as_list=as_list, timeout=timeout)
        first = answer[0] if as_list else answer
        if first.get("response") not in ("Success", "Follows", "Goodbye"):
            message = str(first.get("message") or first.get("response") or "error")
            if message in ok:
                return [] if as_list else first
            raise PbxRefused(f"{headers.get('Action')}: {message}")
        return answer

    @staticmethod
    def _items(answer: list[Message], event: str) -> list[dict[str, str]]:
        return [lower_keys(m) for m in answer[1:] if m.get("event") == event]

    # ---------------------------------------------------------------- registrations and calls

    async def _contacts(self) -> dict[str, dict[str, str]]:
        """PJSIPShowContacts by endpoint; also refreshes the translator's contact cache (URIs and IPs)."""
        contacts = await self._action({"Action": "PJSIPShowContacts"}, as_list=True, ok=("No Contacts found",))
        by_endpoint: dict[str, dict[str, str]] = {}
        for c in self._items(contacts, "ContactList"):
            ep = c.get("endpoint") or c.get("aor", "")
            by_endpoint[ep] = c
            self.translator.set_contact(ep, c.get("uri", ""), c.get("viaaddr", ""), c.get("useragent", ""))
        return by_endpoint

    async def _prime_contacts(self) -> None:
        try:
            await self._contacts()
        except Exception as exc:  # the daemon's snapshot will try again
            log.info("could not read the PJSIP contacts after login: %s", exc)

    async def registrations(self) -> list[RegistrationState]:
        endpoints = await self._action({"Action": "PJSIPShowEndpoints"}, as_list=True,
                                       ok=("No endpoints found",))
        by_endpoint = await self._contacts()
        out = []
        for e in self._items(endpoints, "EndpointList"):
            name = e.get("objectname", "")
            c = by_endpoint.get(name)
            # The Contacts column ("101/sip:101@127.0.0.1:5071,") when PJSIPShowContacts did not list it.
            listed = e.get("contacts", "").rstrip(",")
            uri = c.get("uri", "") if c else listed.partition("/")[2].split(",")[0]
            out.append(RegistrationState(endpoint=name, registered=bool(uri), contact=uri,
                                         user_agent=c.get("useragent", "") if c else ""))
        return out

    async def live_calls(self) -> list[PbxCall]:
        await self._learn_zone()  # called each minute (the live-call sweep): daylight saving is followed
        await self._contacts()
        answer = await self._action({"Action": "CoreShowChannels"}, as_list=True)
        return self.translator.load_channels(self._items(answer, "CoreShowChannel"))

    async def reload_configuration(self, changed: Sequence[str] = ()) -> None:
        """Reload exactly the modules whose generated files changed, with the AMI `Reload` action (class
        system: no CLI `Command` needed). Checked on Asterisk 22.10.1: each answers "Module Reloaded"."""
        names = [PurePath(c).name for c in changed] or list(RELOAD_MODULES)
        for module in dict.fromkeys(RELOAD_MODULES[n] for n in names if n in RELOAD_MODULES):
            await self._action({"Action": "Reload", "Module": module})

    async def call_records_since(self, position: str) -> tuple[list[CallRecordReport], str]:
        path = (self.address.extra or {}).get("cdr_csv", "")
        if not path:
            return [], position
        if not self._zone_known:
            await self._learn_zone()
        try:
            offset = int(position or 0)
        except ValueError:
            offset = 0
        reports, new = await asyncio.to_thread(cdr.read_csv_since, path, offset,
                                               dt.UTC if self.csv_in_utc else self.tz)
        return reports, str(new)

    # ---------------------------------------------------------------- queues

    async def queue_members(self, queue: str | None = None) -> list[QueueMember]:
        headers: Headers = {"Action": "QueueStatus"}
        if queue:
            headers["Queue"] = validate.name(queue, "queue")
        answer = await self._action(headers, as_list=True)
        return [QueueMember(queue=m.get("queue", ""), interface=m.get("location") or m.get("interface", ""),
                            member_name=m.get("name") or m.get("membername", ""), logged_in=True,
                            paused=m.get("paused") == "1", pause_reason=m.get("pausedreason", ""),
                            in_call=m.get("incall") == "1")
                for m in self._items(answer, "QueueMember")]

    async def queue_login(self, queue: str, interface: str, member_name: str = "") -> None:
        headers: Headers = {"Action": "QueueAdd", "Queue": validate.name(queue, "queue"),
                            "Interface": validate.interface(interface), "Paused": "false"}
        if member_name:
            headers["MemberName"] = validation.display_name(member_name, "member_name")
        await self._action(headers, ok=("Unable to add interface: Already there",))

    async def queue_logout(self, queue: str, interface: str) -> None:
        await self._action({"Action": "QueueRemove", "Queue": validate.name(queue, "queue"),
                            "Interface": validate.interface(interface)},
                           ok=("Unable to remove interface: Not there",))

    async def queue_pause(self, queue: str, interface: str, reason: str = "") -> None:
        headers: Headers = {"Action": "QueuePause", "Queue": validate.name(queue, "queue"),
                            "Interface": validate.interface(interface), "Paused": "true"}
        if reason:
            headers["Reason"] = validation.display_name(reason, "reason")
        await self._action(headers)

    async def queue_resume(self, queue: str, interface: str) -> None:
        await self._action({"Action": "QueuePause", "Queue": validate.name(queue, "queue"),
                            "Interface": validate.interface(interface), "Paused": "false"})

    # ---------------------------------------------------------------- conferences

    async def conference_rooms(self) -> list[ConferenceRoom]:
        answer = await self._action({"Action": "ConfbridgeListRooms"}, as_list=True, ok=("No active conferences.",))
        return [ConferenceRoom(name=r.get("conference", ""), participants=int(r.get("parties") or 0),
                               locked=r.get("locked", "").lower() == "yes")
                for r in self._items(answer, "ConfbridgeListRooms")]

    async def conference_participants(self, room: str) -> list[ConferenceParticipant]:
        answer = await self._action({"Action": "ConfbridgeList", "Conference": validate.name(room, "room")},
                                    as_list=True, ok=("No active conferences.", "No Conference by that name found."))
        out = []
        for p in self._items(answer, "ConfbridgeList"):
            num = p.get("calleridnum", "")
            name = p.get("calleridname", "")
            out.append(ConferenceParticipant(
                participant_id=p.get("channel", ""), caller_number="" if num == "<unknown>" else num,
                caller_name="" if name == "<unknown>" else name, admin=p.get("admin", "").lower() == "yes",
                # a user waiting for the organiser (wait_marked) is heard by nobody: muted for the portal
                muted=p.get("muted", "").lower() == "yes" or p.get("waiting", "").lower() == "yes"))
        return out

    async def conference_kick(self, room: str, participant_id: str) -> None:
        await self._action({"Action": "ConfbridgeKick", "Conference": validate.name(room, "room"),
                            "Channel": validate.channel(participant_id)})

    async def conference_mute(self, room: str, participant_id: str, muted: bool) -> None:
        await self._action({"Action": "ConfbridgeMute" if muted else "ConfbridgeUnmute",
                            "Conference": validate.name(room, "room"), "Channel": validate.channel(participant_id)})

    # ---------------------------------------------------------------- features (AstDB)

    @staticmethod
    def _feature_key(extension: str) -> tuple[str, str]:
        if validation.has_control_chars(extension):
            raise validation.InvalidValue("extension", "control_characters")
        prefix, sep, number = extension.rpartition("-")
        prefix = prefix + sep
        validation.extension(number)
        try:
            keys.ext_key(number, prefix)
        except ValueError:
            raise validation.InvalidValue("extension", "invalid_extension") from None
        return number, prefix

    @staticmethod
    def feature_settings(number: str, prefix: str, f: ExtensionFeatures) -> keys.FeatureSettings:
        f = f.validated()
        return keys.FeatureSettings(
            extension=number, astdb_prefix=prefix, dnd=f.dnd, call_waiting=f.call_waiting,
            forward_always=f.forward_always or None, forward_busy=f.forward_busy or None,
            forward_no_answer=f.forward_noanswer or None,
            no_answer_ring_time=None if f.forward_noanswer_delay == keys.DEFAULT_RING_TIME else f.forward_noanswer_delay,
            followme_enabled=f.followme_enabled, followme_numbers=tuple(f.followme_numbers),
            # The portal's follow-me delay ("Délai pour que les appareils sonnent") is how long the user's
            # own phones ring before the numbers ring with them (prering); then they all ring for the
            # user's ring time (grptime) before the call goes on as unanswered.
            followme_ring_delay=f.followme_delay, followme_ring_time=f.forward_noanswer_delay,
            followme_confirm=f.followme_confirm, language=f.language, out_of_office=f.out_of_office)

    @staticmethod
    def _feature_entries(settings: keys.FeatureSettings) -> list[keys.Entry]:
        # The personal conference keys belong to another writer: ExtensionFeatures does not carry them.
        return [e for e in keys.asterisk_feature_entries(settings) if "/conf/" not in e[1]]

    async def write_features(self, extension: str, features: ExtensionFeatures) -> None:
        number, prefix = self._feature_key(extension)
        await self._write_entries(self._feature_entries(self.feature_settings(number, prefix, features)))

    async def write_conference(self, extension: str, settings: ConferenceSettings) -> None:
        number, prefix = self._feature_key(extension)
        conf = keys.conference_model(settings.validated(), number)
        entries = [e for e in keys.asterisk_feature_entries(keys.FeatureSettings(
            extension=number, astdb_prefix=prefix, conference=conf)) if "/conf/" in e[1]]
        await self._write_entries(entries)

    async def move_features(self, old: str, new: str) -> int:
        src = keys.asterisk_key_names(*self._feature_key(old))
        dst = keys.asterisk_key_names(*self._feature_key(new))
        if src == dst:
            return 0
        if await self._db_get(*src[0]) is None:  # written at every push: never pushed under this name
            return 0
        # One DBGet at a time (once per extension, once): one lab run left DND/<n> behind while the
        # follow-me key beside it moved, and concurrent list actions were the only difference from the
        # runs that passed; sequential reads cost little here.
        values = [await self._db_get(f, k) for f, k in src]
        if all([await self._db_get(f, k) is None for f, k in dst]):
            await self._write_entries([(f, k, v) for (f, k), v in zip(dst, values, strict=True) if v is not None])
        await self._write_entries([(f, k, None) for (f, k), v in zip(src, values, strict=True) if v is not None])
        return sum(v is not None for v in values)

    async def _write_entries(self, entries: list[keys.Entry]) -> None:
        for _family, key, value in entries:
            validate.header_value(key, "key")
            if value is not None:
                validate.header_value(value, key)
        actions: list[tuple[Headers, tuple[str, ...]]] = []
        for family, key, value in entries:
            if value is None:
                # DBDel of an absent key (most of them: features that are off) makes Asterisk log a
                # warning each time (main/db.c ast_db_del2); DBDelTree of the key removes it (and nothing
                # else: no key of ours has children) without one. Its match is SQL LIKE, so a key holding
                # LIKE's wildcards is looked up (DBGet logs nothing) and deleted only when present.
                action = "DBDelTree"
                if "%" in key or "_" in key:
                    if await self._db_get(family, key) is None:
                        continue
                    action = "DBDel"
                actions.append(({"Action": action, "Family": family, "Key": key},
                                ("Database entry could not be deleted", "Database entry not found")))
            else:
                actions.append(({"Action": "DBPut", "Family": family, "Key": key, "Val": value}, ()))
        await self._pipelined(actions)

    async def _pipelined(self, actions: Sequence[tuple[Headers, Sequence[str]]]) -> None:
        """Send the actions together, then wait for every answer: one round trip for all instead of one
        each (a push writes about a dozen keys; on a busy machine each round trip waits for both processes
        to be scheduled). Asterisk's manager runs a session's actions one after the other in the order
        received, and each is written here before the next, so the order is kept. Every answer is awaited
        before this returns, so nothing of this write is still in flight when the next one starts; the
        first refusal or failure is then raised."""
        results = await asyncio.gather(*(self._action(headers, ok=ok) for headers, ok in actions),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _db_get(self, family: str, key: str) -> str | None:
        answer = await self._action({"Action": "DBGet", "Family": family, "Key": key}, as_list=True,
                                    ok=("Database entry not found",))
        rows = self._items(answer, "DBGetResponse") if answer else []
        return rows[0].get("val", "") if rows else None

    async def read_features(self, extension: str) -> ExtensionFeatures:
        number, prefix = self._feature_key(extension)
        k = keys.ext_key(number, prefix)
        fm = f"{k}/followme"
        wanted = {
            "dnd": (keys.DND, k), "cw": (keys.CW, k), "cf": (keys.CF, k), "cfb": (keys.CFB, k),
            "cfu": (keys.CFU, k), "ring": (keys.AMPUSER, f"{k}/cfringtimer"), "ddial": (keys.AMPUSER, f"{fm}/ddial"),
            "grplist": (keys.AMPUSER, f"{fm}/grplist"), "prering": (keys.AMPUSER, f"{fm}/prering"),
            "grpconf": (keys.AMPUSER, f"{fm}/grpconf"), "language": (keys.AMPUSER, f"{k}/language"),
            "ooo": (keys.CLUSTERPBX, f"{k}/ooo"),
        }
        values = dict(zip(wanted, await asyncio.gather(*(self._db_get(f, key) for f, key in wanted.values())),
                          strict=True))

        def seconds(v: str | None, default: int) -> int:
            try:
                return int(v) if v else default
            except ValueError:
                return default
        numbers = tuple(n.rstrip("#") for n in (values["grplist"] or "").split("-") if n.rstrip("#"))
        return ExtensionFeatures(
            call_waiting=values["cw"] == keys.ENABLED, dnd=values["dnd"] == keys.YES,
            forward_always=values["cf"] or "", forward_busy=values["cfb"] or "", forward_noanswer=values["cfu"] or "",
            forward_noanswer_delay=seconds(values["ring"], keys.DEFAULT_RING_TIME),
            followme_enabled=values["ddial"] == "DIRECT", followme_numbers=numbers,
            followme_delay=seconds(values["prering"], keys.DEFAULT_FOLLOWME_TIME),
            followme_confirm=values["grpconf"] == keys.ENABLED,
            language=values["language"] if values["language"] in ("fr", "en") else "fr",
            out_of_office=values["ooo"] == keys.YES)

    # ---------------------------------------------------------------- voicemail

    def _mailbox(self, mailbox: str) -> tuple[str, str]:
        return validate.mailbox(mailbox, self.voicemail_context)

    async def _spool(self, box: str, ctx: str, label: str) -> list[spool.SpoolMessage]:
        if not self.address.spool_path:
            raise PbxRefused("this node has no voicemail spool path configured")
        root = spool.voicemail_root(self.address.spool_path)
        return await asyncio.to_thread(spool.read_mailbox, root, ctx, box, label)

    async def _find(self, mailbox: str, ids: Sequence[str]) -> tuple[str, str, dict[str, spool.SpoolMessage]]:
        box, ctx = self._mailbox(mailbox)
        for mid in ids:
            validate.message_id(mid)
        found = {m.message.message_id: m for m in await self._spool(box, ctx, mailbox)}
        missing = [mid for mid in ids if mid not in found]
        if missing:
            raise PbxRefused(f"no such voicemail message: {', '.join(missing)}")
        return box, ctx, found

    async def voicemail_messages(self, mailbox: str) -> list[VoicemailMessage]:
        box, ctx = self._mailbox(mailbox)
        return [m.message for m in await self._spool(box, ctx, mailbox)]

    async def voicemail_audio(self, mailbox: str, message_id: str) -> bytes:
        _box, _ctx, found = await self._find(mailbox, [message_id])
        path = found[message_id].audio_path()
        if path is None:
            raise PbxRefused(f"voicemail message {message_id} has no audio file")
        return await asyncio.to_thread(path.read_bytes)

    async def voicemail_delete(self, mailbox: str, message_ids: Sequence[str]) -> None:
        box, ctx, found = await self._find(mailbox, message_ids)
        for mid in message_ids:
            answer = await self._action({"Action": "VoicemailRemove", "Context": ctx, "Mailbox": box,
                                         "Folder": found[mid].message.folder.value, "ID": mid})
            # A failed remove still answers Success, with another message (recording 14).
            if "successful" not in str(answer.get("message", "")):
                raise PbxRefused(f"VoicemailRemove {mid}: {answer.get('message')}")

    async def voicemail_move(self, mailbox: str, message_ids: Sequence[str], folder: MailboxFolder) -> None:
        target = MailboxFolder(folder)
        box, ctx, found = await self._find(mailbox, message_ids)
        for mid in message_ids:
            current = found[mid].message.folder
            if current == target:
                continue
            answer = await self._action({"Action": "VoicemailMove", "Context": ctx, "Mailbox": box,
                                         "Folder": current.value, "ID": mid, "ToFolder": target.value})
            if "successful" not in str(answer.get("message", "")):
                raise PbxRefused(f"VoicemailMove {mid}: {answer.get('message')}")

    async def voicemail_refresh(self, mailbox: str) -> None:
        box, ctx = self._mailbox(mailbox)
        await self._action({"Action": "VoicemailRefresh", "Context": ctx, "Mailbox": box})

    async def mailbox_counts(self, mailbox: str) -> MailboxCounts:
        box, ctx = self._mailbox(mailbox)
        answer = await self._action({"Action": "MailboxCount", "Mailbox": f"{box}@{ctx}"})
        return MailboxCounts(new=int(answer.get("newmessages") or 0), old=int(answer.get("oldmessages") or 0),
                             urgent=int(answer.get("urgmessages") or 0))

    # ---------------------------------------------------------------- phones and messages

    async def resync_phone(self, endpoint: str, vendor: PhoneVendor) -> None:
        event = CHECK_SYNC.get(PhoneVendor(vendor), "check-sync")
        await self._action({"Action": "PJSIPNotify", "Endpoint": validate.endpoint(endpoint),
                            "Variable": f"Event={event}"})

    async def _context_of(self, endpoint: str) -> str:
        if self.dial_context:
            return self.dial_context
        if endpoint not in self._endpoint_contexts:
            answer = await self._action({"Action": "PJSIPShowEndpoint", "Endpoint": endpoint}, as_list=True)
            details = self._items(answer, "EndpointDetail")
            ctx = details[0].get("context", "") if details else ""
            self._endpoint_contexts[endpoint] = validate.context(ctx) if ctx else DEFAULT_CONTEXT
        return self._endpoint_contexts[endpoint]

    async def click_to_call(self, endpoint: str, number: str, caller_id: str = "", context: str = "") -> None:
        ep = validate.endpoint(endpoint)
        exten = validate.dial_number(number)
        headers: Headers = {"Action": "Originate", "Channel": f"PJSIP/{ep}", "Exten": exten, "Priority": "1",
                            "Timeout": "30000", "Async": "true"}
        # What the user's own phone shows for this first leg: the caller id given (the daemon gives the
        # callee), else the number. It is the channel's connected line, which chan_pjsip writes in the
        # INVITE's From (without one the phone shows "Anonymous"); Originate's CallerID would also become
        # the channel's own caller id, which the callee would then see (Asterisk 22, tests/real).
        name, num = validate.caller_id_parts(caller_id) if caller_id else ("", exten)
        headers["Variable"] = [f"CONNECTEDLINE(num)={num}",
                               *([f"CONNECTEDLINE(name)={validate.variable_value(name)}"] if name else [])]
        headers["Context"] = validate.context(context) if context else await self._context_of(ep)
        await self._action(headers)

    @staticmethod
    def _endpoint_at(value: str, field: str) -> tuple[str, str]:
        """``<endpoint>@<tenant domain>`` (what the daemon passes) or a bare endpoint: (endpoint, domain or "")."""
        if not isinstance(value, str) or validation.has_control_chars(value):
            raise validation.InvalidValue(field, "control_characters")
        ep, at, domain = value.partition("@")
        if at and not _DOMAIN.fullmatch(domain):
            raise validation.InvalidValue(field, "invalid_domain")
        return validate.endpoint(ep, field), domain

    async def send_message(self, from_endpoint: str, to_number: str, body: str, trunk: str = "") -> None:
        ep, from_domain = self._endpoint_at(from_endpoint, "from_endpoint")
        text = validate.message_body(body)
        if trunk:
            number = validate.dial_number(to_number, "to_number")
            host = _TRUNK_HOST.fullmatch(trunk) if isinstance(trunk, str) else None
            if host is not None and 0 < int(host.group(2)) < 65536:
                # A SIP host with its port, which no endpoint names: res_pjsip_messaging's
                # ``<endpoint>/<URI>`` form, sent with the sender's own endpoint (the bare ``sip:user@host``
                # form needs a default_outbound_endpoint, which the documented pjsip.conf does not have:
                # "Could not find endpoint ... and no default outbound endpoint configured", Asterisk 22).
                to = f"pjsip:{ep}/sip:{number}@{host.group(0)}"
            else:
                to = f"pjsip:PJSIP/{number}@{validate.name(trunk, 'trunk')}"
        elif "@" in to_number:
            to = f"pjsip:{self._endpoint_at(to_number, 'to_number')[0]}"  # an endpoint of the box
        else:
            to = f"pjsip:{validate.dial_number(to_number, 'to_number')}"
        domain = from_domain or self.address.sip_domain or self.address.host
        if not _DOMAIN.fullmatch(domain):
            raise validation.InvalidValue("sip_domain", "invalid_domain")
        await self._action({"Action": "MessageSend", "To": to, "From": f"sip:{ep}@{domain}",
                            "Base64Body": base64.b64encode(text.encode("utf-8")).decode("ascii")})

