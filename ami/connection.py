"""The AMI connection manager: connects, awaits the Login answer, keeps one session alive with its own
ping, reconnects with capped exponential back-off, and gives every action a timeout and typed errors.

Choices: an action in flight when the link drops fails at once with PbxUnreachable and is never
re-sent (it may already have run; the caller or the daemon's desired-state loop retries). Actions sent
while disconnected fail at once too. After every login ``on_state(True, ...)`` fires, so the adapter
re-snapshots; a FullyBooted that is not the one answering our own Login (Asterisk finished booting
under a live session) fires it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from panoramisk.message import Message

from clusterpbx.control.port import PbxError, PbxRefused, PbxTimeout, PbxUnreachable

from .protocol import SafeAction, SafeAMIProtocol, SafeManager

log = logging.getLogger(__name__)

Headers = dict[str, "str | list[str]"]


@dataclass
class ConnectionSettings:
    host: str
    port: int
    username: str
    secret: str
    timeout: float = 5.0  # every action, the connect and the login
    ping_interval: float = 20.0
    ping_timeout: float | None = None  # default: timeout
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # Event classes asked for at login: what docs/operators.md grants. `security` carries PJSIP's
    # SuccessfulAuth (a phone's real source address); its flood of other security events is cut by the
    # whitelist filter below, as are dialplan events.
    events: str = "system,call,agent,user,cdr,security"
    # Event names this session needs; sent as one whitelist `Filter` after login so Asterisk does not
    # even write the rest (VarSet, Newexten, RTCP... are most of a call's stream). Empty: everything.
    event_names: tuple[str, ...] = ()
    # Event names passed to on_event; the others are dropped on their first line, unread (with or
    # without the Filter above: a PBX that refused it, or `event_filter: off`). Empty: every event.
    dispatch_events: tuple[str, ...] = ()


def event_filter(names: tuple[str, ...]) -> str:
    """The whitelist `Filter` for these event names. Asterisk (main/manager.c match_eventdata) runs it
    as a POSIX extended regex over the whole event text, which starts "Event: Name\r\n": anchored at the
    start and closed by the line's CR, so neither a header further down (a caller name "x Event: Cdr")
    nor a longer name (HangupRequest for Hangup) matches. POSIX has no \\r: [[:cntrl:]] is the CR."""
    return "^Event: (" + "|".join(names) + ")[[:cntrl:]]"


class AmiConnection:
    """One AMI session at a time; ``start()`` returns once logged in (or raises), then keeps it up."""

    def __init__(self, settings: ConnectionSettings, on_event: Callable[[Message], None],
                 on_state: Callable[[bool, str], None]) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_state = on_state
        self.manager: SafeManager | None = None
        self.protocol: SafeAMIProtocol | None = None
        self._logged_in = False
        self._stopping = False
        self._supervisor: asyncio.Task[None] | None = None
        self._pinger: asyncio.Task[None] | None = None
        self._lost: asyncio.Event | None = None
        self._first: asyncio.Future[None] | None = None
        self._booted_seen = False
        self.sessions = 0  # logins so far, for tests and health

    # ---------------------------------------------------------------- lifecycle

    @property
    def connected(self) -> bool:
        return self._logged_in and self.protocol is not None and not self.protocol.closed

    async def start(self) -> None:
        """Log in once (raising PbxRefused / PbxUnreachable / PbxTimeout), then supervise in the
        background; when the first attempt fails the background loop keeps trying."""
        if self._supervisor is not None:
            return
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._first = loop.create_future()
        self._supervisor = asyncio.ensure_future(self._supervise())
        await asyncio.shield(self._first)

    async def stop(self) -> None:
        self._stopping = True
        task, self._supervisor = self._supervisor, None
        if self.protocol is not None and not self.protocol.closed and self._logged_in:
            with contextlib.suppress(Exception):
                # A polite Logoff, without waiting long for the Goodbye.
                await self.send({"Action": "Logoff"}, timeout=min(1.0, self.settings.timeout))
        self._close_session("stopped")
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _supervise(self) -> None:
        delay = self.settings.backoff_initial
        while not self._stopping:
            try:
                await self._open_session()
            except Exception as exc:
                # Anything else (an invalid secret refused before sending, a bad port) is a refusal too:
                # start() must never hang on a supervisor that died.
                error = exc if isinstance(exc, PbxError) else PbxRefused(f"cannot log in to the PBX: {exc}")
                log.warning("AMI %s:%s: %s; retrying in %.1fs", self.settings.host, self.settings.port, error, delay)
                if self._first is not None and not self._first.done():
                    self._first.set_exception(error)
                    self._first.exception()  # retrieved here so an unawaited start() logs nothing
            else:
                delay = self.settings.backoff_initial
                if self._first is not None and not self._first.done():
                    self._first.set_result(None)
                self._notify(True, "logged in")
                assert self._lost is not None
                await self._lost.wait()
                self._notify(False, self._lost_reason)
                if self._stopping:
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.backoff_max)

    def _notify(self, up: bool, reason: str) -> None:
        try:
            self._on_state(up, reason)
        except Exception:
            log.exception("AMI state callback failed")

    # ---------------------------------------------------------------- one session

    async def _open_session(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._booted_seen = False
        manager = SafeManager(self._connection_lost, loop=loop, host=s.host, port=s.port, events=s.events)
        manager.register_event("*", self._dispatch)
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(SafeAMIProtocol, s.host, s.port), s.timeout)
        except (TimeoutError, OSError) as exc:
            raise PbxUnreachable(f"cannot connect to {s.host}:{s.port}: {exc or 'timeout'}") from exc
        assert isinstance(protocol, SafeAMIProtocol)
        protocol.factory = manager
        protocol.log = log
        protocol.encoding = manager.encoding = "utf-8"
        protocol.config = manager.config
        protocol.wanted_events = frozenset(n.lower() for n in s.dispatch_events) or None
        manager.protocol = protocol
        manager.responses = protocol.responses
        manager._connected = True
        self.manager, self.protocol = manager, protocol
        try:
            login = await self._request({"Action": "Login", "Username": s.username, "Secret": s.secret,
                                         "Events": s.events}, False, s.timeout)
        except BaseException:
            self._close_session("login failed")
            raise
        if login.get("response") != "Success":
            self._close_session("login refused")
            message = login.get("message") or "login refused"
            raise PbxRefused(f"AMI login refused: {message}")
        if s.event_names:
            pattern = event_filter(s.event_names)
            answer = await self._request({"Action": "Filter", "Operation": "Add", "Filter": pattern}, False,
                                         s.timeout)
            if answer.get("response") != "Success":
                log.warning("AMI Filter refused (%s); receiving the whole event stream", answer.get("message"))
        self._logged_in = True
        self.sessions += 1
        self._pinger = asyncio.ensure_future(self._ping_loop(protocol))

    def _connection_lost(self, exc: Any) -> None:
        self._logged_in = False
        if self._pinger is not None and self._pinger is not asyncio.current_task():
            self._pinger.cancel()
        self._pinger = None
        if self._lost is not None and not self._lost.is_set():
            if isinstance(exc, Message):
                self._lost_reason = "PBX shut down" + (" (restart)" if exc.get("restart") == "True" else "")
            else:
                self._lost_reason = str(exc) if exc else "connection closed"
            self._lost.set()

    def _close_session(self, reason: str) -> None:
        protocol = self.protocol
        if protocol is not None and not protocol.closed:
            protocol.close()
        # close() alone may not report: asyncio calls connection_lost later; report now.
        if protocol is not None:
            protocol._report_lost(PbxUnreachable(reason))
        self._logged_in = False

    async def _ping_loop(self, protocol: SafeAMIProtocol) -> None:
        """AMI Ping with a timeout: a server that stopped answering is dropped and reconnected."""
        s = self.settings
        timeout = s.ping_timeout or s.timeout
        while not protocol.closed:
            await asyncio.sleep(s.ping_interval)
            try:
                await self._request({"Action": "Ping"}, False, timeout, protocol=protocol)
            except PbxTimeout:
                log.warning("AMI %s:%s did not answer a ping within %.1fs; reconnecting", s.host, s.port, timeout)
                protocol.abort()
                return
            except PbxUnreachable:
                return

    def _dispatch(self, manager: SafeManager, event: Message) -> None:
        if event.get("event") == "FullyBooted":
            # The first FullyBooted answers our Login; a later one means Asterisk (re)booted under us.
            first, self._booted_seen = not self._booted_seen, True
            if not first and self._logged_in:
                self._notify(True, "PBX fully booted")
        self._on_event(event)

    # ---------------------------------------------------------------- actions

    async def send(self, headers: Headers, *, as_list: bool = False, timeout: float | None = None) -> Any:
        """One action; returns its Message (or the list of Messages for a list action).
        Raises PbxUnreachable when not logged in or when the link drops, PbxTimeout after ``timeout``.
        Error answers are returned as they are (the caller knows which errors are benign)."""
        if not self.connected:
            raise PbxUnreachable("not connected to the PBX")
        return await self._request(headers, as_list, timeout or self.settings.timeout)

    async def _request(self, headers: Headers, as_list: bool, timeout: float,
                       protocol: SafeAMIProtocol | None = None) -> Any:
        protocol = protocol or self.protocol
        if protocol is None or protocol.closed:
            raise PbxUnreachable("not connected to the PBX")
        action = SafeAction(dict(headers), as_list=as_list)
        future = protocol.send(action, as_list=as_list)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            # Forget it, so a late answer does not resolve a future nobody awaits.
            protocol.responses.pop(action.id, None)
            if not future.done():
                future.cancel()
            raise PbxTimeout(f"{headers.get('Action')}: no answer within {timeout:.1f}s") from None
