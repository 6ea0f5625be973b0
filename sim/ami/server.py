"""The AMI listener: connections, login, dispatch of an action to its handler (the handlers live in
actions/, one module per area), event delivery and fault injection."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, tzinfo
from pathlib import Path

from clusterpbx.sim import model as M
from clusterpbx.sim.lab import AMI_SECRET, AMI_USER, PJSIP_NOTIFY_TYPES

from .actions.astdb import AstDbActions
from .actions.channels import ChannelActions
from .actions.cli import CliActions
from .actions.conferences import ConferenceActions
from .actions.pjsip import PjsipActions
from .actions.queues import QueueActions
from .actions.session import SessionActions
from .actions.voicemail import VoicemailActions
from .translate import translate
from .wire import BANNER, EVENT_CLASSES, Pairs, Request, Session, _event_tv, _fmt, _ts

log = logging.getLogger(__name__)


class AmiServer(SessionActions, ChannelActions, QueueActions, ConferenceActions, AstDbActions, VoicemailActions,
                PjsipActions, CliActions):
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
