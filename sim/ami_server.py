"""Asterisk Manager Interface (AMI) server over the sim's PBX model, speaking the wire protocol of the
recorded Asterisk 22.10.1 (fixtures in shared/fixtures/asterisk) so real AMI clients such as panoramisk
work against it unchanged. Test/demo backend only.

Runs on one asyncio loop together with the model (see the model's threading rule). Where the sim
knows less than a real Asterisk, it answers as Asterisk answers an unknown action or CLI command.
Fault injection for tests: ``drop_all()``, ``restart()``, ``stop_pbx()``, ``stall(seconds)``,
``send_malformed()`` and the ``reject_logins`` flag.
"""
from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from clusterpbx.sim import model as M
from clusterpbx.sim.lab import AMI_SECRET, AMI_USER, PJSIP_NOTIFY_TYPES

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
EVENT_CLASSES = ("system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
                 "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
                 "message")
VERSION_LINE = ("Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-27 16:24:35 UTC")
Pairs = list[tuple[str, str]]


def _fmt(pairs: Pairs) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8", "replace")


def _unknown(v: str) -> str:
    return v if v else "<unknown>"


def _ts(t: float | None, zone: tzinfo = UTC) -> str:
    return "" if t is None else datetime.fromtimestamp(t, zone).strftime("%Y-%m-%d %H:%M:%S")


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _event_tv(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "+0000"


def channel_snapshot(ch: M.Channel, prefix: str = "") -> Pairs:
    """The standard channel header block, as Asterisk's ast_manager_build_channel_state_string."""
    return [
        (f"{prefix}Channel", ch.name),
        (f"{prefix}ChannelState", str(ch.state.code)),
        (f"{prefix}ChannelStateDesc", ch.state.desc),
        (f"{prefix}CallerIDNum", _unknown(ch.caller_num)),
        (f"{prefix}CallerIDName", _unknown(ch.caller_name)),
        (f"{prefix}ConnectedLineNum", _unknown(ch.connected_num)),
        (f"{prefix}ConnectedLineName", _unknown(ch.connected_name)),
        (f"{prefix}Language", ch.language),
        (f"{prefix}AccountCode", ch.account_code),
        (f"{prefix}Context", ch.context),
        (f"{prefix}Exten", ch.exten),
        (f"{prefix}Priority", str(ch.priority)),
        (f"{prefix}Uniqueid", ch.uniqueid),
        (f"{prefix}Linkedid", ch.linkedid),
    ]


def bridge_snapshot(br: M.Bridge) -> Pairs:
    return [
        ("BridgeUniqueid", br.id),
        ("BridgeType", br.type),
        ("BridgeTechnology", br.technology),
        ("BridgeCreator", br.creator),
        ("BridgeName", br.name),
        ("BridgeNumChannels", str(br.num_channels)),
        ("BridgeVideoSourceMode", br.video_source_mode),
    ]


def member_headers(q: M.Queue, mem: M.QueueMember) -> Pairs:
    return [
        ("Queue", q.name), ("MemberName", mem.name), ("Interface", mem.interface),
        ("StateInterface", mem.state_interface), ("Membership", mem.membership), ("Penalty", str(mem.penalty)),
        ("CallsTaken", str(mem.calls_taken)), ("LastCall", str(mem.last_call)), ("LastPause", str(mem.last_pause)),
        ("LoginTime", str(mem.login_time)), ("InCall", "1" if mem.in_call else "0"),
        ("Status", str(mem.status.code)), ("Paused", "1" if mem.paused else "0"),
        ("PausedReason", mem.pause_reason), ("Ringinuse", "1" if mem.ring_in_use else "0"),
        ("Wrapuptime", str(mem.wrapup)),
    ]


_ENDPOINT_STATE_TEXT = {
    M.DeviceState.UNAVAILABLE: "Unavailable", M.DeviceState.NOT_INUSE: "Not in use",
    M.DeviceState.INUSE: "In use", M.DeviceState.RINGING: "Ringing", M.DeviceState.RINGINUSE: "Ring+Inuse",
    M.DeviceState.BUSY: "Busy", M.DeviceState.ONHOLD: "On Hold", M.DeviceState.INVALID: "Invalid",
    M.DeviceState.UNKNOWN: "Unknown",
}


def translate(ev: M.ModelEvent) -> list[tuple[str, Pairs]]:
    """Model event -> AMI events as (event class, headers after Event/Privilege... in wire order)."""
    def ev_(name: str, cls: str, pairs: Pairs) -> tuple[str, Pairs]:
        return cls, [("Event", name), ("Privilege", f"{cls},all"), *pairs]

    match ev:
        case M.ChannelCreated(channel=ch):
            return [ev_("Newchannel", "call", channel_snapshot(ch))]
        case M.ChannelStateChanged(channel=ch):
            return [ev_("Newstate", "call", channel_snapshot(ch))]
        case M.CallerIdChanged(channel=ch):
            return [ev_("NewCallerid", "call", [*channel_snapshot(ch),
                                                 ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])]
        case M.ConnectedLineChanged(channel=ch):
            return [ev_("NewConnectedLine", "call", channel_snapshot(ch))]
        case M.DialBegin(caller=caller, callee=callee, dialstring=ds):
            head = channel_snapshot(caller) if caller is not None else []
            return [ev_("DialBegin", "call", [*head, *channel_snapshot(callee, "Dest"), ("DialString", ds)])]
        case M.DialState(caller=caller, callee=callee, status=st):
            head = channel_snapshot(caller) if caller is not None else []
            return [ev_("DialState", "call", [*head, *channel_snapshot(callee, "Dest"), ("DialStatus", st)])]
        case M.DialEnd(caller=caller, callee=callee, status=st):
            head = channel_snapshot(caller) if caller is not None else []
            return [ev_("DialEnd", "call", [*head, *channel_snapshot(callee, "Dest"), ("DialStatus", st)])]
        case M.BridgeCreated(bridge=br):
            return [ev_("BridgeCreate", "call", bridge_snapshot(br))]
        case M.Bridged(bridge=br, channel=ch):
            return [ev_("BridgeEnter", "call", [*bridge_snapshot(br), *channel_snapshot(ch)])]
        case M.Unbridged(bridge=br, channel=ch):
            return [ev_("BridgeLeave", "call", [*bridge_snapshot(br), *channel_snapshot(ch)])]
        case M.BridgeDestroyed(bridge=br):
            return [ev_("BridgeDestroy", "call", bridge_snapshot(br))]
        case M.HangupRequested(channel=ch, cause=cause, soft=soft):
            tail = [("Cause", str(cause))] if cause is not None else []
            return [ev_("SoftHangupRequest" if soft else "HangupRequest", "call", [*channel_snapshot(ch), *tail])]
        case M.ChannelHangup(channel=ch, cause=cause):
            return [ev_("Hangup", "call", [*channel_snapshot(ch), ("Cause", str(cause)),
                                           ("Cause-txt", M.cause_text(cause))])]
        case M.CallRecord(record=r):
            return [ev_("Cdr", "cdr", [
                ("AccountCode", r.accountcode), ("Source", r.src), ("Destination", r.dst),
                ("DestinationContext", r.dcontext), ("CallerID", r.clid), ("Channel", r.channel),
                ("DestinationChannel", r.dstchannel), ("LastApplication", r.lastapp), ("LastData", r.lastdata),
                ("StartTime", _ts(r.start)), ("AnswerTime", _ts(r.answer)), ("EndTime", _ts(r.end)),
                ("Duration", str(r.duration)), ("BillableSeconds", str(r.billsec)),
                ("Disposition", r.disposition), ("AMAFlags", r.amaflags), ("UniqueID", r.uniqueid),
                ("UserField", r.userfield)])]
        case M.MusicOnHold(channel=ch, start=start, moh_class=cls_):
            if start:
                return [ev_("MusicOnHoldStart", "call", [*channel_snapshot(ch), ("Class", cls_)])]
            return [ev_("MusicOnHoldStop", "call", channel_snapshot(ch))]
        case M.DeviceStateChanged(device=dev, state=st):
            return [ev_("DeviceStateChange", "call", [("Device", dev), ("State", st.value)])]
        case M.QueueMemberChanged(queue=q, member=mem, change=change):
            name = {"added": "QueueMemberAdded", "removed": "QueueMemberRemoved", "paused": "QueueMemberPause",
                    "status": "QueueMemberStatus"}[change]
            return [ev_(name, "agent", member_headers(q, mem))]
        case M.QueueCallerJoin(queue=q, channel=ch, position=pos, count=n):
            return [ev_("QueueCallerJoin", "agent", [*channel_snapshot(ch), ("Queue", q.name),
                                                      ("Position", str(pos)), ("Count", str(n))])]
        case M.QueueCallerLeave(queue=q, channel=ch, position=pos, count=n):
            return [ev_("QueueCallerLeave", "agent", [*channel_snapshot(ch), ("Queue", q.name),
                                                       ("Position", str(pos)), ("Count", str(n))])]
        case M.AgentCalled(queue=q, member=mem, caller=caller, agent=agent):
            return [ev_("AgentCalled", "agent", [*channel_snapshot(caller), *channel_snapshot(agent, "Dest"),
                                                  ("Queue", q.name), ("Interface", mem.interface),
                                                  ("MemberName", mem.name)])]
        case M.AgentConnect(queue=q, member=mem, caller=caller, agent=agent, holdtime=hold, ringtime=ring):
            return [ev_("AgentConnect", "agent", [*channel_snapshot(caller), *channel_snapshot(agent, "Dest"),
                                                   ("Queue", q.name), ("Interface", mem.interface),
                                                   ("MemberName", mem.name), ("HoldTime", str(hold)),
                                                   ("RingTime", str(ring))])]
        case M.AgentComplete(queue=q, member=mem, caller=caller, agent=agent, holdtime=hold, talktime=talk,
                             reason=reason):
            return [ev_("AgentComplete", "agent", [*channel_snapshot(caller), *channel_snapshot(agent, "Dest"),
                                                    ("Queue", q.name), ("Interface", mem.interface),
                                                    ("MemberName", mem.name), ("HoldTime", str(hold)),
                                                    ("TalkTime", str(talk)), ("Reason", reason)])]
        case M.ConferenceStart(conference=conf):
            return [ev_("ConfbridgeStart", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge)])]
        case M.ConferenceEnd(conference=conf):
            return [ev_("ConfbridgeEnd", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge)])]
        case M.ConferenceJoin(conference=conf, participant=p, channel=ch):
            return [ev_("ConfbridgeJoin", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge),
                                                    *channel_snapshot(ch), ("Admin", "Yes" if p.admin else "No"),
                                                    ("Muted", "Yes" if p.muted else "No")])]
        case M.ConferenceLeave(conference=conf, participant=p, channel=ch):
            return [ev_("ConfbridgeLeave", "call", [("Conference", conf.name), *bridge_snapshot(conf.bridge),
                                                     *channel_snapshot(ch), ("Admin", "Yes" if p.admin else "No")])]
        case M.ConferenceMute(conference=conf, participant=p, channel=ch, muted=muted):
            return [ev_("ConfbridgeMute" if muted else "ConfbridgeUnmute", "call",
                        [("Conference", conf.name), *bridge_snapshot(conf.bridge), *channel_snapshot(ch),
                         ("Admin", "Yes" if p.admin else "No")])]
        case M.MessageWaiting(mailbox=mb, new=new, old=old, channel=ch):
            head = channel_snapshot(ch) if ch is not None else []
            return [ev_("MessageWaiting", "call", [*head, ("Mailbox", mb.id), ("Waiting", "1" if new else "0"),
                                                    ("New", str(new)), ("Old", str(old))])]
        case M.RegistrationChanged(endpoint=ep, registration=reg, status=status):
            # Not in the recordings (their phones registered before the captures); fields as res_pjsip sends.
            contact = reg.contact if reg else ""
            pairs: Pairs = [("URI", contact), ("ContactStatus", status), ("AOR", ep.ext),
                            ("EndpointName", ep.ext), ("RoundtripUsec", "0")]
            if reg is not None and status == "Created":
                pairs += [("UserAgent", reg.user_agent), ("RegExpire", str(reg.expiration_time)),
                          ("ViaAddress", reg.via_addr), ("CallID", reg.call_id)]
            return [ev_("ContactStatus", "system", pairs)]
        case M.Reloaded(module=mod) if mod:
            return [ev_("Reload", "system", [("Module", mod), ("Status", "0")])]
        case M.Shutdown(restart=restart):
            return [ev_("Shutdown", "system", [("Shutdown", "Cleanly"), ("Restart", "True" if restart else "False")])]
    # ApplicationChanged (Newexten/VarSet), DbChanged, VoicemailLeft, NotifySent, MessageSent: no AMI event.
    return []


@dataclass
class Request:
    headers: Pairs

    def get(self, name: str) -> str:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return ""

    def has(self, name: str) -> bool:
        low = name.lower()
        return any(k.lower() == low for k, _ in self.headers)

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def action_id(self) -> str:
        return self.get("ActionID")


@dataclass
class Session:
    server: AmiServer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authenticated: bool = False
    username: str = ""
    event_classes: set[str] = field(default_factory=lambda: set(EVENT_CLASSES))
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)
    closed: bool = False

    def send(self, data: bytes) -> None:
        if not self.closed and not self.writer.is_closing():
            self.writer.write(data)

    def wants(self, cls: str, text: str) -> bool:
        if not self.authenticated or cls not in self.event_classes:
            return False
        if not self.filters:
            return True
        white = [rx for inc, rx in self.filters if inc]
        black = [rx for inc, rx in self.filters if not inc]
        if white and not any(rx.search(text) for rx in white):
            return False
        return not any(rx.search(text) for rx in black)

    def close(self) -> None:
        self.closed = True
        if not self.writer.is_closing():
            self.writer.close()


_POSIX_CLASSES = {"[:cntrl:]": r"\x00-\x1f\x7f", "[:space:]": r" \t\n\r\f\v", "[:digit:]": "0-9",
                  "[:alpha:]": "A-Za-z", "[:alnum:]": "A-Za-z0-9", "[:upper:]": "A-Z", "[:lower:]": "a-z"}


def _posix_ere(expr: str) -> str:
    """Asterisk compiles a Filter as a POSIX extended regex (regcomp): its bracket classes mean what
    they mean there. Python's re has no [[:cntrl:]]; spell them out."""
    for posix, python in _POSIX_CLASSES.items():
        expr = expr.replace(posix, python)
    return expr


class AmiServer:
    """The AMI listener; one per SimPBX. ``port`` holds the bound port after ``start()``."""

    def __init__(self, model: M.PBXModel, host: str = "127.0.0.1", port: int = 5038,
                 users: dict[str, str] | None = None) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.users = dict(users or {k: v for k, v in model.credentials.items() if k != "ESL"} or
                          {AMI_USER: AMI_SECRET})
        self.sessions: list[Session] = []
        self.reject_logins = False
        # The server's local zone (TZ): Asterisk writes the Cdr event's times and CoreStatus's in it,
        # whatever cdr.conf's usegmtime says of Master.csv (real-pbx-lab.md). UTC unless a test says.
        self.zone: tzinfo = UTC
        self.boot_time = time.time()
        self.notify_types = dict(PJSIP_NOTIFY_TYPES)
        self._server: asyncio.Server | None = None
        self._pending: list[tuple[str, bytes]] | None = None
        self._stall_until = 0.0
        self._unsubscribe: Callable[[], None] | None = None
        # Like Asterisk's cdr_csv backend: every call record is also appended to this file, whether or
        # not a manager session is listening (the daemon's catch-up path reads it).
        self.cdr_csv: Path | None = None
        self._handlers: dict[str, Callable[[Session, Request], None]] = {
            name[4:].lower(): getattr(self, name) for name in dir(self) if name.startswith("act_")
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._unsubscribe is None:
            self._unsubscribe = self.model.subscribe(self._on_model_event)
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self._close_listener()
        self.drop_all()

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # ------------------------------------------------------------------ faults

    def drop_all(self) -> None:
        """Close every client connection at once (no goodbye), like a crashed or killed Asterisk."""
        for s in list(self.sessions):
            s.close()
        self.sessions.clear()

    async def restart(self, issuer: Session | None = None, down_for: float = 0.2) -> None:
        """'core restart now': Shutdown (Restart: True) to every other session, sockets closed, the port
        refuses connections for ``down_for`` seconds, then a fresh listener with a new banner."""
        await self._shutdown(True, issuer)
        await asyncio.sleep(down_for)
        self.boot_time = time.time()
        self.model.started = self.model.clock()
        self.model.last_reload = self.model.started
        self._server = await asyncio.start_server(self._serve, self.host, self.port)

    async def stop_pbx(self, issuer: Session | None = None) -> None:
        """'core stop now': Shutdown (Restart: False), sockets closed, nothing listens any more."""
        await self._shutdown(False, issuer)

    async def _shutdown(self, restart: bool, issuer: Session | None) -> None:
        if issuer is not None:
            # The issuing connection gets neither a response nor the Shutdown event (recording 22b).
            issuer.closed = True
        self.model.shutdown(restart)
        for s in list(self.sessions):
            try:
                await s.writer.drain()
            except (ConnectionError, RuntimeError):
                pass
        if issuer is not None:
            issuer.writer.close()
        await self._close_listener()
        self.drop_all()

    def stall(self, seconds: float) -> None:
        """Stop answering actions for ``seconds`` (requests are read, answers come afterwards)."""
        self._stall_until = time.monotonic() + seconds

    def send_malformed(self, data: bytes = b"Response Success\r\nthis is: not\x00 AMI\r\n\r\n") -> None:
        """Write a frame that is not valid AMI to every connected client."""
        for s in self.sessions:
            s.send(data)

    # ------------------------------------------------------------------ events

    def _on_model_event(self, ev: M.ModelEvent) -> None:
        if self.cdr_csv is not None and isinstance(ev, M.CallRecord):
            self._append_cdr_csv(ev.record)
        for cls, pairs in translate(ev):
            if cls == "cdr" and self.zone is not UTC and isinstance(ev, M.CallRecord):
                local = {"StartTime": ev.record.start, "AnswerTime": ev.record.answer, "EndTime": ev.record.end}
                pairs = [(k, _ts(local[k], self.zone)) if k in local else (k, v) for k, v in pairs]
            self.broadcast(cls, pairs)

    def _append_cdr_csv(self, r: M.CallRecordData) -> None:
        """One line in cdr_csv's column order (loguniqueid, loguserfield): text quoted, numbers not,
        an empty answer time left bare, as recorded in fixtures/asterisk/cdr-csv/Master.csv."""
        def q(text: str) -> str:
            return '"' + text.replace('"', '""') + '"'

        answer = q(_ts(r.answer)) if r.answer is not None else ""
        fields = [q(r.accountcode), q(r.src), q(r.dst), q(r.dcontext), q(r.clid), q(r.channel), q(r.dstchannel),
                  q(r.lastapp), q(r.lastdata), q(_ts(r.start)), answer, q(_ts(r.end)), str(r.duration),
                  str(r.billsec), q(r.disposition), q(r.amaflags), q(r.uniqueid), q(r.userfield)]
        assert self.cdr_csv is not None
        with open(self.cdr_csv, "a", encoding="utf-8") as fh:
            fh.write(",".join(fields) + "\n")

    def broadcast(self, cls: str, pairs: Pairs) -> None:
        data = _fmt(pairs)
        if self._pending is not None:
            self._pending.append((cls, data))
            return
        self._deliver(cls, data)

    def _deliver(self, cls: str, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        for s in list(self.sessions):
            if s.wants(cls, text):
                s.send(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending or [], None
        for cls, data in pending:
            self._deliver(cls, data)

    # ------------------------------------------------------------------ connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        s = Session(self, reader, writer)
        self.sessions.append(s)
        try:
            writer.write(BANNER)
            while not s.closed:
                req = await self._read_request(reader)
                if req is None:
                    break
                if not req.headers:
                    continue
                delay = self._stall_until - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                if s.closed:
                    break
                await self._dispatch(s, req)
                if not s.closed:
                    await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, RuntimeError, ValueError):
            # ValueError: a line longer than the stream limit; the connection is dropped like a bad client.
            pass
        except asyncio.CancelledError:
            # Server shutdown: end quietly (asyncio logs an error when a handler task ends cancelled).
            pass
        finally:
            if s in self.sessions:
                self.sessions.remove(s)
            s.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Request | None:
        headers: Pairs = []
        while True:
            line = await reader.readline()
            if not line:
                return None
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                return Request(headers)
            k, sep, v = text.partition(":")
            # Asterisk's astman_get_header skips the blanks after the colon, keeps trailing ones.
            headers.append((k.strip(), v.lstrip(" \t") if sep else ""))

    def _respond(self, s: Session, req: Request, status: str, pairs: Pairs | None = None) -> None:
        out: Pairs = [("Response", status)]
        if req.action_id:
            out.append(("ActionID", req.action_id))
        s.send(_fmt(out + (pairs or [])))

    def ok(self, s: Session, req: Request, message: str | None = None, extra: Pairs | None = None) -> None:
        pairs: Pairs = [("Message", message)] if message is not None else []
        self._respond(s, req, "Success", pairs + (extra or []))

    def error(self, s: Session, req: Request, message: str) -> None:
        self._respond(s, req, "Error", [("Message", message)])

    def unknown(self, s: Session, req: Request) -> None:
        """For a case the recordings do not show and the sim cannot answer faithfully: reply as Asterisk
        replies to an unknown action rather than invent a text."""
        self.error(s, req, f"Invalid/unknown command: {req.get('Action')}. Use Action: ListCommands to show "
                           "available commands.")

    def _list(self, s: Session, req: Request, message: str, items: list[Pairs], complete: str,
              extra_complete: Pairs | None = None) -> None:
        """An EventList answer: start response, the items, the ...Complete event."""
        self.ok(s, req, extra=[("EventList", "start"), ("Message", message)])
        for it in items:
            s.send(_fmt(it))
        done: Pairs = [("Event", complete)]
        if req.action_id:
            done.append(("ActionID", req.action_id))
        done += [("EventList", "Complete"), ("ListItems", str(len(items))), *(extra_complete or [])]
        s.send(_fmt(done))

    def _aid(self, req: Request) -> Pairs:
        return [("ActionID", req.action_id)] if req.action_id else []

    async def _dispatch(self, s: Session, req: Request) -> None:
        action = req.get("Action")
        if not action:
            self.error(s, req, "Missing action in request")
            return
        name = action.lower()
        if not s.authenticated and name not in ("login", "logoff", "challenge"):
            self.error(s, req, "Permission denied")
            return
        if name == "login":
            await self._login(s, req)
            return
        if name == "command" and req.get("Command").strip() in ("core restart now", "core stop now",
                                                                 "core restart gracefully", "core stop gracefully"):
            if "restart" in req.get("Command"):
                await self.restart(issuer=s)
            else:
                await self.stop_pbx(issuer=s)
            return
        handler = self._handlers.get(name)
        if handler is None:
            self.error(s, req, f"Invalid/unknown command: {action}. Use Action: ListCommands to show available "
                               "commands.")
            return
        self._pending = []
        try:
            handler(s, req)
        except Exception:  # a sim bug must not kill the connection or leave the client waiting
            log.exception("AMI action %s failed", action)
            self._pending = self._pending or []
            self.unknown(s, req)
        finally:
            self._flush()

    async def _login(self, s: Session, req: Request) -> None:
        user, secret = req.get("Username"), req.get("Secret")
        if self.reject_logins or self.users.get(user) != secret or not user:
            self.error(s, req, "Authentication failed")
            await s.writer.drain()
            # As recorded (02): the socket is closed about one second after the error.
            await asyncio.sleep(1.0)
            s.close()
            return
        s.authenticated, s.username = True, user
        mask = req.get("Events")
        if req.has("Events"):
            s.event_classes = self._mask(mask) or set()
        self.ok(s, req, "Authentication accepted")
        uptime = int(time.time() - self.boot_time)
        if "system" in s.event_classes:
            s.send(_fmt([("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", str(uptime)),
                         ("LastReload", str(int(time.time() - max(self.boot_time, self.model.last_reload)))),
                         ("Status", "Fully Booted")]))
        now = time.time()
        local = s.writer.get_extra_info("sockname") or ("127.0.0.1", self.port)
        peer = s.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.broadcast("security", [
            ("Event", "SuccessfulAuth"), ("Privilege", "security,all"), ("EventTV", _event_tv(now)),
            ("Severity", "Informational"), ("Service", "AMI"), ("EventVersion", "1"), ("AccountID", user),
            ("SessionID", f"0x{id(s):x}"), ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
            ("RemoteAddress", f"IPV4/TCP/{peer[0]}/{peer[1]}"), ("UsingPassword", "0"),
            ("SessionTV", _event_tv(now))])

    @staticmethod
    def _mask(value: str) -> set[str] | None:
        """An Events/EventMask value -> event classes; None when it is not a mask at all."""
        v = value.strip().lower()
        if v in ("on", "yes", "true", "1", "all"):
            return set(EVENT_CLASSES)
        if v in ("off", "no", "false", "0", "none"):
            return set()
        classes = {c.strip() for c in v.split(",") if c.strip()}
        if not classes:
            return None
        if "all" in classes:
            return set(EVENT_CLASSES)
        return classes & set(EVENT_CLASSES)

    # ------------------------------------------------------------------ session actions

    def act_logoff(self, s: Session, req: Request) -> None:
        self._respond(s, req, "Goodbye", [("Message", "Thanks for all the fish.")])
        s.closed = True
        s.writer.close()

    def act_ping(self, s: Session, req: Request) -> None:
        self._respond(s, req, "Success", [("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])

    def act_events(self, s: Session, req: Request) -> None:
        classes = self._mask(req.get("EventMask")) if req.get("EventMask") else None
        if classes is None:
            self.error(s, req, "Invalid event mask")
            return
        s.event_classes = classes
        self._respond(s, req, "Success", [("Events", "On" if classes else "Off")])

    def act_filter(self, s: Session, req: Request) -> None:
        if req.get("Operation").lower() != "add":
            self.error(s, req, "Unknown operation")
            return
        expr = req.get("Filter")
        include = not expr.startswith("!")
        try:
            rx = re.compile(_posix_ere(expr if include else expr[1:]))
        except re.error:
            self.unknown(s, req)
            return
        s.filters.append((include, rx))
        self.ok(s, req, "Success")

    def act_userevent(self, s: Session, req: Request) -> None:
        name = req.get("UserEvent")
        rest = [(k, v) for k, v in req.headers if k.lower() not in ("action", "userevent")]
        self.ok(s, req, "Event Sent")
        self.broadcast("user", [("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", name), *rest])

    def act_corestatus(self, s: Session, req: Request) -> None:
        start = datetime.fromtimestamp(self.boot_time, self.zone)
        reload_ = datetime.fromtimestamp(max(self.boot_time, self.model.last_reload), self.zone)
        self._respond(s, req, "Success", [
            ("CoreStartupDate", start.strftime("%Y-%m-%d")), ("CoreStartupTime", start.strftime("%H:%M:%S")),
            ("CoreReloadDate", reload_.strftime("%Y-%m-%d")), ("CoreReloadTime", reload_.strftime("%H:%M:%S")),
            ("CoreCurrentCalls", str(len({c.linkedid for c in self.model.channels.values()}))),
            ("CoreProcessedCalls", str(self.model.processed_calls))])

    def act_listcommands(self, s: Session, req: Request) -> None:
        self._respond(s, req, "Success", list(LIST_COMMANDS))

    # ------------------------------------------------------------------ channels

    def act_coreshowchannels(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        items = []
        # Newest first, the order the recording (07) lists them in.
        for ch in reversed(list(self.model.channels.values())):
            items.append([("Event", "CoreShowChannel"), *self._aid(req), *channel_snapshot(ch),
                          ("Application", ch.application), ("ApplicationData", ch.app_data),
                          ("Duration", _hms(ch.seconds(now))), ("BridgeId", ch.bridge_id or "")])
        self._list(s, req, "Channels will follow", items, "CoreShowChannelsComplete")

    def act_status(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        wanted = req.get("Channel")
        chans = list(reversed(list(self.model.channels.values())))
        if wanted:
            ch = self.model.get_channel(wanted)
            if ch is None:
                self.error(s, req, "No such channel")
                return
            chans = [ch]
        items = []
        for ch in chans:
            items.append([("Event", "Status"), ("Privilege", "Call"), *channel_snapshot(ch), ("Type", ch.tech),
                          ("DNID", ch.dnid), ("EffectiveConnectedLineNum", _unknown(ch.connected_num)),
                          ("EffectiveConnectedLineName", _unknown(ch.connected_name)), ("TimeToHangup", "0"),
                          ("BridgeID", ch.bridge_id or ""), ("Application", ch.application), ("Data", ch.app_data),
                          ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""),
                          ("Writeformat", "ulaw"), ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
                          ("Seconds", str(ch.seconds(now))), *self._aid(req)])
        self._list(s, req, "Channel status will follow", items, "StatusComplete", [("Items", str(len(items)))])

    def act_coreshowchannelmap(self, s: Session, req: Request) -> None:
        # Only the not-found answer is recorded (07); the map itself is not modelled.
        if self.model.get_channel(req.get("Channel")) is None:
            self.error(s, req, "Could not get channel snapshot\n")
            return
        self.unknown(s, req)

    def act_hangup(self, s: Session, req: Request) -> None:
        name = req.get("Channel")
        if not name:
            self.error(s, req, "No channel specified")
            return
        ch = self.model.get_channel(name)
        if ch is None:
            self.error(s, req, "No such channel")
            return
        cause = int(req.get("Cause")) if req.get("Cause").isdigit() else 16
        self.ok(s, req, "Channel Hungup")
        self.model.hangup_channel(ch, cause, via="ami")

    def act_getvar(self, s: Session, req: Request) -> None:
        var = req.get("Variable")
        if not var:
            self.error(s, req, "No variable specified")
            return
        value = ""
        if req.get("Channel"):
            ch = self.model.get_channel(req.get("Channel"))
            if ch is None:
                self.error(s, req, "No such channel")
                return
            value = ch.variables.get(var, "")
        self._respond(s, req, "Success", [("Variable", var), ("Value", value)])

    def act_originate(self, s: Session, req: Request) -> None:
        target = req.get("Channel")
        if not target:
            self.error(s, req, "Channel not specified")
            return
        tech, _, data = target.partition("/")
        if not data:
            self.error(s, req, "Invalid channel")
            return
        exten, context = req.get("Exten"), req.get("Context") or "default"
        app, appdata = req.get("Application"), req.get("Data")
        caller_id = req.get("CallerID") or None
        async_ = req.get("Async").lower() in ("true", "yes", "1", "on")
        ext = data.split("@", 1)[0]
        if tech.upper() == "LOCAL":
            # Local/<number>@<context>[/n]: the number as that context's dialplan reaches it (the sim rings
            # the endpoint directly, without the two ;1/;2 halves): never another tenant's same number.
            number, _, ctx = data.partition("@")
            ext = self.model.route(number, ctx.split("/", 1)[0] or "default") or ""
        elif tech.upper() != "PJSIP":
            ext = ""   # unknown technology: fails like an unreachable channel
        if async_:
            self.ok(s, req, "Originate successfully queued")
        result = self.model.originate(ext, exten or None, context, caller_id) if ext else M.OriginateResult(
            False, 0, 66)
        if not async_:
            if result.success:
                self.model.originate_continue(result, exten or None, context, app or None, appdata or None)
                self.ok(s, req, "Originate successfully queued")
            else:
                self.error(s, req, "Originate failed")
            return
        ch = result.channel
        self.broadcast("call", [
            ("Event", "OriginateResponse"), ("Privilege", "call,all"), *self._aid(req),
            ("Response", "Success" if result.success else "Failure"), ("Channel", ch.name if ch else target),
            ("Context", context), ("Exten", exten), ("Reason", str(result.reason)),
            ("Uniqueid", ch.uniqueid if ch else "<unknown>"),
            ("CallerIDNum", _unknown(ch.caller_num) if ch else "<unknown>"),
            ("CallerIDName", _unknown(ch.caller_name) if ch else "<unknown>")])
        if result.success:
            self.model.originate_continue(result, exten or None, context, app or None, appdata or None)

    # ------------------------------------------------------------------ queues

    def act_queueadd(self, s: Session, req: Request) -> None:
        queue, iface = req.get("Queue"), req.get("Interface")
        if not queue:
            self.error(s, req, "'Queue' not specified.")
            return
        if not iface:
            self.error(s, req, "'Interface' not specified.")
            return
        paused = req.get("Paused").lower() in ("true", "yes", "1", "on")
        try:
            self.model.queue_add(queue, iface, name=req.get("MemberName") or None,
                                 penalty=int(req.get("Penalty") or 0), paused=paused,
                                 reason=req.get("Reason"), state_interface=req.get("StateInterface") or None)
        except M.NoSuchQueue:
            self.error(s, req, "Unable to add interface to queue: No such queue")
            return
        except M.MemberExists:
            self.error(s, req, "Unable to add interface: Already there")
            return
        self.ok(s, req, "Added interface to queue")

    def act_queueremove(self, s: Session, req: Request) -> None:
        queue, iface = req.get("Queue"), req.get("Interface")
        if not queue or not iface:
            self.error(s, req, "Need 'Queue' and 'Interface' parameters.")
            return
        try:
            self.model.queue_remove(queue, iface)
        except M.NoSuchQueue:
            self.error(s, req, "Unable to remove interface from queue: No such queue")
            return
        except M.NoSuchMember:
            self.error(s, req, "Unable to remove interface: Not there")
            return
        self.ok(s, req, "Removed interface from queue")

    def act_queuepause(self, s: Session, req: Request) -> None:
        iface, paused = req.get("Interface"), req.get("Paused")
        if not iface or not paused:
            self.error(s, req, "Need 'Interface' and 'Paused' parameters.")
            return
        on = paused.lower() in ("true", "yes", "1", "on")
        try:
            self.model.queue_pause(iface, on, req.get("Reason"), queue=req.get("Queue") or None)
        except M.NoSuchMember:
            self.error(s, req, "Interface not found")
            return
        self.ok(s, req, "Interface paused successfully" if on else "Interface unpaused successfully")

    def act_queuestatus(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        want_q, want_m = req.get("Queue"), req.get("Member")
        items: list[Pairs] = []
        for q in self.model.queues.values():
            if want_q and q.name != want_q:
                continue
            items.append([("Event", "QueueParams"), ("Queue", q.name), ("Max", str(q.max)), ("Strategy", q.strategy),
                          ("Calls", str(len(q.callers))), ("Holdtime", str(q.holdtime)),
                          ("TalkTime", str(q.talktime)), ("Completed", str(q.completed)),
                          ("Abandoned", str(q.abandoned)), ("ServiceLevel", str(q.service_level)),
                          ("ServicelevelPerf", "0.0"), ("ServicelevelPerf2", "0.0"), ("Weight", str(q.weight)),
                          *self._aid(req)])
            for mem in q.members.values():
                if want_m and mem.interface != want_m and mem.name != want_m:
                    continue
                items.append([("Event", "QueueMember"), ("Queue", q.name), ("Name", mem.name),
                              ("Location", mem.interface), ("StateInterface", mem.state_interface),
                              ("Membership", mem.membership), ("Penalty", str(mem.penalty)),
                              ("CallsTaken", str(mem.calls_taken)), ("LastCall", str(mem.last_call)),
                              ("LastPause", str(mem.last_pause)), ("LoginTime", str(mem.login_time)),
                              ("InCall", "1" if mem.in_call else "0"), ("Status", str(mem.status.code)),
                              ("Paused", "1" if mem.paused else "0"), ("PausedReason", mem.pause_reason),
                              ("Wrapuptime", str(mem.wrapup)), *self._aid(req)])
            for entry in q.callers:
                ch = self.model.channels.get(entry.uniqueid)
                if ch is None:
                    continue
                items.append([("Event", "QueueEntry"), ("Queue", q.name), ("Position", str(entry.position)),
                              ("Channel", ch.name), ("Uniqueid", ch.uniqueid),
                              ("CallerIDNum", ch.caller_num or "unknown"), ("CallerIDName", ch.caller_name or "unknown"),
                              ("ConnectedLineNum", ch.connected_num or "unknown"),
                              ("ConnectedLineName", ch.connected_name or "unknown"),
                              ("Wait", str(int(now - entry.joined))), ("Priority", "0"), *self._aid(req)])
        self._list(s, req, "Queue status will follow", items, "QueueStatusComplete")

    def act_queuesummary(self, s: Session, req: Request) -> None:
        now = self.model.clock()
        want_q = req.get("Queue")
        items: list[Pairs] = []
        for q in self.model.queues.values():
            if want_q and q.name != want_q:
                continue
            logged = [m for m in q.members.values() if m.status not in (M.DeviceState.UNAVAILABLE,
                                                                         M.DeviceState.INVALID)]
            avail = [m for m in logged if not m.paused and m.status == M.DeviceState.NOT_INUSE]
            longest = max((int(now - c.joined) for c in q.callers), default=0)
            items.append([("Event", "QueueSummary"), ("Queue", q.name), ("LoggedIn", str(len(logged))),
                          ("Available", str(len(avail))), ("Callers", str(len(q.callers))),
                          ("HoldTime", str(q.holdtime)), ("TalkTime", str(q.talktime)),
                          ("LongestHoldTime", str(longest)), *self._aid(req)])
        self._list(s, req, "Queue summary will follow", items, "QueueSummaryComplete")

    # ------------------------------------------------------------------ conferences

    def _conf(self, s: Session, req: Request, need_channel: bool = False) -> M.Conference | None:
        room = req.get("Conference")
        if not room:
            self.error(s, req, "No Conference name provided.")
            return None
        if need_channel and not req.get("Channel"):
            self.error(s, req, "No channel name provided.")
            return None
        if not self.model.conferences:
            self.error(s, req, "No active conferences.")
            return None
        conf = self.model.conferences.get(room)
        if conf is None:
            self.error(s, req, "No Conference by that name found.")
            return None
        return conf

    def act_confbridgelistrooms(self, s: Session, req: Request) -> None:
        if not self.model.conferences:
            self.error(s, req, "No active conferences.")
            return
        items = []
        for conf in self.model.conferences.values():
            muted = bool(conf.participants) and all(p.muted for p in conf.participants.values())
            items.append([("Event", "ConfbridgeListRooms"), *self._aid(req), ("Conference", conf.name),
                          ("Parties", str(len(conf.participants))),
                          ("Marked", str(sum(p.marked for p in conf.participants.values()))),
                          ("Locked", "Yes" if conf.locked else "No"), ("Muted", "Yes" if muted else "No")])
        self._list(s, req, "Confbridge conferences will follow", items, "ConfbridgeListRoomsComplete")

    def act_confbridgelist(self, s: Session, req: Request) -> None:
        conf = self._conf(s, req)
        if conf is None:
            return
        now = self.model.clock()
        items = []
        for uid, p in conf.participants.items():
            ch = self.model.channels.get(uid)
            if ch is None:
                continue
            items.append([("Event", "ConfbridgeList"), *self._aid(req), ("Conference", conf.name),
                          ("Admin", "Yes" if p.admin else "No"), ("MarkedUser", "Yes" if p.marked else "No"),
                          ("WaitMarked", "No"), ("EndMarked", "No"), ("EndMarkedAny", "No"), ("Waiting", "No"),
                          ("Muted", "Yes" if p.muted else "No"), ("Talking", "Yes" if p.talking else "No"),
                          ("AnsweredTime", str(int(now - (ch.answered or now)))), *channel_snapshot(ch)])
        self._list(s, req, "Confbridge user list will follow", items, "ConfbridgeListComplete")

    def _mute(self, s: Session, req: Request, muted: bool) -> None:
        conf = self._conf(s, req, need_channel=True)
        if conf is None:
            return
        if self.model.conf_mute(conf.name, req.get("Channel"), muted) == 0:
            self.error(s, req, "No Channel by that name found in Conference.")
            return
        self.ok(s, req, "User muted" if muted else "User unmuted")

    def act_confbridgemute(self, s: Session, req: Request) -> None:
        self._mute(s, req, True)

    def act_confbridgeunmute(self, s: Session, req: Request) -> None:
        self._mute(s, req, False)

    def act_confbridgekick(self, s: Session, req: Request) -> None:
        conf = self._conf(s, req)
        if conf is None:
            return
        who = req.get("Channel")
        if not who:
            self.error(s, req, "No channel name provided.")
            return
        if not self.model._conf_targets(conf, who):
            self.error(s, req, "No Channel by that name found in Conference.")
            return
        self.ok(s, req, "All participants kicked" if who == "all" else "User kicked")
        self.model.conf_kick(conf.name, who)

    def _lock(self, s: Session, req: Request, locked: bool) -> None:
        conf = self._conf(s, req)
        if conf is None:
            return
        self.model.conf_lock(conf.name, locked)
        self.ok(s, req, "Conference locked" if locked else "Conference unlocked")

    def act_confbridgelock(self, s: Session, req: Request) -> None:
        self._lock(s, req, True)

    def act_confbridgeunlock(self, s: Session, req: Request) -> None:
        self._lock(s, req, False)

    # ------------------------------------------------------------------ AstDB

    def act_dbput(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        if not fam:
            self.error(s, req, "No family specified")
            return
        if not key:
            self.error(s, req, "No key specified")
            return
        self.model.db_put(fam, key, req.get("Val"))
        self.ok(s, req, "Updated database successfully")

    def act_dbget(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        if not fam:
            self.error(s, req, "No family specified.")
            return
        if not key:
            self.error(s, req, "No key specified.")
            return
        val = self.model.db_get(fam, key)
        if val is None:
            self.error(s, req, "Database entry not found")
            return
        self._list(s, req, "Result will follow", [[("Event", "DBGetResponse"), ("Family", fam), ("Key", key),
                                                   ("Val", val), *self._aid(req)]], "DBGetComplete")

    def act_dbgettree(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        rows = self.model.db_tree(fam or None, key or None)
        # An empty tree is an empty list, not an error (db.c manager_dbgettree).
        items = [[("Event", "DBGetTreeResponse"), ("Key", f"/{f}/{k}"), ("Val", v), *self._aid(req)]
                 for f, k, v in rows]
        self._list(s, req, "Result will follow", items, "DBGetTreeComplete")

    def act_dbdel(self, s: Session, req: Request) -> None:
        fam, key = req.get("Family"), req.get("Key")
        if not fam:
            self.error(s, req, "No family specified.")
            return
        if not key:
            self.error(s, req, "No key specified.")
            return
        if not self.model.db_del(fam, key):
            self.error(s, req, "Database entry could not be deleted")
            return
        self.ok(s, req, "Key deleted successfully")

    def act_dbdeltree(self, s: Session, req: Request) -> None:
        fam = req.get("Family")
        if not fam:
            self.error(s, req, "No family specified.")
            return
        if self.model.db_deltree(fam, req.get("Key") or None) == 0:
            self.error(s, req, "Database entry not found")
            return
        self.ok(s, req, "Key tree deleted successfully")

    # ------------------------------------------------------------------ voicemail

    def _counts(self, spec: str) -> tuple[int, int, int]:
        urgent = new = old = 0
        for item in spec.split(","):
            box, _, ctx = item.strip().partition("@")
            u, n, o = self.model.mailbox_counts(box, ctx or "default")
            urgent, new, old = urgent + u, new + n, old + o
        return urgent, new, old

    def act_mailboxcount(self, s: Session, req: Request) -> None:
        spec = req.get("Mailbox")
        if not spec:
            self.error(s, req, "Mailbox not specified")
            return
        u, n, o = self._counts(spec)
        self.ok(s, req, "Mailbox Message Count", [("Mailbox", spec), ("UrgMessages", str(u)),
                                                  ("NewMessages", str(n)), ("OldMessages", str(o))])

    def act_mailboxstatus(self, s: Session, req: Request) -> None:
        spec = req.get("Mailbox")
        if not spec:
            self.error(s, req, "Mailbox not specified")
            return
        u, n, _o = self._counts(spec)
        self.ok(s, req, "Mailbox Status", [("Mailbox", spec), ("Waiting", "1" if u + n else "0")])

    def _vm_user(self, mb: M.Mailbox) -> Pairs:
        _u, new, old = self.model.mailbox_counts(mb.box, mb.context)
        return [("VMContext", mb.context), ("VoiceMailbox", mb.box), ("Fullname", mb.fullname), ("Email", mb.email),
                ("Pager", mb.pager), ("ServerEmail", "pbx@lab.local"), ("FromString", ""),
                ("MailCommand", "/usr/sbin/sendmail -t"), ("Language", ""), ("TimeZone", ""), ("Callback", ""),
                ("Dialout", ""), ("UniqueID", ""), ("ExitContext", ""), ("SayDurationMinimum", "2"),
                ("SayEnvelope", "Yes"), ("SayCID", "No"), ("AttachMessage", "No"), ("AttachmentFormat", ""),
                ("DeleteMessage", "No"), ("VolumeGain", "0.00"), ("CanReview", "No"), ("CanMarkUrgent", "Yes"),
                ("CallOperator", "No"), ("MaxMessageCount", "100"), ("MaxMessageLength", "120"),
                ("NewMessageCount", str(new)), ("OldMessageCount", str(old))]

    def act_voicemailuserslist(self, s: Session, req: Request) -> None:
        items = [[("Event", "VoicemailUserEntry"), *self._aid(req), *self._vm_user(mb)]
                 for mb in self.model.mailboxes.values()]
        self._list(s, req, "Voicemail user list will follow", items, "VoicemailUserEntryComplete")

    def _find_box(self, s: Session, req: Request) -> M.Mailbox | None:
        ctx, box = req.get("Context"), req.get("Mailbox")
        mb = self.model.mailboxes.get(f"{box}@{ctx}")
        if mb is None:
            # Missing parameters and unknown boxes are not recorded.
            self.unknown(s, req)
        return mb

    def act_voicemailuserstatus(self, s: Session, req: Request) -> None:
        mb = self._find_box(s, req)
        if mb is None:
            return
        self._list(s, req, "Voicemail user detail will follow",
                   [[("Event", "VoicemailUserDetail"), *self._aid(req), *self._vm_user(mb)]],
                   "VoicemailUserDetailComplete")

    def act_voicemailboxsummary(self, s: Session, req: Request) -> None:
        mb = self._find_box(s, req)
        if mb is None:
            return
        items = []
        for folder in M.VM_FOLDERS:
            for msg in mb.messages.get(folder, []):
                items.append([("Event", "VoicemailBoxDetail"), *self._aid(req), ("Folder", folder),
                              ("CallerID", msg.caller_id), ("Date", msg.origdate), ("Duration", str(msg.duration)),
                              ("Flag", msg.flag), ("ID", msg.msg_id)])
        self._list(s, req, "Voicemail box detail will follow", items, "VoicemailBoxDetailComplete")

    def act_voicemailrefresh(self, s: Session, req: Request) -> None:
        # app_voicemail only polls; with nothing changed no MessageWaiting follows (recording 14).
        self.ok(s, req, "Refresh sent")

    def act_voicemailmove(self, s: Session, req: Request) -> None:
        done = self.model.move_message(req.get("Mailbox"), req.get("Folder"), req.get("ID"), req.get("ToFolder"),
                                       req.get("Context") or "default")
        self.ok(s, req, "Message move successful\n" if done else "Message move failed\n")

    def act_voicemailremove(self, s: Session, req: Request) -> None:
        done = self.model.delete_message(req.get("Mailbox"), req.get("Folder"), req.get("ID"),
                                         req.get("Context") or "default")
        self.ok(s, req, "Message remove successful\n" if done else "Message remove failed\n")

    def act_voicemailforward(self, s: Session, req: Request) -> None:
        try:
            done = self.model.forward_message(req.get("Mailbox"), req.get("Folder"), req.get("ID"),
                                              req.get("ToMailbox"), req.get("ToFolder") or "INBOX",
                                              req.get("Context") or "default", req.get("ToContext") or "default")
        except M.NoSuchMailbox:
            done = False
        self.ok(s, req, "Message forward successful\n" if done else "Message forward failed\n")

    # ------------------------------------------------------------------ PJSIP

    def _contacts(self, ep: M.Endpoint, trailing: str = ",") -> str:
        return f"{ep.ext}/{ep.registration.contact}{trailing}" if ep.registered and ep.registration else ""

    def act_pjsipshowendpoints(self, s: Session, req: Request) -> None:
        items = []
        for ep in self.model.endpoints.values():
            active = sum(1 for c in self.model.channels.values() if c.endpoint == ep.ext)
            items.append([("Event", "EndpointList"), *self._aid(req), ("ObjectType", "endpoint"),
                          ("ObjectName", ep.ext), ("Transport", "transport-udp"), ("Aor", ep.ext), ("Auths", ep.ext),
                          ("OutboundAuths", ""), ("Contacts", self._contacts(ep)),
                          ("DeviceState", _ENDPOINT_STATE_TEXT[ep.device_state]), ("ActiveChannels", str(active))])
        self._list(s, req, "A listing of Endpoints follows, presented as EndpointList events", items,
                   "EndpointListComplete")

    def act_pjsipshowendpoint(self, s: Session, req: Request) -> None:
        name = req.get("Endpoint")
        if not name:
            self.error(s, req, "PJSIPShowEndpoint requires an endpoint name\n")
            return
        ep = self.model.endpoints.get(name)
        if ep is None:
            self.error(s, req, f"Unable to retrieve endpoint {name}\n")
            return
        active = sum(1 for c in self.model.channels.values() if c.endpoint == ep.ext)
        subst = {"ObjectName": ep.ext, "Mailboxes": ep.mailbox or "", "Aors": ep.ext, "Auth": ep.ext,
                 "Callerid": ep.callerid, "Context": ep.context, "DeviceState": _ENDPOINT_STATE_TEXT[ep.device_state],
                 "ActiveChannels": str(active)}
        aid = self._aid(req)
        items = [[("Event", "EndpointDetail"), *aid, *[(k, subst.get(k, v)) for k, v in ENDPOINTDETAIL]],
                 [("Event", "AuthDetail"), *aid, *[(k, {"ObjectName": ep.ext, "Username": ep.ext,
                                                        "Password": ep.password, "EndpointName": ep.ext}.get(k, v))
                                                   for k, v in AUTHDETAIL]],
                 [("Event", "TransportDetail"), *aid, *[(k, ep.ext if k == "EndpointName" else v)
                                                        for k, v in TRANSPORTDETAIL]]]
        reg = ep.registration if ep.registered else None
        aor = {"ObjectName": ep.ext, "Contacts": self._contacts(ep, ""), "TotalContacts": "1" if reg else "0",
               "ContactsRegistered": "1" if reg else "0", "EndpointName": ep.ext}
        items.append([("Event", "AorDetail"), *aid, *[(k, aor.get(k, v)) for k, v in AORDETAIL]])
        if reg is not None:
            items.append([("Event", "ContactStatusDetail"), *aid, ("AOR", ep.ext), ("URI", reg.contact),
                          ("UserAgent", reg.user_agent), ("RegExpire", str(reg.expiration_time)),
                          ("ViaAddress", reg.via_addr), ("CallID", reg.call_id), ("Status", "NonQualified"),
                          ("RoundtripUsec", "N/A"), ("EndpointName", ep.ext), ("ID", f"{ep.ext};@{reg.contact_hash}"),
                          ("AuthenticateQualify", "0"), ("OutboundProxy", ""), ("Path", ""),
                          ("QualifyFrequency", "0"), ("QualifyTimeout", "3.000"), ("Qualify2xxOnly", "0")])
        self._list(s, req, "Following are Events for each object associated with the Endpoint", items,
                   "EndpointDetailComplete")

    def act_pjsipshowcontacts(self, s: Session, req: Request) -> None:
        items = []
        for ep in self.model.endpoints.values():
            reg = ep.registration if ep.registered else None
            if reg is None:
                continue
            host, _, port = reg.via_addr.partition(":")
            items.append([("Event", "ContactList"), *self._aid(req), ("ObjectType", "contact"),
                          ("ObjectName", f"{ep.ext};@{reg.contact_hash}"), ("ViaAddr", host),
                          ("QualifyTimeout", "3.000000"), ("Qualify2xxOnly", "false"), ("CallId", reg.call_id),
                          ("RegServer", ""), ("PruneOnBoot", "no"), ("Path", ""), ("Endpoint", ep.ext),
                          ("ViaPort", port), ("AuthenticateQualify", "no"), ("Uri", reg.contact),
                          ("QualifyFrequency", "0"), ("UserAgent", reg.user_agent),
                          ("ExpirationTime", str(reg.expiration_time)), ("OutboundProxy", ""),
                          ("Status", "NonQualified"), ("RoundtripUsec", "N/A")])
        self._list(s, req, "A listing of Contacts follows, presented as ContactList events", items,
                   "ContactListComplete")

    def act_pjsipshowregistrationsinbound(self, s: Session, req: Request) -> None:
        items = []
        for ep in self.model.endpoints.values():
            aor = {"ObjectName": ep.ext, "Contacts": self._contacts(ep)}
            pairs = [(k, aor.get(k, v)) for k, v in AORDETAIL if k not in ("TotalContacts", "ContactsRegistered",
                                                                             "EndpointName")]
            pairs = [("Contact", self._contacts(ep, "")) if k == "Contacts" else (k, v) for k, v in pairs]
            items.append([("Event", "InboundRegistrationDetail"), *self._aid(req), *pairs,
                          ("Contacts", self._contacts(ep))])
        self._list(s, req, "Following are Events for each Inbound registration", items,
                   "InboundRegistrationDetailComplete")

    def act_pjsipnotify(self, s: Session, req: Request) -> None:
        endpoint, uri = req.get("Endpoint"), req.get("URI")
        option, variables = req.get("Option"), req.get_all("Variable")
        if bool(endpoint) + bool(uri) + bool(req.get("Channel")) != 1:
            self.unknown(s, req)   # not recorded
            return
        if endpoint and endpoint not in self.model.endpoints:
            self.error(s, req, f"Unable to retrieve endpoint {endpoint}")
            return
        if bool(option) == bool(variables):
            self.error(s, req, "PJSIPNotify requires either an Option or Variable(s).You must use only one of them.")
            return
        if option:
            if option not in self.notify_types:
                self.unknown(s, req)   # not recorded
                return
            pairs = list(self.notify_types[option])
        else:
            pairs = [tuple(v.split("=", 1)) if "=" in v else (v, "") for v in variables]  # type: ignore[misc]
        event = next((v for k, v in pairs if k.lower() == "event"), "")
        body = "\r\n".join(v for k, v in pairs if k.lower() == "content")
        headers = [(k, v) for k, v in pairs if k.lower() not in ("event", "content")]
        if req.get("Channel"):
            ch = self.model.get_channel(req.get("Channel"))
            if ch is None:
                self.unknown(s, req)   # not recorded
                return
            endpoint = ch.endpoint or ""
        self.model.send_notify(endpoint or None, uri or None, event, headers, body)
        self.ok(s, req, "NOTIFY sent")

    def act_messagesend(self, s: Session, req: Request) -> None:
        to = req.get("To") or req.get("Destination")
        if not to:
            self.error(s, req, "No 'To' address specified.")
            return
        tech = to.split(":", 1)[0].lower() if ":" in to else ""
        if tech not in ("pjsip", "sip"):
            self.error(s, req, "Message technology not found.")
            return
        body = req.get("Body")
        if req.get("Base64Body"):
            try:
                body = base64.b64decode(req.get("Base64Body")).decode("utf-8", "replace")
            except ValueError:
                body = ""
        variables = dict(v.split("=", 1) for v in ",".join(req.get_all("Variable")).split(",") if "=" in v)
        msg = self.model.send_message(req.get("To") or to, req.get("From"), body, req.get("Destination") or None,
                                      variables)
        if not msg.delivered:
            self.error(s, req, "Message failed to send.")
            return
        self.ok(s, req, "Message successfully sent")

    # ------------------------------------------------------------------ CLI and reload

    def act_reload(self, s: Session, req: Request) -> None:
        module = req.get("Module")
        if module and module not in RELOADABLE_MODULES:
            self.error(s, req, "No such module")
            return
        self.ok(s, req, "Module Reloaded")
        self.model.reload(module or None)

    def act_command(self, s: Session, req: Request) -> None:
        cmd = req.get("Command")
        if not cmd:
            self.error(s, req, "No command provided")
            return
        words = cmd.split()
        out: list[str] | None = None
        after: Callable[[], None] | None = None
        if words == ["core", "show", "version"]:
            out = [VERSION_LINE]
        elif words == ["dialplan", "reload"]:
            out = ["Dialplan reloaded."]
        elif words[:2] == ["module", "reload"] and len(words) == 3 and words[2] in RELOADABLE_MODULES:
            out = [f"Module '{words[2]}' reloaded successfully."]
            mod = words[2]

            def after() -> None:
                self.model.reload(mod)
        elif words == ["voicemail", "reload"]:
            out = ["Reloading voicemail configuration..."]
            after = self.model.announce_mwi
        elif words == ["pjsip", "show", "contacts"]:
            out = self._cli_contacts()
        elif words[:2] == ["database", "show"] and len(words) <= 4:
            rows = self.model.db_tree(words[2] if len(words) > 2 else None, words[3] if len(words) > 3 else None)
            out = [f"{'/' + f + '/' + k:<50}: {v:<25}" for f, k, v in rows] + [f"{len(rows)} results found."]
        elif words == ["confbridge", "show", "profile", "bridges"]:
            out = ["--------- Bridge Profiles -----------", "default_bridge"]
        elif words == ["confbridge", "show", "profile", "users"]:
            out = ["--------- User Profiles -----------", "default_user"]
        if out is None:
            self._respond(s, req, "Error", [
                ("Message", "Command output follows"),
                ("Output", f"No such command '{cmd}' (type 'core show help {cmd}' for other possible commands)")])
            return
        self.ok(s, req, "Command output follows", [("Output", line) for line in out])
        if after is not None:
            after()

    def _cli_contacts(self) -> list[str]:
        lines = ["", "  Contact:  <Aor/ContactUri..............................> <Hash....> <Status> <RTT(ms)..>",
                 "=" * 90, ""]
        n = 0
        for ep in self.model.endpoints.values():
            reg = ep.registration if ep.registered else None
            if reg is None:
                continue
            n += 1
            lines.append(f"  Contact:  {ep.ext + '/' + reg.contact:<46} {reg.contact_hash[:10]} NonQual         nan")
        return [*lines, "", f"Objects found: {n}", ""]


RELOADABLE_MODULES = frozenset({
    "pbx_config.so", "app_voicemail.so", "app_queue.so", "res_pjsip.so", "app_confbridge.so",
    "chan_pjsip.so", "res_pjsip_notify.so", "cdr_manager.so", "cdr_csv.so", "res_musiconhold.so",
    "app_followme.so", "manager", "features", "res_features.so",
})

# The ListCommands answer of the recorded Asterisk 22.10.1 (fixture 19), in its order.
LIST_COMMANDS: tuple[tuple[str, str], ...] = (
    ('AbsoluteTimeout', 'Set absolute timeout.  (Priv: system,call,all)'),
    ('AGI', 'Add an AGI command to execute by Async AGI.  (Priv: agi,all)'),
    ('AOCMessage', 'Generate an Advice of Charge message on a channel.  (Priv: aoc,all)'),
    ('Atxfer', 'Attended transfer.  (Priv: call,all)'),
    ('BlindTransfer', 'Blind transfer channel(s) to the given destination  (Priv: call,all)'),
    ('Bridge', 'Bridge two channels already in the PBX.  (Priv: call,all)'),
    ('BridgeDestroy', 'Destroy a bridge.  (Priv: <none>)'),
    ('BridgeInfo', 'Get information about a bridge.  (Priv: <none>)'),
    ('BridgeKick', 'Kick a channel from a bridge.  (Priv: <none>)'),
    ('BridgeList', 'Get a list of bridges in the system.  (Priv: <none>)'),
    ('BridgeTechnologyList', 'List available bridging technologies and their statuses.  (Priv: <none>)'),
    ('BridgeTechnologySuspend', 'Suspend a bridging technology.  (Priv: <none>)'),
    ('BridgeTechnologyUnsuspend', 'Unsuspend a bridging technology.  (Priv: <none>)'),
    ('CancelAtxfer', 'Cancel an attended transfer.  (Priv: call,all)'),
    ('Challenge', 'Generate Challenge for MD5 Auth.  (Priv: <none>)'),
    ('Command', 'Execute Asterisk CLI Command.  (Priv: command,all)'),
    ('ConfbridgeKick', 'Kick a Confbridge user.  (Priv: call,all)'),
    ('ConfbridgeList', 'List participants in a conference.  (Priv: reporting,all)'),
    ('ConfbridgeListRooms', 'List active conferences.  (Priv: reporting,all)'),
    ('ConfbridgeLock', 'Lock a Confbridge conference.  (Priv: call,all)'),
    ('ConfbridgeMute', 'Mute a Confbridge user.  (Priv: call,all)'),
    ('ConfbridgeSetSingleVideoSrc', 'Set a conference user as the single video source distributed to all other participants.  (Priv: call,all)'),
    ('ConfbridgeStartRecord', 'Start recording a Confbridge conference.  (Priv: system,all)'),
    ('ConfbridgeStopRecord', 'Stop recording a Confbridge conference.  (Priv: system,all)'),
    ('ConfbridgeUnlock', 'Unlock a Confbridge conference.  (Priv: call,all)'),
    ('ConfbridgeUnmute', 'Unmute a Confbridge user.  (Priv: call,all)'),
    ('ControlPlayback', 'Control the playback of a file being played to a channel.  (Priv: call,all)'),
    ('CoreSettings', 'Show PBX core settings (version etc).  (Priv: system,reporting,all)'),
    ('CoreShowChannelMap', 'List all channels connected to the specified channel.  (Priv: system,reporting,all)'),
    ('CoreShowChannels', 'List currently active channels.  (Priv: system,reporting,all)'),
    ('CoreStatus', 'Show PBX core status variables.  (Priv: system,reporting,all)'),
    ('CreateConfig', 'Creates an empty file in the configuration directory.  (Priv: config,all)'),
    ('DBDel', 'Delete DB entry.  (Priv: system,all)'),
    ('DBDelTree', 'Delete DB Tree.  (Priv: system,all)'),
    ('DBGet', 'Get DB Entry.  (Priv: system,reporting,all)'),
    ('DBGetTree', 'Get DB entries, optionally at a particular family/key  (Priv: system,reporting,all)'),
    ('DBPut', 'Put DB entry.  (Priv: system,all)'),
    ('DeviceStateList', 'List the current known device states.  (Priv: call,reporting,all)'),
    ('DialplanExtensionAdd', 'Add an extension to the dialplan  (Priv: system,all)'),
    ('DialplanExtensionRemove', 'Remove an extension from the dialplan  (Priv: system,all)'),
    ('Events', 'Control Event Flow.  (Priv: <none>)'),
    ('ExtensionState', 'Check Extension Status.  (Priv: call,reporting,all)'),
    ('ExtensionStateList', 'List the current known extension states.  (Priv: call,reporting,all)'),
    ('Filter', 'Dynamically add filters for the current manager session.  (Priv: system,all)'),
    ('GetConfig', 'Retrieve configuration.  (Priv: system,config,all)'),
    ('GetConfigJSON', 'Retrieve configuration (JSON format).  (Priv: system,config,all)'),
    ('Getvar', 'Gets a channel variable or function value.  (Priv: call,reporting,all)'),
    ('Hangup', 'Hangup channel.  (Priv: system,call,all)'),
    ('ListCategories', 'List categories in configuration file.  (Priv: config,all)'),
    ('ListCommands', 'List available manager commands.  (Priv: <none>)'),
    ('LocalOptimizeAway', 'Optimize away a local channel when possible.  (Priv: system,call,all)'),
    ('LoggerRotate', 'Reload and rotate the Asterisk logger.  (Priv: system,reporting,all)'),
    ('Login', 'Login Manager.  (Priv: <none>)'),
    ('Logoff', 'Logoff Manager.  (Priv: <none>)'),
    ('MailboxCount', 'Check Mailbox Message Count.  (Priv: call,reporting,all)'),
    ('MailboxStatus', 'Check mailbox.  (Priv: call,reporting,all)'),
    ('MessageSend', 'Send an out of call message to an endpoint.  (Priv: message,all)'),
    ('MixMonitor', 'Record a call and mix the audio during the recording.  Use of StopMixMonitor is required to guarantee the audio file is available for processing during dialplan execution.  (Priv: system,all)'),
    ('MixMonitorMute', 'Mute / unMute a Mixmonitor recording.  (Priv: system,call,all)'),
    ('ModuleCheck', 'Check if module is loaded.  (Priv: system,all)'),
    ('ModuleLoad', 'Module management.  (Priv: system,all)'),
    ('MuteAudio', 'Mute an audio stream.  (Priv: system,all)'),
    ('Originate', 'Originate a call.  (Priv: originate,all)'),
    ('Park', 'Park a channel.  (Priv: call,all)'),
    ('ParkedCalls', 'List parked calls.  (Priv: call,all)'),
    ('Parkinglots', 'Get a list of parking lots  (Priv: call,all)'),
    ('Ping', 'Keepalive command.  (Priv: <none>)'),
    ('PJSIPHangup', 'Hangup an incoming PJSIP channel with a SIP response code  (Priv: system,call,all)'),
    ('PJSIPNotify', 'Send a NOTIFY to either an endpoint, an arbitrary URI, or inside a SIP dialog.  (Priv: system,all)'),
    ('PJSIPQualify', 'Qualify a chan_pjsip endpoint.  (Priv: system,reporting,all)'),
    ('PJSIPRegister', 'Register an outbound registration.  (Priv: system,reporting,all)'),
    ('PJSIPShowAors', 'Lists PJSIP AORs.  (Priv: system,all)'),
    ('PJSIPShowAuths', 'Lists PJSIP Auths.  (Priv: system,all)'),
    ('PJSIPShowContacts', 'Lists PJSIP Contacts.  (Priv: system,all)'),
    ('PJSIPShowEndpoint', 'Detail listing of an endpoint and its objects.  (Priv: system,all)'),
    ('PJSIPShowEndpoints', 'Lists PJSIP endpoints.  (Priv: system,all)'),
    ('PJSIPShowRegistrationInboundContactStatuses', 'Lists ContactStatuses for PJSIP inbound registrations.  (Priv: system,all)'),
    ('PJSIPShowRegistrationsInbound', 'Lists PJSIP inbound registrations.  (Priv: system,all)'),
    ('PJSIPShowRegistrationsOutbound', 'Lists PJSIP outbound registrations.  (Priv: system,reporting,all)'),
    ('PJSIPShowResourceLists', 'Displays settings for configured resource lists.  (Priv: system,all)'),
    ('PJSIPShowSubscriptionsInbound', 'Lists inbound subscriptions.  (Priv: system,all)'),
    ('PJSIPShowSubscriptionsOutbound', 'Lists outbound subscriptions.  (Priv: system,all)'),
    ('PJSIPUnregister', 'Unregister an outbound registration.  (Priv: system,reporting,all)'),
    ('PlayDTMF', 'Play DTMF signal on a specific channel.  (Priv: call,all)'),
    ('PresenceState', 'Check Presence State  (Priv: call,reporting,all)'),
    ('PresenceStateList', 'List the current known presence states.  (Priv: call,reporting,all)'),
    ('QueueAdd', 'Add interface to queue.  (Priv: agent,all)'),
    ('QueueChangePriorityCaller', 'Change priority of a caller on queue.  (Priv: <none>)'),
    ('QueueLog', 'Adds custom entry in queue_log.  (Priv: agent,all)'),
    ('QueueMemberRingInUse', 'Set the ringinuse value for a queue member.  (Priv: agent,all)'),
    ('QueuePause', 'Makes a queue member temporarily unavailable.  (Priv: agent,all)'),
    ('QueuePenalty', 'Set the penalty for a queue member.  (Priv: agent,all)'),
    ('QueueReload', 'Reload a queue, queues, or any sub-section of a queue or queues.  (Priv: <none>)'),
    ('QueueRemove', 'Remove interface from queue.  (Priv: agent,all)'),
    ('QueueReset', 'Reset queue statistics.  (Priv: <none>)'),
    ('QueueRule', 'Queue Rules.  (Priv: <none>)'),
    ('QueueStatus', 'Show queue status.  (Priv: <none>)'),
    ('QueueSummary', 'Show queue summary.  (Priv: <none>)'),
    ('QueueWithdrawCaller', 'Request to withdraw a caller from the queue back to the dialplan.  (Priv: <none>)'),
    ('Redirect', 'Redirect (transfer) a call.  (Priv: call,all)'),
    ('Reload', 'Send a reload event.  (Priv: system,config,all)'),
    ('SendFlash', 'Send a hook flash on a specific channel.  (Priv: call,all)'),
    ('SendText', 'Sends a text message to channel. A content type\tcan be optionally specified. If not set it is set to an empty string allowing a custom handler to default it as it sees fit.  (Priv: call,all)'),
    ('Setvar', 'Sets a channel variable or function value.  (Priv: call,all)'),
    ('ShowDialPlan', 'Show dialplan contexts and extensions  (Priv: config,reporting,all)'),
    ('SorceryMemoryCacheExpire', 'Expire (remove) ALL objects from a sorcery memory cache.  (Priv: system,all)'),
    ('SorceryMemoryCacheExpireObject', 'Expire (remove) an object from a sorcery memory cache.  (Priv: system,all)'),
    ('SorceryMemoryCachePopulate', 'Expire all objects from a memory cache and populate it with all objects from the backend.  (Priv: system,all)'),
    ('SorceryMemoryCacheStale', 'Marks ALL objects in a sorcery memory cache as stale.  (Priv: system,all)'),
    ('SorceryMemoryCacheStaleObject', 'Mark an object in a sorcery memory cache as stale.  (Priv: system,all)'),
    ('Status', 'List channel status.  (Priv: system,call,reporting,all)'),
    ('StopMixMonitor', "Stop recording a call through MixMonitor, and free the recording's file handle.  (Priv: system,call,all)"),
    ('UpdateConfig', 'Update basic configuration.  (Priv: config,all)'),
    ('UserEvent', 'Send an arbitrary event.  (Priv: user,all)'),
    ('VoicemailBoxSummary', 'Show the mailbox contents of given voicemail user.  (Priv: call,reporting,all)'),
    ('VoicemailForward', 'Forward Voicemail from one mailbox folder to another between given users.  (Priv: user,all)'),
    ('VoicemailMove', 'Move Voicemail between mailbox folders of given user.  (Priv: user,all)'),
    ('VoicemailRefresh', 'Tell Asterisk to poll mailboxes for a change  (Priv: user,all)'),
    ('VoicemailRemove', 'Remove Voicemail from mailbox folder.  (Priv: user,all)'),
    ('VoicemailUsersList', 'List All Voicemail User Information.  (Priv: call,reporting,all)'),
    ('VoicemailUserStatus', "Show the status of given voicemail user's info.  (Priv: call,reporting,all)"),
    ('WaitEvent', 'Wait for an event to occur.  (Priv: <none>)'),
)
# EndpointDetail of endpoint 101 as recorded (fixture 15); per-endpoint values are substituted.
ENDPOINTDETAIL: tuple[tuple[str, str], ...] = (
    ('ObjectType', 'endpoint'),
    ('ObjectName', '101'),
    ('RpidImmediate', 'false'),
    ('Webrtc', 'no'),
    ('Ignore183WithoutSdp', 'false'),
    ('SendAoc', 'false'),
    ('DeviceStateBusyAt', '0'),
    ('T38UdptlMaxdatagram', '0'),
    ('CodecPrefsIncomingAnswer', 'prefer:pending, operation:intersect, keep:all, transcode:allow'),
    ('SecurityNegotiation', 'no'),
    ('DtlsRekey', '0'),
    ('RtpPortEnd', '0'),
    ('NamedPickupGroup', ''),
    ('DirectMediaMethod', 'invite'),
    ('SendRpid', 'false'),
    ('PickupGroup', ''),
    ('SdpSession', 'Asterisk'),
    ('DtlsVerify', 'No'),
    ('MessageContext', 'messages'),
    ('Tenantid', ''),
    ('Mailboxes', '101@default'),
    ('RecordOnFeature', 'automixmon'),
    ('DtlsPrivateKey', ''),
    ('DtlsFingerprint', 'SHA-256'),
    ('OverlapContext', ''),
    ('OutgoingCallOfferPref', 'remote_merge'),
    ('RtpPortStart', '0'),
    ('FromDomain', ''),
    ('TimersSessExpires', '1800'),
    ('NamedCallGroup', ''),
    ('DtlsCipher', ''),
    ('MediaEncryptionOptimistic', 'false'),
    ('SuppressQ850ReasonHeaders', 'false'),
    ('Aors', '101'),
    ('IdentifyBy', 'username,ip'),
    ('CalleridPrivacy', 'allowed_not_screened'),
    ('MwiSubscribeReplacesUnsolicited', 'no'),
    ('CosAudio', '0'),
    ('FollowEarlyMediaFork', 'true'),
    ('Context', 'internal'),
    ('RtpSymmetric', 'true'),
    ('Transport', 'transport-udp'),
    ('MohSuggest', 'default'),
    ('T38Udptl', 'false'),
    ('FaxDetect', 'false'),
    ('T38BindUdptlToMediaAddress', 'false'),
    ('TosVideo', '0'),
    ('SrtpTag32', 'false'),
    ('ReferBlindProgress', 'true'),
    ('MaxAudioStreams', '1'),
    ('Bundle', 'false'),
    ('UseAvpf', 'false'),
    ('CallGroup', ''),
    ('SendConnectedLine', 'no'),
    ('FaxDetectTimeout', '0'),
    ('SdpOwner', '-'),
    ('ForceRport', 'true'),
    ('CalleridTag', ''),
    ('RtpTimeoutHold', '0'),
    ('SuppressMohOnSendonly', 'false'),
    ('UsePtime', 'false'),
    ('MediaAddress', ''),
    ('VoicemailExtension', ''),
    ('RtpTimeout', '0'),
    ('StirShaken', 'no'),
    ('SetVar', ''),
    ('ContactAcl', ''),
    ('PreferredCodecOnly', 'false'),
    ('GeolocOutgoingCallProfile', ''),
    ('ForceAvp', 'false'),
    ('RecordOffFeature', 'automixmon'),
    ('FromUser', ''),
    ('SendDiversion', 'true'),
    ('SendHistoryInfo', 'false'),
    ('T38UdptlIpv6', 'false'),
    ('ToneZone', ''),
    ('Language', ''),
    ('AllowSubscribe', 'true'),
    ('RtpIpv6', 'false'),
    ('Callerid', '"Bob Sales" <101>'),
    ('MohPassthrough', 'false'),
    ('CosVideo', '0'),
    ('DtlsAutoGenerateCert', 'No'),
    ('AsymmetricRtpCodec', 'false'),
    ('GeolocIncomingCallProfile', ''),
    ('IceSupport', 'false'),
    ('AggregateMwi', 'true'),
    ('OneTouchRecording', 'false'),
    ('MwiFromUser', ''),
    ('RedirectMethod', 'user'),
    ('Accountcode', ''),
    ('CodecPrefsOutgoingAnswer', 'prefer:pending, operation:intersect, keep:all, transcode:allow'),
    ('Allow', '(ulaw|alaw|gsm)'),
    ('RewriteContact', 'true'),
    ('UserEqPhone', 'false'),
    ('RtpEngine', 'asterisk'),
    ('FollowRedirectMethods', ''),
    ('SubscribeContext', ''),
    ('NotifyEarlyInuseRinging', 'false'),
    ('IncomingMwiMailbox', ''),
    ('IncomingCallOfferPref', 'local'),
    ('AllowUnauthenticatedOptions', 'false'),
    ('Auth', '101'),
    ('DirectMediaGlareMitigation', 'none'),
    ('TrustIdInbound', 'false'),
    ('StirShakenProfile', ''),
    ('BindRtpToMediaAddress', 'false'),
    ('DisableDirectMediaOnNat', 'false'),
    ('MediaEncryption', 'no'),
    ('MediaUseReceivedTransport', 'false'),
    ('AllowOverlap', 'true'),
    ('DtmfMode', 'rfc4733'),
    ('OutboundAuth', ''),
    ('TosAudio', '0'),
    ('DtlsCertFile', ''),
    ('DtlsCaPath', ''),
    ('DtlsSetup', 'active'),
    ('ConnectedLineMethod', 'invite'),
    ('G726NonStandard', 'false'),
    ('100rel', 'yes'),
    ('Timers', 'yes'),
    ('DirectMedia', 'false'),
    ('Acl', ''),
    ('TimersMinSe', '90'),
    ('TrustIdOutbound', 'false'),
    ('SubMinExpiry', '0'),
    ('RtcpMux', 'false'),
    ('MaxVideoStreams', '1'),
    ('AcceptMultipleSdpAnswers', 'false'),
    ('CodecPrefsIncomingOffer', 'prefer:pending, operation:intersect, keep:all, transcode:allow'),
    ('CodecPrefsOutgoingOffer', 'prefer:pending, operation:union, keep:all, transcode:allow'),
    ('TrustConnectedLine', 'yes'),
    ('SendPai', 'true'),
    ('RtpKeepalive', '0'),
    ('T38UdptlEc', 'none'),
    ('T38UdptlNat', 'false'),
    ('AllowTransfer', 'true'),
    ('DtlsCaFile', ''),
    ('OutboundProxy', ''),
    ('InbandProgress', 'false'),
    ('DeviceState', 'Not in use'),
    ('ActiveChannels', '0'),
)
# AuthDetail of endpoint 101 as recorded (fixture 15); per-endpoint values are substituted.
AUTHDETAIL: tuple[tuple[str, str], ...] = (
    ('ObjectType', 'auth'),
    ('ObjectName', '101'),
    ('OauthSecret', ''),
    ('PasswordDigest', ''),
    ('SupportedAlgorithmsUas', 'MD5'),
    ('RefreshToken', ''),
    ('Username', '101'),
    ('Md5Cred', ''),
    ('Realm', ''),
    ('AuthType', 'userpass'),
    ('Password', 'pw101'),
    ('SupportedAlgorithmsUac', 'MD5'),
    ('NonceLifetime', '32'),
    ('OauthClientid', ''),
    ('EndpointName', '101'),
)
# TransportDetail of endpoint 101 as recorded (fixture 15); per-endpoint values are substituted.
TRANSPORTDETAIL: tuple[tuple[str, str], ...] = (
    ('ObjectType', 'transport'),
    ('ObjectName', 'transport-udp'),
    ('WebsocketWriteTimeout', '100'),
    ('Cos', '0'),
    ('TcpKeepaliveEnable', 'false'),
    ('Protocol', 'udp'),
    ('SymmetricTransport', 'false'),
    ('Domain', ''),
    ('VerifyServer', 'No'),
    ('LocalNet', ''),
    ('Bind', '127.0.0.1:5060'),
    ('AllowWildcardCerts', 'No'),
    ('TcpKeepaliveIntervalTime', '1'),
    ('AsyncOperations', '1'),
    ('ExternalMediaAddress', ''),
    ('Method', 'unspecified'),
    ('ExternalSignalingAddress', ''),
    ('RequireClientCert', 'No'),
    ('TcpKeepaliveIdleTime', '30'),
    ('Tos', '0'),
    ('CaListPath', ''),
    ('Cipher', ''),
    ('CertFile', ''),
    ('ExternalSignalingPort', '0'),
    ('Password', ''),
    ('AllowReload', 'false'),
    ('VerifyClient', 'No'),
    ('TcpKeepaliveProbeCount', '5'),
    ('PrivKeyFile', ''),
    ('CaListFile', ''),
    ('EndpointName', '101'),
)
# AorDetail of endpoint 101 as recorded (fixture 15); per-endpoint values are substituted.
AORDETAIL: tuple[tuple[str, str], ...] = (
    ('ObjectType', 'aor'),
    ('ObjectName', '101'),
    ('MinimumExpiration', '60'),
    ('DefaultExpiration', '3600'),
    ('QualifyTimeout', '3.000000'),
    ('Qualify2xxOnly', 'false'),
    ('Mailboxes', ''),
    ('SupportPath', 'false'),
    ('RemoveUnavailable', 'false'),
    ('VoicemailExtension', ''),
    ('MaxContacts', '1'),
    ('AuthenticateQualify', 'false'),
    ('Contacts', '101/sip:101@127.0.0.1:5071'),
    ('MaximumExpiration', '7200'),
    ('QualifyFrequency', '0'),
    ('RemoveExisting', 'true'),
    ('OutboundProxy', ''),
    ('TotalContacts', '1'),
    ('ContactsRegistered', '1'),
    ('EndpointName', '101'),
)
