"""The FreeSWITCH connection: greenswitch's InboundESL (subclassed to neutralise the 0.0.19 defects) on
one dedicated thread that owns the gevent hub, with a connection manager that logs in, restores the
event subscription and reconnects with capped back-off.

greenswitch needs gevent and fails with LoopExit when called from an ordinary thread, while the port's
methods run on the daemon's asyncio loop. So ``GeventThread`` runs a hub in its own thread; other
threads hand it work with ``hub.loop.run_callback_threadsafe`` and wait on a concurrent.futures.Future.
Nothing is monkey-patched. Events read on the gevent thread go to the asyncio loop through
``loop.call_soon_threadsafe`` (done by the caller's ``on_event``).

Defects of greenswitch 0.0.19 neutralised in ``SafeInboundESL`` (each has a test in tests/esl):

* no reconnect: ``EslConnection`` reconnects after a disconnect notice, a closed socket or SHUTDOWN;
* no timeout on ``send()``: every command (its write included: a peer that stops reading blocks
  sendall) waits at most its timeout, and commands in flight fail with PbxUnreachable the moment the
  connection is lost; a quiet session is pinged, so a hung FreeSWITCH is noticed;
* a newline inside a command injects a second command whose extra reply kills the reader: refused
  with InvalidValue before any byte is sent, and an unexpected reply is logged, never fatal;
* the plain-event parser URL-decodes before splitting lines (encoded %0A forges headers) and glues an
  event's body onto a header: frames and events are parsed by esl.protocol instead;
* a frame without Content-Type, a bad Content-Length or a socket closed in the middle of a body
  kill (or spin) greenswitch's reader: here they end the connection cleanly, and it is re-opened.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch.esl import InboundESL

from clusterpbx.control.port import PbxError, PbxRefused, PbxTimeout, PbxUnreachable

from . import validate
from .protocol import EslEvent, Frame, FrameParser, ProtocolError, event_from_frame

log = logging.getLogger(__name__)
T = TypeVar("T")

# Subscribed after every login. CUSTOM must come last: every word after it is a subclass.
DEFAULT_EVENTS: tuple[str, ...] = (
    "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER", "CHANNEL_BRIDGE",
    "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB", "HEARTBEAT", "SHUTDOWN",
    "CUSTOM", "sofia::register", "sofia::unregister", "sofia::expire", "callcenter::info",
    "conference::maintenance", "vm::maintenance", "cpbx::feature",
)


@dataclass
class Reply:
    """A command/reply or api/response: its headers and body text."""

    headers: dict[str, str]
    body: str = ""

    @property
    def text(self) -> str:
        """What FreeSWITCH said: Reply-Text for a command, the body for an api command."""
        return self.body if "Reply-Text" not in self.headers else self.headers["Reply-Text"]


class GeventThread:
    """One thread running a gevent hub; ``submit`` runs a function in a new greenlet there."""

    def __init__(self, name: str = "esl-gevent") -> None:
        self.name = name
        self.hub: Any = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._stop: gevent.event.Event | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.alive:
            return
        self._started.clear()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        if not self._started.wait(5):
            raise PbxUnreachable("the gevent thread did not start")

    def _main(self) -> None:
        hub = gevent.get_hub()
        # The threadsafe-callback watcher does not keep the loop alive on its own: without a referenced
        # watcher, waiting here would end in LoopExit while nothing else is scheduled.
        keepalive = hub.loop.async_()
        keepalive.start(lambda: None)
        self._stop = gevent.event.Event()
        self.hub = hub
        self._started.set()
        try:
            self._stop.wait()
        finally:
            keepalive.stop()
            keepalive.close()
            self.hub = None
            hub.destroy(destroy_loop=True)

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Run fn(*args) in a greenlet of the gevent thread; its result or exception lands in the future."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()
        hub = self.hub
        if hub is None:
            fut.set_exception(PbxUnreachable("the adapter is not started"))
            return fut

        def run() -> None:
            if not fut.set_running_or_notify_cancel():
                return
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the waiting thread
                fut.set_exception(exc)

        try:
            hub.loop.run_callback_threadsafe(gevent.spawn, run)
        except Exception as exc:  # the hub is being destroyed (stop raced with this call)
            fut.set_exception(PbxUnreachable(f"the adapter is stopping: {exc}"))
        return fut

    def stop(self, timeout: float = 5.0) -> None:
        hub, stop = self.hub, self._stop
        if hub is not None and stop is not None:
            with contextlib.suppress(Exception):
                hub.loop.run_callback_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


class SafeInboundESL(InboundESL):
    """greenswitch's inbound connection with strict framing, timeouts and fail-fast on disconnect.

    Runs only on the gevent thread. ``on_event`` receives parsed events (from the reader greenlet);
    ``on_closed`` the reason, once, when the connection ends for whatever cause.
    """

    def __init__(self, host: str, port: int, password: str, timeout: float,
                 on_event: Callable[[EslEvent], None], on_closed: Callable[[str], None] | None = None) -> None:
        super().__init__(host, port, password, timeout=timeout)
        self._commands_sent: list[gevent.event.AsyncResult] = []  # reply slots, in the order sent
        self._on_event = on_event
        self._on_closed = on_closed
        self._send_lock = gevent.lock.Semaphore()
        self.closed = gevent.event.Event()
        self.close_reason = ""
        self._held: list[EslEvent] | None = []  # events held until the manager has announced the session
        self.sock: Any = None
        self.sock_file: Any = None
        self.last_received = time.monotonic()
        self.unexpected_replies = 0

    # ---------------------------------------------------------------- connect and login

    def connect(self) -> None:
        """TCP connect, wait for auth/request and authenticate, all within the timeout."""
        try:
            self.sock = gevent.socket.create_connection((self.host, self.port), timeout=self.timeout)
        except TimeoutError:
            raise PbxTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            raise PbxUnreachable(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        self.sock.settimeout(None)
        self.connected = True
        self._run = True
        self._receive_events_greenlet = gevent.spawn(self.receive_events)
        if not self._auth_request_event.wait(self.timeout):
            self.abort("no auth/request")
            raise PbxTimeout("FreeSWITCH sent no auth/request")
        if not self.connected:
            raise PbxUnreachable(f"connection closed before login: {self.close_reason}")
        self.authenticate()

    def authenticate(self) -> None:
        password = validate.command_line(self.password, "secret")
        reply = self.send(f"auth {password}")
        if reply.headers.get("Reply-Text") != "+OK accepted":
            self.abort("authentication failed")
            raise PbxRefused(f"authentication failed: {reply.headers.get('Reply-Text', '')}")

    # ---------------------------------------------------------------- reading

    def receive_events(self) -> None:
        parser = FrameParser()
        reason = "connection closed by FreeSWITCH"
        try:
            while self._run:
                data = self.sock.recv(65536)
                if not data:
                    break
                self.last_received = time.monotonic()
                for frame in parser.feed(data):
                    stop = self._handle_frame(frame)
                    if stop:
                        reason = stop
                        return
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.warning("ESL %s:%s: %s", self.host, self.port, reason)
        except OSError as exc:
            reason = f"socket error: {exc}"
        finally:
            self.abort(reason)

    def _handle_frame(self, frame: Frame) -> str | None:
        """Dispatch one frame; a non-empty return ends the connection with that reason."""
        ctype = frame.content_type
        if ctype == "auth/request":
            self._auth_request_event.set()
        elif ctype in ("command/reply", "api/response"):
            reply = Reply(frame.headers, frame.body.decode("utf-8", "replace"))
            if not self._commands_sent:
                # greenswitch pops an empty list here and its reader dies (IndexError): log and go on
                self.unexpected_replies += 1
                log.warning("ESL: unexpected reply %r", reply.text[:80])
            else:
                self._commands_sent.pop(0).set(reply)
        elif ctype == "text/disconnect-notice":
            if frame.headers.get("Content-Disposition") == "linger":
                self._lingering = True
                return None
            return "disconnect notice: " + frame.body.decode("utf-8", "replace").strip().split("\n")[0]
        elif ctype == "text/rude-rejection":
            return "rejected: " + frame.body.decode("utf-8", "replace").strip()
        elif ctype in ("text/event-plain", "text/event-json"):
            event = event_from_frame(frame)
            if event is not None:
                self._deliver(event)
                if event.name == "SHUTDOWN":
                    # FreeSWITCH is going away: do not wait for the socket to close to start reconnecting
                    return "FreeSWITCH is shutting down"
        elif ctype in ("log/data", "text/event-xml"):
            pass  # never asked for
        elif not ctype:
            raise ProtocolError(f"frame without Content-Type: {sorted(frame.headers)[:5]}")
        else:
            log.debug("ESL: ignoring %s frame", ctype)
        return None

    def _deliver(self, event: EslEvent) -> None:
        if self._held is not None:
            self._held.append(event)
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("ESL event handler failed on %s", event.name)

    def release_events(self) -> None:
        """Deliver the events held since login, then every later one as it comes."""
        held, self._held = self._held or [], None
        for event in held:
            self._deliver(event)

    # ---------------------------------------------------------------- commands

    def send(self, data: str, timeout: float | None = None,
             headers: Sequence[tuple[str, str]] = ()) -> Reply:
        """One command and its reply, within ``timeout`` (PbxTimeout). The command must be one line:
        InvalidValue otherwise, before anything is written."""
        validate.command_line(data)
        extra = "".join(f"{k}: {v}\n" for k, v in (validate.header(k, v) for k, v in headers))
        if not self.connected or self.sock is None:
            raise PbxUnreachable(f"not connected: {self.close_reason or 'not logged in'}")
        limit = timeout if timeout is not None else self.timeout
        words = data.split(" ", 2)
        # named in errors and logs: the api command, never an argument (auth carries the password)
        what = " ".join(words[:2]) if words[0] in ("api", "bgapi") else words[0]
        deadline = time.monotonic() + limit
        result: gevent.event.AsyncResult = gevent.event.AsyncResult()
        # a peer that stopped reading fills the socket buffer and blocks sendall: bound the write too
        timer = gevent.Timeout(limit)
        timer.start()
        try:
            with self._send_lock:
                # the reply slot and the bytes go together so that replies (strictly in order) match
                self._commands_sent.append(result)
                self.sock.sendall(f"{data}\n{extra}\n".encode())
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            # a command may be half written: nothing after it could be framed reliably
            self.abort(f"could not write '{what}' within {limit}s")
            raise PbxTimeout(f"could not send '{what}' within {limit}s") from None
        except OSError as exc:
            self.abort(f"socket error: {exc}")
        finally:
            timer.close()
        try:
            # a timed-out slot stays in the list: the late reply still lands in it, keeping the order
            reply: Reply = result.get(timeout=max(0.0, deadline - time.monotonic()))
            return reply
        except gevent.Timeout:
            raise PbxTimeout(f"no answer to '{what}' within {limit}s") from None

    # ---------------------------------------------------------------- closing

    def abort(self, reason: str) -> None:
        """End the connection now: fail every command in flight, close the socket, report once."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.connected = False
        self._run = False
        pending, self._commands_sent = self._commands_sent, []
        for result in pending:
            result.set_exception(PbxUnreachable(f"connection lost: {reason}"))
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self._auth_request_event.set()
        self.closed.set()
        if self._on_closed is not None:
            try:
                self._on_closed(reason)
            except Exception:
                log.exception("ESL on_closed handler failed")

    def stop(self) -> None:
        if self.connected:
            with contextlib.suppress(PbxError):
                self.send("exit", timeout=1.0)
        self.abort("stopped")
        glet = self._receive_events_greenlet
        if glet is not None and glet is not gevent.getcurrent():
            glet.join(1.0)


@dataclass
class ConnectionSettings:
    host: str
    port: int
    password: str
    timeout: float = 5.0  # connect, login and every command
    ping_interval: float = 20.0
    backoff_initial: float = 0.2
    backoff_max: float = 30.0
    events: tuple[str, ...] = DEFAULT_EVENTS
    event_format: str = "plain"  # or "json"
    extra_subscriptions: list[str] = field(default_factory=list)


class EslConnection:
    """Keeps one logged-in SafeInboundESL alive on a GeventThread.

    ``on_event(event)`` and ``on_state(up, reason)`` are called on the gevent thread, in order; the adapter
    forwards them to its asyncio loop. An attempt that fails is retried after a back-off doubling from
    ``backoff_initial`` to ``backoff_max``; a session that ends is re-opened after ``backoff_initial``.
    """

    def __init__(self, settings: ConnectionSettings, on_event: Callable[[EslEvent], None],
                 on_state: Callable[[bool, str], None]) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_state = on_state
        self.thread = GeventThread()
        self.conn: SafeInboundESL | None = None
        self.sessions = 0  # logins so far (tests, health)
        self.attempts = 0  # connection attempts so far
        self.last_error = ""
        self._stopping = False
        self._wake: gevent.event.Event | None = None
        self._manager: Any = None
        self._first: concurrent.futures.Future[None] | None = None

    @property
    def connected(self) -> bool:
        conn = self.conn
        return conn is not None and conn.connected

    # ---------------------------------------------------------------- lifecycle (any thread)

    def start(self) -> concurrent.futures.Future[None]:
        """Start the thread and the manager; the future resolves after the first login attempt
        (with its error if it failed: the manager keeps trying in the background)."""
        self._stopping = False
        self.thread.start()
        first: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._first = first  # the manager may settle (and forget) it before submit() returns
        self.thread.submit(self._start_manager).result(5)
        return first

    def _start_manager(self) -> None:
        self._wake = gevent.event.Event()
        self._manager = gevent.spawn(self._manage)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        if self.thread.alive:
            with contextlib.suppress(Exception):
                self.thread.submit(self._stop_in_hub).result(timeout)
        self.thread.stop(timeout)

    def _stop_in_hub(self) -> None:
        if self._wake is not None:
            self._wake.set()
        conn = self.conn
        if conn is not None:
            conn.stop()
        if self._manager is not None:
            self._manager.join(2.0)
            self._manager.kill(block=False)

    # ---------------------------------------------------------------- commands (any thread)

    def submit(self, command: str, timeout: float | None = None,
               headers: Sequence[tuple[str, str]] = ()) -> concurrent.futures.Future[Reply]:
        # refused here, in the caller's thread, so that nothing at all is queued for a bad command
        validate.command_line(command)
        for k, v in headers:
            validate.header(k, v)
        return self.thread.submit(self._send, command, timeout, tuple(headers))

    def _send(self, command: str, timeout: float | None, headers: Sequence[tuple[str, str]]) -> Reply:
        conn = self.conn
        if conn is None or not conn.connected:
            raise PbxUnreachable(f"not connected to FreeSWITCH: {self.last_error or 'connecting'}")
        return conn.send(command, timeout=timeout, headers=headers)

    def call(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run fn on the gevent thread (tests, fault hooks)."""
        return self.thread.submit(fn)

    # ---------------------------------------------------------------- the manager greenlet

    def _subscription(self) -> str:
        s = self.settings
        fmt = "json" if s.event_format == "json" else "plain"
        return f"event {fmt} " + " ".join(list(s.events) + list(s.extra_subscriptions))

    def _settle_first(self, error: BaseException | None) -> None:
        first, self._first = self._first, None
        if first is not None and not first.done():
            if error is None:
                first.set_result(None)
            else:
                first.set_exception(error)

    def _sleep(self, seconds: float) -> None:
        if self._wake is not None:
            self._wake.wait(seconds)

    def _manage(self) -> None:
        s = self.settings
        delay = s.backoff_initial
        while not self._stopping:
            conn = SafeInboundESL(s.host, s.port, s.password, s.timeout, self._on_event)
            self.attempts += 1
            try:
                conn.connect()
                reply = conn.send(self._subscription())
                if not reply.text.startswith("+OK"):
                    raise PbxRefused(f"event subscription refused: {reply.text}")
            except (PbxError, OSError) as exc:
                conn.abort(str(exc))
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.info("ESL %s:%s: %s; retrying in %.1fs", s.host, s.port, self.last_error, delay)
                self._settle_first(exc if isinstance(exc, PbxError) else PbxUnreachable(str(exc)))
                self._sleep(delay)
                delay = min(delay * 2, s.backoff_max)
                continue
            if self._stopping:
                conn.stop()
                break
            self.conn = conn
            self.sessions += 1
            self.last_error = ""
            delay = s.backoff_initial
            self._on_state(True, "")
            conn.release_events()
            self._settle_first(None)
            self._supervise(conn)
            self.conn = None
            self.last_error = conn.close_reason
            if self._stopping:
                break
            self._on_state(False, conn.close_reason)
            log.info("ESL %s:%s lost: %s", s.host, s.port, conn.close_reason)
            self._sleep(delay)
        self._settle_first(PbxUnreachable("stopped"))

    def _supervise(self, conn: SafeInboundESL) -> None:
        """Wait for the session to end; ping when it has been quiet, so a peer that vanished without
        closing the socket (or a hung FreeSWITCH) is noticed."""
        interval = self.settings.ping_interval
        while not conn.closed.wait(interval):
            if self._stopping:
                return
            if time.monotonic() - conn.last_received < interval:
                continue
            try:
                conn.send("api uptime s", timeout=self.settings.timeout)
            except PbxTimeout:
                conn.abort("no answer to the keep-alive")
            except PbxError:
                pass
