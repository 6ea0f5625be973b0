"""The FreeSWITCH adapter: ``control.port.PbxPort`` over the inbound event socket (greenswitch on its own
gevent thread, see esl.connection), with every value validated before it reaches a command line.

Choices (NodeAddress.extra keys in brackets):

* Endpoints are directory users; each tenant of the node is a directory domain of its own (its domain,
  else the node's SIP domain: NodeAddress.sip_domain, else the host). Registrations come from ``sofia
  status profile <profile> reg`` ([``sofia_profile``], default ``internal``) and from
  sofia::register/unregister/expire events, of every domain: the endpoint is the directory user id,
  which the portal keeps unique across tenants (Extension.sip_username).
* Queues are mod_callcenter's. An interface such as ``PJSIP/1001`` (what the control daemon passes for
  both PBXs) is the agent named by [``agent_name``] (default ``{user}@{domain}``; the generated
  configuration names agents ``<tenant>-<ext>``: set it to ``acme-{user}``); a bare agent name is used
  as is. Login = ``agent add`` (contact ``user/<user>@<domain>`` for a new agent) + ``tier add`` +
  status 'Available'; logout = ``tier del``, and status 'Logged Out' once the agent has no tier left;
  pause / resume = status 'On Break' / 'Available'. The agent itself is never deleted (the generated
  callcenter configuration may define it). mod_callcenter keeps one status per agent, so a
  pause applies to every queue of the agent. mod_callcenter has no pause reason: the adapter keeps it
  in mod_db (realm ``cpbx_cc_pause``, key = agent, value percent-encoded) so it survives a daemon
  restart and is shared by every daemon. Members report ``PJSIP/<user>`` when the agent name matches
  [``agent_name``], else the agent name.
* Conferences: ``conference json_list`` / ``<room> json_list``, ``kick``, ``mute``/``unmute`` by member id.
* Messages (SMS): ``chat sip|<user>@<domain>|<to>|<escaped text>|text/plain`` (line feeds, ``|`` and quotes
  escaped as FreeSWITCH's argument splitter expects, see validate.message_body); to a trunk host, ``<to>`` is
  ``<profile>/<number>@<host>`` with [``sms_profile``] (default: the sofia profile), since mod_sofia takes a bare
  ``@host`` for a profile name; without a trunk, ``<number>@<domain>`` (a user registered on the box).
* Features: ``dialplan.keys.freeswitch_feature_entries`` decides every mod_db key (``db insert``, and
  ``db delete`` for None); the personal-conference keys are not part of ExtensionFeatures and are left
  alone; ``followme_delay`` is how long the own phones ring before the follow-me numbers (the numbers'
  ``leg_delay_start``), which then ring for the no-answer ring time, as the Asterisk adapter maps them.
* Voicemail: mod_voicemail profile [``voicemail_profile``] (default ``default``); a mailbox argument is
  ``<box>`` (in the node's domain) or ``<box>@<domain>``. The message id is the uuid of field 7 of
  ``vm_list``; its audio is the file that line names, read under NodeAddress.spool_path when set (a
  local copy of FreeSWITCH's ``storage/voicemail``: the path's last four parts, profile/domain/box/file,
  are looked up there). Counts come from ``vm_fsdb_msg_count`` (new, saved and urgent in one answer;
  ``vm_boxcount`` gives only the new). mod_voicemail has only new and saved messages: moving to Old marks read
  (``vm_read ... read``), to INBOX unread; other folders are refused. Refresh = ``vm_read`` of a
  uuid that matches nothing, which makes mod_voicemail re-send the MWI (recording 14).
* Click to call: ``bgapi originate {origination_caller_id_name='<cid name>',origination_caller_id_number=
  <cid or number>,cpbx_click_to_call=<user>}user/<user>@<domain> <number> XML <context>`` (the caller id
  is what the user's phone shows: the daemon gives the callee's): the endpoint ``<user>@<tenant domain>`` the daemon passes (a bare user is in
  the node's domain) and the tenant's context it passes (``cpbx-<slug>``); a call naming no context uses
  [``context``], else ``cpbx-<tenant>`` for [``tenant``], else ``default``. The job's result is awaited
  briefly ([``originate_wait``] seconds, default 1): an immediate failure (USER_NOT_REGISTERED...) is
  PbxRefused, a phone still ringing counts as success. Phone resync (``sofia profile <p> check_sync
  <user>@<domain>``) takes the same endpoint.
* SMS: ``chat sip|<from>@<domain>|<to>@<domain or trunk>|<body>``; the body travels on the command line,
  so line breaks are refused.
* Connection: NodeAddress.secret is the event socket password (NodeAddress.username is not used:
  inbound ESL has none); [``event_format``] ``json`` subscribes to json events instead of plain ones
  (both parsed by esl.protocol); [``ping_interval``] seconds of silence before a keep-alive.
* Call records: live from CHANNEL_HANGUP_COMPLETE; the catch-up reads mod_json_cdr's error directory
  [``json_cdr_error_dir``] and moves what it ingested into its ``done/`` subfolder (the cursor stays "").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import shutil
import uuid as uuidlib
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

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
    PbxTimeout,
    PbxUnreachable,
    PhoneVendor,
    QueueMember,
    QueueMemberChanged,
    RegistrationState,
    VoicemailMessage,
)
from clusterpbx.dialplan import keys

from . import json_cdr, validate
from .connection import ConnectionSettings, EslConnection, Reply
from .protocol import EslEvent
from .translate import AGENT_LOGGED_OUT, AgentInfo, EventTranslator, from_epoch, utcnow

log = logging.getLogger(__name__)

NO_REPLY = "-ERR no reply"  # what mod_event_socket answers for an api command with empty output
ERROR_PREFIXES = ("-ERR", "-USAGE", "!err!", "Invalid Profile!")
PAUSE_REALM = "cpbx_cc_pause"
# vm_read of this uuid touches no message but makes mod_voicemail send the MWI again (recording 14)
NO_MESSAGE = "00000000-0000-0000-0000-000000000000"
DEFAULT_CONTEXT = "default"


def is_error(text: str) -> bool:
    return text.lstrip().startswith(ERROR_PREFIXES)


def _table(text: str) -> list[dict[str, str]]:
    """mod_callcenter's list output: a header line, rows, and a final +OK."""
    lines = [ln for ln in text.splitlines() if ln and ln != "+OK"]
    if not lines:
        return []
    cols = lines[0].split("|")
    return [dict(zip(cols, ln.split("|"), strict=False)) for ln in lines[1:]]


def parse_registrations(text: str) -> list[RegistrationState]:
    """``sofia status profile <p> reg`` output: blocks of "Key:<spaces><tab>value" lines, one per
    registration, each opened by Call-ID. Every domain's users are kept: each tenant of the node is a
    directory domain of its own, and the endpoint is the directory user id (a portal SIP user name,
    unique across tenants), so the realm is not needed to tell two phones apart."""
    out: list[RegistrationState] = []
    current: dict[str, str] = {}

    def flush() -> None:
        user = current.get("User", "").partition("@")[0]
        if user:
            contact = current.get("Contact", "")
            if "<" in contact:
                contact = contact.split("<", 1)[1].split(">", 1)[0]
            out.append(RegistrationState(endpoint=user, registered=current.get("Status", "").startswith("Registered"),
                                         contact=contact, user_agent=current.get("Agent", "")))
        current.clear()

    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep or "\t" not in value:
            continue
        key = key.strip()
        if key == "Call-ID" and current:
            flush()
        current[key] = value.strip()
    if current:
        flush()
    return out


TAKEN_DIR = "taken"  # files read but not yet known to be stored, one sub-folder per batch
BATCH_PREFIX = "batch:"


def catch_up_error_dir(errdir: Path, position: str) -> tuple[list[CallRecordReport], str]:
    """mod_json_cdr's failed posts, in batches the daemon acknowledges: the files read are moved to
    ``taken/<batch>/`` and the returned position names the batch; the daemon remembers a position only
    once the batch's records are stored, so the next call (by this daemon or by the one that took the
    node over after it died) moves that batch to ``done/`` and reads again any batch never
    acknowledged (the daemon died before storing it). A record read twice is stored once (its leg's
    uuid is its id); none is lost between the read and the write."""
    if not errdir.is_dir():
        return [], ""  # nothing failed yet (mod_json_cdr creates it on its first failure)
    taken, done = errdir / TAKEN_DIR, errdir / "done"
    stored = position[len(BATCH_PREFIX):] if position.startswith(BATCH_PREFIX) else ""
    if stored and "/" not in stored and stored not in (".", ".."):
        batch = taken / stored
        if batch.is_dir():
            done.mkdir(exist_ok=True)
            for f in batch.iterdir():
                with contextlib.suppress(OSError):
                    shutil.move(str(f), str(done / f.name))
            with contextlib.suppress(OSError):
                batch.rmdir()
    # Only files read whole: one mod_json_cdr is still writing stays where it is for the next call.
    reports, files = json_cdr.read_error_dir(errdir)
    old = sorted(d for d in taken.iterdir() if d.is_dir()) if taken.is_dir() else []
    for d in old:  # batches read before and never acknowledged: read again
        more, more_files = json_cdr.read_error_dir(d)
        reports += more
        files += more_files
    if not files:
        return [], ""
    batch_id = uuidlib.uuid4().hex
    batch = taken / batch_id
    batch.mkdir(parents=True)
    for f in files:
        with contextlib.suppress(OSError):
            f.rename(batch / f.name)  # the same file system: atomic
    for d in old:
        with contextlib.suppress(OSError):
            d.rmdir()  # emptied above (a file that could not be moved keeps its folder)
    return reports, BATCH_PREFIX + batch_id


class FreeSwitchAdapter(PbxPort):
    def __init__(self, address: NodeAddress, *, ping_interval: float | None = None,
                 backoff_initial: float = 0.2, backoff_max: float = 30.0) -> None:
        self.address = address
        extra = address.extra or {}
        self.timeout = address.timeout
        self.domain = validate.domain(address.sip_domain or address.host)
        self.profile = validate.name(extra.get("sofia_profile") or "internal", "sofia_profile")
        self.vm_profile = validate.name(extra.get("voicemail_profile") or "default", "voicemail_profile")
        self.sms_profile = validate.name(extra.get("sms_profile") or self.profile, "sms_profile")
        if extra.get("context"):
            self.context = validate.context(extra["context"])
        elif extra.get("tenant"):
            self.context = validate.context(f"cpbx-{extra['tenant']}")
        else:
            self.context = DEFAULT_CONTEXT
        self.agent_format = extra.get("agent_name") or "{user}@{domain}"
        self.agent_name("probe")  # a broken format fails at construction, not at the first login
        self.originate_wait = float(extra.get("originate_wait") or 1.0)
        self.translator = EventTranslator(member_interface=self.member_interface, mailbox_name=self.mailbox_name,
                                          domain=self.domain)
        settings = ConnectionSettings(
            host=address.host, port=address.port, password=address.secret or "ClueCon", timeout=address.timeout,
            ping_interval=ping_interval or float(extra.get("ping_interval") or 20.0),
            backoff_initial=backoff_initial, backoff_max=backoff_max,
            event_format="json" if extra.get("event_format") == "json" else "plain")
        self.connection = EslConnection(settings, self._on_esl_event, self._on_state)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._tier_task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle and events

    async def start(self) -> None:
        if self.connection.thread.alive:
            return
        self._loop = asyncio.get_running_loop()
        first = self.connection.start()
        try:
            await asyncio.wait_for(asyncio.wrap_future(first), self.timeout * 2 + 1)
        except TimeoutError:
            raise PbxTimeout("FreeSWITCH did not answer the login in time") from None

    async def stop(self) -> None:
        if self._tier_task is not None:
            self._tier_task.cancel()
            with contextlib.suppress(BaseException):
                await self._tier_task
            self._tier_task = None
        await asyncio.to_thread(self.connection.stop)
        for fut in self._jobs.values():
            if not fut.done():
                fut.cancel()
        self._jobs.clear()

    @property
    def connected(self) -> bool:
        return self.connection.connected

    def _to_loop(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is listening
            loop.call_soon_threadsafe(fn, *args)

    # called on the gevent thread
    def _on_esl_event(self, event: EslEvent) -> None:
        self._to_loop(self._handle_event, event)

    def _on_state(self, up: bool, reason: str) -> None:
        self._to_loop(self._handle_state, up, reason)

    # on the asyncio loop
    def _handle_state(self, up: bool, reason: str) -> None:
        if up:
            # What was tracked before the outage is stale; the daemon's snapshot (live_calls) reloads it.
            self.translator.reset()
            self._emit([Connected(utcnow())])
            # agent status events name no queue: learn which queues each agent is in
            if self._tier_task is None or self._tier_task.done():
                self._tier_task = asyncio.ensure_future(self._refresh_tiers())
        else:
            for fut in self._jobs.values():
                if not fut.done():
                    fut.set_exception(PbxUnreachable(f"connection lost: {reason}"))
            self._emit([Disconnected(utcnow(), reason=reason)])

    def _handle_event(self, event: EslEvent) -> None:
        if event.name == "BACKGROUND_JOB":
            fut = self._jobs.pop(event.get("Job-UUID"), None)
            if fut is not None and not fut.done():
                fut.set_result(event.body)
            return
        try:
            events = self.translator.feed(event)
        except Exception:
            log.exception("ESL event %s could not be translated", event.name)
            return
        self._emit(events)

    # ---------------------------------------------------------------- plumbing

    async def _send(self, command: str, timeout: float | None = None,
                    headers: Sequence[tuple[str, str]] = ()) -> Reply:
        t = self.timeout if timeout is None else timeout
        fut = self.connection.submit(command, t, headers)
        try:
            # the gevent side enforces t; this is the backstop if that thread itself is stuck
            return await asyncio.wait_for(asyncio.wrap_future(fut), t + 1.0)
        except TimeoutError:
            fut.cancel()
            raise PbxTimeout(f"no answer to '{' '.join(command.split(' ', 2)[:2])}' within {t}s") from None

    async def api(self, command: str, *, ok: Sequence[str] = (), timeout: float | None = None) -> str:
        """``api <command>``; an error body raises PbxRefused unless it starts with one of ``ok``."""
        reply = await self._send(f"api {command}", timeout)
        body = reply.body
        if is_error(body) and not any(body.startswith(o) for o in ok):
            raise PbxRefused(f"{command.split(' ', 1)[0]}: {body.strip()[:200]}")
        return body

    # ---------------------------------------------------------------- naming

    def agent_name(self, user: str) -> str:
        try:
            name = self.agent_format.format(user=user, domain=self.domain)
        except (KeyError, IndexError, ValueError):
            raise validation.InvalidValue("agent_name", "invalid_format") from None
        return validate.name(name, "agent_name")

    def agent_of(self, interface: str) -> tuple[str, str | None]:
        """(agent name, directory user or None) of an interface."""
        user = validate.interface_user(interface)
        if user is not None:
            return self.agent_name(validate.user(user, "interface")), user
        return validate.name(interface, "interface"), None

    def member_interface(self, agent: str) -> str:
        prefix, sep, suffix = self.agent_format.partition("{user}")
        if sep:
            head = prefix.format(domain=self.domain)
            tail = suffix.format(domain=self.domain)
            if agent.startswith(head) and agent.endswith(tail) and len(agent) > len(head) + len(tail):
                return f"PJSIP/{agent[len(head):len(agent) - len(tail)]}"
        return agent

    def mailbox_name(self, box: str, domain: str) -> str:
        return box if domain == self.domain else f"{box}@{domain}"

    # ---------------------------------------------------------------- registrations and calls

    async def registrations(self) -> list[RegistrationState]:
        return parse_registrations(await self.api(f"sofia status profile {self.profile} reg"))

    async def live_calls(self) -> list[PbxCall]:
        text = await self.api("show channels as json")
        try:
            doc = json.loads(text)
        except ValueError:
            raise PbxRefused(f"show channels: not JSON: {text[:80]!r}") from None
        # no "rows" key at all when there is no channel (recording 03)
        rows = doc.get("rows") or [] if isinstance(doc, dict) else []
        return self.translator.load_channels([{k: str(v) for k, v in r.items()} for r in rows])

    async def call_records_since(self, position: str) -> tuple[list[CallRecordReport], str]:
        path = (self.address.extra or {}).get("json_cdr_error_dir", "")
        if not path:
            return [], position

        return await asyncio.to_thread(catch_up_error_dir, Path(path), position)

    async def reload_configuration(self, changed: Sequence[str] = ()) -> None:
        # One reload covers every file (the XML is one document), whichever changed.
        await self.api("reloadxml")
        # mod_xml_curl answers are cached by FreeSWITCH: drop them so live-fetched settings apply now.
        await self.api("xml_flush_cache")
        if any(name.startswith("callcenter_") for name in changed):
            await self._load_queues()

    async def _load_queues(self) -> None:
        """mod_callcenter reads its queues, agents and tiers when it loads, never on reloadxml: a queue the
        portal created stayed unknown to it (FreeSWITCH 1.10.12, tests/real/test_queues_real.py). ``queue
        load`` reads one queue with every agent and the queue's tiers from the configuration; a queue
        already there is reloaded, one of ours (``cpbx-``) that the configuration no longer has unloaded."""
        text = await self.api("xml_locate configuration configuration name callcenter.conf", ok=("-ERR",))
        if is_error(text):  # no callcenter.conf (mod_callcenter not configured): nothing to load
            return
        wanted = set(re.findall(r'<queue name="([^"<>]+)"', text))
        loaded = {row.get("name", "") for row in _table(await self.api("callcenter_config queue list"))}
        for name in sorted(wanted):
            queue = validate.name(name, "queue")
            await self.api(f"callcenter_config queue {'reload' if name in loaded else 'load'} {queue}")
        for name in sorted(n for n in loaded if n.startswith("cpbx-") and n not in wanted):
            await self.api(f"callcenter_config queue unload {validate.name(name, 'queue')}", ok=("-ERR",))
        await self._refresh_tiers()

    # ---------------------------------------------------------------- queues (mod_callcenter)

    async def _load_tiers(self) -> list[dict[str, str]]:
        tiers = _table(await self.api("callcenter_config tier list"))
        mapping: dict[str, set[str]] = {}
        for t in tiers:
            mapping.setdefault(t.get("agent", ""), set()).add(t.get("queue", ""))
        self.translator.tiers = mapping
        return tiers

    async def _db_select(self, realm: str, key: str) -> str:
        # a missing key answers "-ERR no reply" (recording 13): that is "no value", not an error
        raw = (await self.api(f"db select/{realm}/{key}", ok=(NO_REPLY,))).strip()
        return "" if is_error(raw) else raw

    async def _refresh_tiers(self) -> None:
        try:
            await self._load_tiers()
        except PbxError as exc:  # mod_callcenter not loaded, or the link went again: events still flow
            log.debug("callcenter tiers not loaded: %s", exc)

    async def _pause_reason(self, agent: str) -> str:
        return unquote(await self._db_select(PAUSE_REALM, agent))

    async def queue_members(self, queue: str | None = None) -> list[QueueMember]:
        q = validate.name(queue, "queue") if queue else None
        tiers = await self._load_tiers()
        agents = {a.get("name", ""): a for a in _table(await self.api("callcenter_config agent list"))}
        out: list[QueueMember] = []
        for t in tiers:
            if q is not None and t.get("queue") != q:
                continue
            name = t.get("agent", "")
            row = agents.get(name)
            if row is None:
                continue
            info = AgentInfo(status=row.get("status", AGENT_LOGGED_OUT), state=row.get("state", "Waiting"))
            self.translator.agents[name] = info
            if info.status == "On Break" and name not in self.translator.pause_reasons:
                reason = await self._pause_reason(validate.name(name, "agent"))
                if reason:
                    self.translator.pause_reasons[name] = reason
            out.append(self.translator.member(t.get("queue", ""), name))
        return out

    async def _set_status(self, agent: str, status: str) -> None:
        # quoted: an unquoted 'On Break' is two arguments and FreeSWITCH refuses it (recording 10)
        await self.api(f"callcenter_config agent set status {agent} '{status}'")

    def _emit_member(self, queue: str, agent: str, removed: bool = False) -> None:
        member = self.translator.member(queue, agent)
        if removed:
            member = QueueMember(queue=queue, interface=member.interface, member_name=agent, logged_in=False)
        self._emit([QueueMemberChanged(utcnow(), member, removed=removed)])

    async def queue_login(self, queue: str, interface: str, member_name: str = "") -> None:
        q = validate.name(queue, "queue")
        agent, user = self.agent_of(interface)
        if member_name:
            validation.display_name(member_name, "member_name")  # mod_callcenter has nowhere to keep it
        added = await self.api(f"callcenter_config agent add {agent} callback", ok=("-ERR Agent already exist",))
        if added.startswith("+OK") and user is not None:
            await self.api(f"callcenter_config agent set contact {agent} user/{user}@{self.domain}")
        new_tier = await self.api(f"callcenter_config tier add {q} {agent} 1 1", ok=("-ERR Tier already exist",))
        self.translator.tiers.setdefault(agent, set()).add(q)
        await self._set_status(agent, "Available")
        if new_tier.startswith("+OK"):
            # mod_callcenter announces status changes but not tiers: tell subscribers the member exists
            self.translator.agents.setdefault(agent, AgentInfo()).status = "Available"
            self._emit_member(q, agent)

    async def queue_logout(self, queue: str, interface: str) -> None:
        q = validate.name(queue, "queue")
        agent, _user = self.agent_of(interface)
        await self.api(f"callcenter_config tier del {q} {agent}", ok=("-ERR",))
        queues = self.translator.tiers.get(agent, set())
        queues.discard(q)
        tiers = await self._load_tiers()
        if not any(t.get("agent") == agent for t in tiers):
            await self.api(f"callcenter_config agent set status {agent} '{AGENT_LOGGED_OUT}'",
                           ok=("-ERR Invalid Agent", "-ERR Agent not found"))  # an agent never loaded: logged out
        self._emit_member(q, agent, removed=True)

    async def queue_pause(self, queue: str, interface: str, reason: str = "") -> None:
        validate.name(queue, "queue")
        agent, _user = self.agent_of(interface)
        encoded = validate.encoded_text(reason) if reason else ""
        if encoded:
            await self.api(f"db insert/{PAUSE_REALM}/{agent}/{encoded}")
            self.translator.pause_reasons[agent] = validation.display_name(reason, "reason")
        else:
            await self.api(f"db delete/{PAUSE_REALM}/{agent}")
            self.translator.pause_reasons.pop(agent, None)
        await self._set_status(agent, "On Break")

    async def queue_resume(self, queue: str, interface: str) -> None:
        validate.name(queue, "queue")
        agent, _user = self.agent_of(interface)
        await self._set_status(agent, "Available")
        await self.api(f"db delete/{PAUSE_REALM}/{agent}")
        self.translator.pause_reasons.pop(agent, None)

    # ---------------------------------------------------------------- conferences

    async def _conferences(self, room: str | None = None) -> list[dict[str, Any]]:
        cmd = f"conference {validate.name(room, 'room')} json_list" if room else "conference json_list"
        text = await self.api(cmd, ok=("-ERR Conference",) if room else ())
        if is_error(text) or text.startswith("+OK No active conferences"):
            return []
        try:
            doc = json.loads(text)
        except ValueError:
            raise PbxRefused(f"conference json_list: not JSON: {text[:80]!r}") from None
        return [c for c in doc if isinstance(c, dict)] if isinstance(doc, list) else []

    async def conference_rooms(self) -> list[ConferenceRoom]:
        return [ConferenceRoom(name=str(c.get("conference_name", "")), participants=int(c.get("member_count") or 0),
                               locked=bool(c.get("locked"))) for c in await self._conferences()]

    async def conference_participants(self, room: str) -> list[ConferenceParticipant]:
        out = []
        for conf in await self._conferences(room):
            for m in conf.get("members") or []:
                if not isinstance(m, dict) or m.get("type") != "caller":
                    continue
                raw_flags = m.get("flags")
                flags: dict[str, Any] = raw_flags if isinstance(raw_flags, dict) else {}
                # A room still waiting for its moderator (wait-mod) mixes no member who is not one
                # (mod_conference's conference_loop): they wait, heard by nobody, muted for the portal.
                waiting = bool(conf.get("wait_mod")) and not flags.get("is_moderator")
                out.append(ConferenceParticipant(
                    participant_id=str(m.get("id", "")), caller_number=str(m.get("caller_id_number", "")),
                    caller_name=str(m.get("caller_id_name", "")), admin=bool(flags.get("is_moderator")),
                    muted=not flags.get("can_speak", True) or waiting))
        return out

    async def conference_kick(self, room: str, participant_id: str) -> None:
        await self.api(f"conference {validate.name(room, 'room')} kick {validate.member_id(participant_id)}")

    async def conference_mute(self, room: str, participant_id: str, muted: bool) -> None:
        verb = "mute" if muted else "unmute"
        await self.api(f"conference {validate.name(room, 'room')} {verb} {validate.member_id(participant_id)}")

    # ---------------------------------------------------------------- features (mod_db)

    def _feature_owner(self, extension: str) -> tuple[str, str]:
        """``201@acme.example`` (control.pbxnames.PbxNames.feature_owner): the number and the tenant's
        domain its keys live under; a bare number is in the node's domain."""
        if validation.has_control_chars(extension):
            raise validation.InvalidValue("extension", "control_characters")
        number, at, domain = extension.partition("@")
        return validation.extension(number), (validate.domain(domain) if at else self.domain)

    def _settings(self, extension: str, f: ExtensionFeatures) -> keys.FeatureSettings:
        number, domain = self._feature_owner(extension)
        f = f.validated()
        return keys.FeatureSettings(
            extension=number, domain=domain, dnd=f.dnd, call_waiting=f.call_waiting,
            forward_always=f.forward_always or None, forward_busy=f.forward_busy or None,
            forward_no_answer=f.forward_noanswer or None,
            no_answer_ring_time=None if f.forward_noanswer_delay == keys.DEFAULT_RING_TIME else f.forward_noanswer_delay,
            followme_enabled=f.followme_enabled, followme_numbers=tuple(f.followme_numbers),
            # As on Asterisk: the portal's follow-me delay ("Délai pour que les appareils sonnent") is how long
            # the user's own phones ring before the numbers' legs start (leg_delay_start); the numbers then
            # ring for the user's ring time (leg_timeout).
            followme_ring_delay=f.followme_delay, followme_ring_time=f.forward_noanswer_delay,
            followme_confirm=f.followme_confirm, language=f.language, out_of_office=f.out_of_office)

    @staticmethod
    def _entries(settings: keys.FeatureSettings) -> list[keys.Entry]:
        # The personal conference keys belong to another writer: ExtensionFeatures does not carry them.
        conf = keys.FS_REALMS["conference"]
        return [e for e in keys.freeswitch_feature_entries(settings) if not e[0].startswith(conf)]

    async def write_conference(self, extension: str, settings: ConferenceSettings) -> None:
        number, domain = self._feature_owner(extension)
        conf = keys.conference_model(settings.validated(), number)
        realm = keys.FS_REALMS["conference"]
        entries = [e for e in keys.freeswitch_feature_entries(keys.FeatureSettings(
            extension=number, domain=domain, conference=conf)) if e[0].startswith(realm)]
        await self._write_entries(entries)

    async def write_features(self, extension: str, features: ExtensionFeatures) -> None:
        await self._write_entries(self._entries(self._settings(extension, features)))

    async def move_features(self, old: str, new: str) -> int:
        src = keys.freeswitch_key_names(*self._feature_owner(old))
        dst = keys.freeswitch_key_names(*self._feature_owner(new))
        if src == dst:
            return 0
        if not await self._db_select(*src[0]):  # written at every push: never pushed under this name
            return 0
        values = [await self._db_select(r, k) for r, k in src]
        if not any([await self._db_select(r, k) for r, k in dst]):
            await self._write_entries([(r, k, v) for (r, k), v in zip(dst, values, strict=True) if v])
        await self._write_entries([(r, k, None) for (r, k), v in zip(src, values, strict=True) if v])
        return sum(bool(v) for v in values)

    async def _write_entries(self, entries: list[keys.Entry]) -> None:
        commands = []
        for realm, key, value in entries:
            validate.name(realm, "realm")
            validate.name(key, "key")
            if value is None:
                commands.append(f"db delete/{realm}/{key}")
            else:
                commands.append(f"db insert/{realm}/{key}/{validate.db_value(value, realm)}")
        # Every value checked before the first command goes out; then all of them together, one round trip
        # instead of one each: FreeSWITCH answers a connection's commands strictly in order, and the
        # connection matches replies to commands in that order (connection.py). Every reply is awaited
        # before this returns; the first refusal or failure is then raised.
        results = await asyncio.gather(*(self.api(cmd) for cmd in commands), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def read_features(self, extension: str) -> ExtensionFeatures:
        k = keys.fs_key(*self._feature_owner(extension))
        r = keys.FS_REALMS
        names = ("dnd", "call_waiting", "forward_always", "forward_busy", "forward_no_answer", "no_answer_ring_time",
                 "followme_enabled", "followme_numbers", "followme_ring_delay", "followme_confirm", "language",
                 "out_of_office")
        values: dict[str, str] = {}
        for name in names:
            values[name] = await self._db_select(r[name], k)

        def seconds(v: str, default: int) -> int:
            return int(v) if v.isdigit() else default

        numbers = tuple(n for n in values["followme_numbers"].split("-") if n)
        return ExtensionFeatures(
            call_waiting=values["call_waiting"] == "true", dnd=values["dnd"] == "true",
            forward_always=values["forward_always"], forward_busy=values["forward_busy"],
            forward_noanswer=values["forward_no_answer"],
            forward_noanswer_delay=seconds(values["no_answer_ring_time"], keys.DEFAULT_RING_TIME),
            followme_enabled=values["followme_enabled"] == "true", followme_numbers=numbers,
            followme_delay=seconds(values["followme_ring_delay"], keys.DEFAULT_FOLLOWME_TIME),
            followme_confirm=values["followme_confirm"] == "true",
            language=values["language"] if values["language"] in ("fr", "en") else "fr",
            out_of_office=values["out_of_office"] == "true")

    # ---------------------------------------------------------------- voicemail (mod_voicemail)

    def _mailbox(self, mailbox: str) -> tuple[str, str]:
        return validate.mailbox(mailbox, self.domain)

    async def _vm_list(self, mailbox: str) -> list[tuple[VoicemailMessage, str]]:
        box, dom = self._mailbox(mailbox)
        # an empty mailbox lists nothing, which the event socket answers as "-ERR no reply"
        text = await self.api(f"vm_list {box}@{dom}", ok=(NO_REPLY,))
        out = []
        for line in text.splitlines():
            # created:read:user:domain:folder:path:uuid:cid-name:cid-number:len; the name may hold ':'
            head = line.split(":", 7)
            if len(head) < 8:
                continue
            tail = head[7].rsplit(":", 2)
            if len(tail) < 3:
                continue
            name, number, length = tail
            read = head[1] not in ("", "0")
            msg = VoicemailMessage(
                message_id=head[6], mailbox=mailbox, folder=MailboxFolder.OLD if read else MailboxFolder.INBOX,
                caller_id=f'"{name}" <{number}>', received_at=from_epoch(head[0]) or dt.datetime(1970, 1, 1),
                duration_seconds=int(length) if length.isdigit() else 0)
            out.append((msg, head[5]))
        return out

    async def voicemail_messages(self, mailbox: str) -> list[VoicemailMessage]:
        return [m for m, _path in await self._vm_list(mailbox)]

    def _local_audio_path(self, path: str) -> Path:
        if not self.address.spool_path:
            return Path(path)
        parts = PurePosixPath(path).parts[-4:]
        if len(parts) < 4 or any(p in ("", ".", "..") or "/" in p for p in parts):
            raise PbxRefused(f"unexpected voicemail path {path!r}")
        root = Path(self.address.spool_path).resolve()
        local = root.joinpath(*parts).resolve()
        if root not in local.parents:
            raise PbxRefused(f"unexpected voicemail path {path!r}")
        return local

    async def voicemail_audio(self, mailbox: str, message_id: str) -> bytes:
        mid = validate.uuid(message_id)
        found = [p for m, p in await self._vm_list(mailbox) if m.message_id == mid]
        if not found:
            raise PbxRefused(f"no such voicemail message: {mid}")
        local = self._local_audio_path(found[0])
        try:
            return await asyncio.to_thread(local.read_bytes)
        except OSError as exc:
            raise PbxRefused(f"voicemail audio of {mid} cannot be read: {exc}") from None

    async def voicemail_delete(self, mailbox: str, message_ids: Sequence[str]) -> None:
        box, dom = self._mailbox(mailbox)
        ids = [validate.uuid(m) for m in message_ids]
        known = {m.message_id for m in await self.voicemail_messages(mailbox)}
        missing = [m for m in ids if m not in known]
        if missing:
            raise PbxRefused(f"no such voicemail message: {', '.join(missing)}")
        for mid in ids:
            await self.api(f"vm_delete {box}@{dom} {mid}")

    async def voicemail_move(self, mailbox: str, message_ids: Sequence[str], folder: MailboxFolder) -> None:
        target = MailboxFolder(folder)
        if target not in (MailboxFolder.INBOX, MailboxFolder.OLD):
            raise PbxRefused(f"mod_voicemail has no {target.value} folder")
        box, dom = self._mailbox(mailbox)
        ids = [validate.uuid(m) for m in message_ids]
        known = {m.message_id: m for m in await self.voicemail_messages(mailbox)}
        missing = [m for m in ids if m not in known]
        if missing:
            raise PbxRefused(f"no such voicemail message: {', '.join(missing)}")
        verb = "read" if target == MailboxFolder.OLD else "unread"
        for mid in ids:
            if known[mid].folder != target:
                await self.api(f"vm_read {box}@{dom} {verb} {mid}")

    async def voicemail_refresh(self, mailbox: str) -> None:
        box, dom = self._mailbox(mailbox)
        await self.api(f"vm_read {box}@{dom} read {NO_MESSAGE}")

    async def mailbox_counts(self, mailbox: str) -> MailboxCounts:
        box, dom = self._mailbox(mailbox)
        text = await self.api(f"vm_fsdb_msg_count json {self.vm_profile} {dom} {box} inbox")
        try:
            doc = json.loads(text)
        except ValueError:
            raise PbxRefused(f"vm_fsdb_msg_count: not JSON: {text[:80]!r}") from None

        def n(name: str) -> int:
            v = str(doc.get(name, "0"))
            return int(v) if v.isdigit() else 0

        return MailboxCounts(new=n("VM-Total-New-Messages"), old=n("VM-Total-Saved-Messages"),
                             urgent=n("VM-Total-New-Urgent-Messages"))

    # ---------------------------------------------------------------- phones and messages

    def _directory_user(self, endpoint: str) -> tuple[str, str]:
        """``<user>@<domain>`` (a tenant's directory domain) or a bare ``<user>`` (the node's domain)."""
        if not isinstance(endpoint, str) or validation.has_control_chars(endpoint):
            raise validation.InvalidValue("endpoint", "control_characters")
        user, at, domain = endpoint.partition("@")
        return validate.user(user), (validate.domain(domain, "endpoint") if at else self.domain)

    async def resync_phone(self, endpoint: str, vendor: PhoneVendor) -> None:
        # sofia picks the NOTIFY event from the phone's User-Agent itself (notes item 15)
        PhoneVendor(vendor)
        user, domain = self._directory_user(endpoint)
        await self.api(f"sofia profile {self.profile} check_sync {user}@{domain}")

    async def click_to_call(self, endpoint: str, number: str, caller_id: str = "", context: str = "") -> None:
        user, domain = self._directory_user(endpoint)
        exten = validate.dial_number(number)
        cid = validate.caller_id_number(caller_id) if caller_id else exten
        name = validate.caller_id_name(caller_id) if caller_id else ""
        dialplan_context = validate.context(context) if context else self.context
        job = str(uuidlib.uuid4())
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[str] = loop.create_future()
        self._jobs[job] = fut
        # What the user's phone shows (the callee's name and number the daemon gives); cpbx_click_to_call
        # names the leg's user for its call record (esl/json_cdr.py): FreeSWITCH gives the leg, once it
        # enters the dialplan, the originate's callee profile ("Outbound Call" <user>) as its caller.
        shown = f"origination_caller_id_name='{name}'," if name else ""
        command = (f"bgapi originate {{{shown}origination_caller_id_number={cid},{json_cdr.CLICK_TO_CALL}={user}}}"
                   f"user/{user}@{domain} {exten} XML {dialplan_context}")
        try:
            reply = await self._send(command, headers=[("Job-UUID", job)])
            if not reply.text.startswith("+OK"):
                raise PbxRefused(f"originate: {reply.text}")
            try:
                result = await asyncio.wait_for(asyncio.shield(fut), self.originate_wait)
            except TimeoutError:
                return  # still ringing the user's phone: the call is on its way
            if is_error(result):
                raise PbxRefused(f"originate: {result.strip()}")
        finally:
            self._jobs.pop(job, None)

    @staticmethod
    def _trunk_host(trunk: str) -> str:
        """An SMS trunk host (or gateway domain), optionally with its port: ``trunk.example.com:5080``."""
        host, colon, port = trunk.partition(":") if isinstance(trunk, str) else ("", "", "")
        if colon and not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
            raise validation.InvalidValue("trunk", "invalid_domain")
        return f"{validate.domain(host, 'trunk')}{colon}{port}"

    async def send_message(self, from_endpoint: str, to_number: str, body: str, trunk: str = "") -> None:
        # The sender and an internal recipient: ``<user>@<tenant domain>`` (the daemon's form) or a bare user
        # of the node's domain.
        user, from_domain = self._directory_user(from_endpoint)
        text = validate.message_body(body)
        if trunk:
            # mod_sofia reads `to` as [profile/]user@host and, without a profile, looks the host up as a
            # profile name: an outside host needs the profile to send from ([sms_profile], else sofia_profile).
            number = validate.dial_number(to_number, "to_number")
            to = f"{self.sms_profile}/{number}@{self._trunk_host(trunk)}"
        elif "@" in to_number:
            to_user, to_domain = self._directory_user(to_number)
            # a phone of that tenant's directory domain; the profile named, or mod_sofia would look the
            # tenant's domain up as a profile ("Invalid Profile both.lab.test", FreeSWITCH 1.10.12)
            to = f"{self.profile}/{to_user}@{to_domain}"
        else:
            to = f"{self.profile}/{validate.dial_number(to_number, 'to_number')}@{self.domain}"  # a user of this box
        # The text comes escaped (validate.message_body); plain text, not mod_sofia's default text/html.
        result = await self.api(f"chat sip|{user}@{from_domain}|{to}|{text}|text/plain")
        if result.strip() != "Sent":
            raise PbxRefused(f"chat: {result.strip()[:200]}")
