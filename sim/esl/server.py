"""The sim's FreeSWITCH event socket (inbound ESL) server: speaks mod_event_socket of FreeSWITCH 1.10.12 on loopback.

Framing, auth, event subscriptions and filters follow mod_event_socket.c; api commands live in api.py and the
translation of model change notifications into FreeSWITCH events in translate.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .api import EslApi
from .events import EVENT_NAMES, EventFactory, FsEvent, event_name_ok, new_uuid
from .translate import ModelTranslator

DISCONNECT_BYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
DISCONNECT_SHUTDOWN = b"The system is being shut down.\n"

# switch_log.c level names, indexed by their number
LOG_LEVELS = ("CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG")


def log_level(word: str) -> int | None:
    """switch_log_str2level: a number 0-7 or a level name; None when invalid."""
    if word.isdigit():
        n = int(word)
        return n if 0 <= n <= 7 else None
    up = word.upper()
    aliases = {"ERROR": "ERR", "WARN": "WARNING", "EMERG": "CONSOLE"}
    up = aliases.get(up, up)
    return LOG_LEVELS.index(up) if up in LOG_LEVELS else None


@dataclass
class _Filter:
    header: str
    value: str


@dataclass(eq=False)
class Session:
    """One ESL connection (a listener_t in mod_event_socket)."""

    server: EslServer
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    authed: bool = False
    events_on: bool = False
    fmt: str = "plain"
    event_list: set[str] = field(default_factory=set)
    custom_subs: set[str] = field(default_factory=set)
    filters: list[_Filter] = field(default_factory=list)
    log_level: int | None = None
    closed: bool = False
    _out: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)

    # -- output: one writer task per session keeps replies and events in order and lets stall() hold them

    def send(self, data: bytes) -> None:
        if not self.closed:
            self._out.put_nowait(data)

    def close_after_flush(self) -> None:
        if not self.closed:
            self._out.put_nowait(None)

    async def writer_loop(self) -> None:
        try:
            while True:
                data = await self._out.get()
                await self.server.wait_unstalled()
                if data is None or self.closed:
                    break
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.abort(graceful=True)

    def abort(self, graceful: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self._out.put_nowait(None)  # wakes the writer task so that it ends
        with contextlib.suppress(Exception):
            if graceful:
                self.writer.close()
            else:
                self.writer.transport.abort()
        self.server.sessions.discard(self)

    # -- replies

    def reply(self, text: str) -> None:
        self.send(f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode())

    def api_response(self, body: str) -> None:
        data = body.encode("utf-8")
        self.send(f"Content-Type: api/response\nContent-Length: {len(data)}\n\n".encode() + data)

    def disconnect_notice(self, text: bytes) -> None:
        self.send(f"Content-Type: text/disconnect-notice\nContent-Length: {len(text)}\n\n".encode() + text)

    # -- event delivery (event_handler in mod_event_socket.c)

    def wants(self, ev: FsEvent) -> bool:
        if not self.events_on or self.closed:
            return False
        name = ev.name
        if "ALL" in self.event_list:
            send = True
        elif name in self.event_list:
            sub = ev.subclass
            send = name != "CUSTOM" or not sub or sub in self.custom_subs
        else:
            send = False
        if send and self.filters:
            for flt in self.filters:
                hval = ev.get(flt.header)
                if hval is None:
                    continue
                comp = flt.value
                pos = True
                while comp and comp[0] in "+- ":
                    if comp[0] == "+":
                        pos = True
                    elif comp[0] == "-":
                        pos = False
                    comp = comp[1:]
                if pos:
                    send = False
                if not comp:
                    continue
                if flt.value.startswith("/"):
                    pattern = comp.strip("/")
                    try:
                        cmp = re.search(pattern, hval) is not None
                    except re.error:
                        cmp = False
                else:
                    cmp = hval.lower() == comp.lower()
                if cmp:
                    if pos:
                        send = True
                    else:
                        send = False
                        break
        return send

    def deliver(self, ev: FsEvent) -> None:
        if self.wants(ev):
            self.send(ev.frame(self.fmt))

    # -- commands

    async def run(self) -> None:
        writer_task = asyncio.ensure_future(self.writer_loop())
        self.send(b"Content-Type: auth/request\n\n")
        try:
            while not self.closed:
                cmd = await self._read_command()
                if cmd is None:
                    break
                await self.server.wait_unstalled()
                if self.closed:
                    break
                line, headers, body = cmd
                keep = await self.handle(line, headers, body)
                if not keep:
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.close_after_flush()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer_task, 2)
            self.abort()

    async def _read_command(self) -> tuple[str, list[tuple[str, str]], str | None] | None:
        lines: list[str] = []
        while True:
            raw = await self.reader.readline()
            if not raw:
                return None
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not text:
                if lines:
                    break
                continue  # FreeSWITCH skips empty lines between commands
            lines.append(text)
        first, rest = lines[0], lines[1:]
        headers: list[tuple[str, str]] = []
        for h in rest:
            k, _, v = h.partition(":")
            headers.append((k.strip(), v.strip()))
        body = None
        clen = next((v for k, v in headers if k.lower() == "content-length"), None)
        if clen and clen.isdigit():
            body = (await self.reader.readexactly(int(clen))).decode("utf-8", "replace")
        return first, headers, body

    async def handle(self, line: str, headers: list[tuple[str, str]], body: str | None) -> bool:
        """Run one command; False closes the connection."""
        cmd = line.strip()
        low = cmd.lower()
        if low.startswith("exit"):
            self.reply("+OK bye")
            self.disconnect_notice(DISCONNECT_BYE)
            return False
        if not self.authed:
            if low.startswith("auth "):
                if cmd[5:] == self.server.password and not self.server.rejecting_logins:
                    self.authed = True
                    self.reply("+OK accepted")
                    return True
                self.reply("-ERR invalid")
                self.disconnect_notice(DISCONNECT_BYE)
                return False
            self.reply("-ERR command not found")
            return True
        if low.startswith("api "):
            api_cmd, _, arg = cmd[4:].strip().partition(" ")
            result = await self.server.api.execute(api_cmd, arg.strip() or None, self)
            self.api_response(result or "-ERR no reply\n")
            return True
        if low.startswith("bgapi "):
            api_cmd, _, arg = cmd[6:].strip().partition(" ")
            job = next((v for k, v in headers if k.lower() == "job-uuid"), None) or new_uuid()
            self.send(f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\nJob-UUID: {job}\n\n".encode())
            self.server.spawn(self.server.run_bgapi(api_cmd, arg.strip() or None, job, self))
            return True
        if low.startswith("sendevent"):
            ev = self.server.sendevent(cmd[9:].strip(), headers, body)
            # FreeSWITCH answers first and delivers the event from its event thread afterwards
            self.reply("+OK " + (ev.get("Event-UUID") or ""))
            self.server.fire(ev)
            return True
        if low.startswith("log"):
            word = cmd[3:].strip() or "debug"
            lvl = log_level(word)
            if lvl is None or lvl == 0:
                self.reply("-ERR invalid log level")
            else:
                self.log_level = lvl
                self.reply(f"+OK log level {word} [{lvl}]")
            return True
        if low.startswith("nolog"):
            if self.log_level is not None:
                self.log_level = None
                self.reply("+OK no longer logging")
            else:
                self.reply("-ERR not loging")
            return True
        if low.startswith("nixevent"):
            self.reply(self._nixevent(cmd[8:].split()))
            return True
        if low.startswith("noevents"):
            if self.events_on:
                self.events_on = False
                self.event_list.clear()
                self.custom_subs.clear()
                self.reply("+OK no longer listening for events")
            else:
                self.reply("-ERR not listening for events")
            return True
        if low.startswith("event"):
            self.reply(self._event(cmd[5:].split()))
            return True
        if low.startswith("filter"):
            self.reply(self._filter(cmd[6:].strip()))
            return True
        if low.startswith("linger"):
            self.reply("+OK will linger")
            return True
        if low.startswith("nolinger"):
            self.reply("+OK will not linger")
            return True
        self.reply("-ERR command not found")
        return True

    def _event(self, words: list[str]) -> str:
        custom = False
        keys = 0
        for i, w in enumerate(words):
            if i == 0 and w.lower() in ("xml", "plain", "json"):
                self.fmt = w.lower()
                continue
            if custom:
                self.custom_subs.add(w)
                continue
            name = event_name_ok(w)
            if name:
                keys += 1
                self.event_list.add(name)
                if name == "CUSTOM":
                    custom = True
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.fmt}"

    def _nixevent(self, words: list[str]) -> str:
        custom = False
        keys = 0
        for w in words:
            if custom:
                self.custom_subs.discard(w)
                continue
            name = event_name_ok(w)
            if not name:
                continue
            keys += 1
            if name == "CUSTOM":
                custom = True
            elif name == "ALL":
                self.event_list.clear()
            else:
                if "ALL" in self.event_list:
                    # ALL becomes every single type, so that one type can be taken out
                    self.event_list = set(EVENT_NAMES) - {"ALL"}
                self.event_list.discard(name)
        if not keys:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"

    def _filter(self, args: str) -> str:
        name, _, value = args.partition(" ")
        if not name:
            return "-ERR invalid syntax"
        if name.lower() == "delete" and value:
            hname, _, hval = value.partition(" ")
            if hname.lower() == "all":
                self.filters.clear()
            elif hval:
                self.filters = [f for f in self.filters if not (f.header == hname and f.value == hval)]
            else:
                self.filters = [f for f in self.filters if f.header != hname]
            return f"+OK filter deleted. [{hname}][{hval}]"
        if not value:
            return "-ERR invalid syntax"
        self.filters.append(_Filter(name, value))
        return f"+OK filter added. [{name}]=[{value}]"


class EslServer:
    """Inbound event socket on the caller's asyncio loop, with fault hooks for tests."""

    def __init__(self, model: Any, host: str = "127.0.0.1", port: int = 0, password: str = "ClueCon",  # noqa: S107 (FreeSWITCH default)
                 hostname: str = "sim", heartbeat_interval: float = 20.0) -> None:
        self.model = model
        self.host = host
        self.port = port
        self.password = password
        self.factory = EventFactory(hostname=hostname)
        self.started_at = time.time()
        self.sessions: set[Session] = set()
        self.rejecting_logins = False
        self.heartbeat_interval = heartbeat_interval
        # an unanswered originate with {originate_timeout=N} waits N seconds, at most this long
        self.originate_timeout_cap = 30.0
        self._server: asyncio.base_events.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._stall_until = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conn_tasks: set[asyncio.Task[Any]] = set()
        self.api = EslApi(self)
        self.translator = ModelTranslator(self)
        self._unsubscribe: Any = None
        self._heartbeat_task: asyncio.Task[Any] | None = None

    # -- lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self._unsubscribe is None:
            self._unsubscribe = self.translator.attach()
        if self.heartbeat_interval > 0 and (self._heartbeat_task is None or self._heartbeat_task.done()):
            self._heartbeat_task = self.spawn(self._heartbeat())

    async def stop(self) -> None:
        await self._close_listener()
        for s in list(self.sessions):
            s.abort()
        for t in list(self._tasks) + list(self._conn_tasks):
            t.cancel()
        for t in list(self._tasks) + list(self._conn_tasks):
            with contextlib.suppress(BaseException):
                await t
        if self._unsubscribe is not None:
            with contextlib.suppress(Exception):
                self._unsubscribe()
            self._unsubscribe = None

    async def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self.sessions.add(session)
        task = asyncio.current_task()
        if task:
            self._conn_tasks.add(task)
        try:
            await session.run()
        except asyncio.CancelledError:
            # stop() cancels connection tasks; asyncio would log a cancelled client_connected_cb as an error
            pass
        finally:
            if task:
                self._conn_tasks.discard(task)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- events

    def fire(self, ev: FsEvent) -> None:
        """Deliver an event to every subscribed session; safe to call from any thread."""
        if self._loop is None:
            return
        if threading.get_ident() != self._loop_thread:
            with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is listening
                self._loop.call_soon_threadsafe(self._fire_now, ev)
        else:
            self._fire_now(ev)

    def _fire_now(self, ev: FsEvent) -> None:
        for s in list(self.sessions):
            s.deliver(ev)

    def log(self, level: int, text: str, file: str = "mod_commands.c", func: str = "log_function",
            line: int = 7200) -> None:
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now * 1e6) % 1000000:06d}"
        body = f"{stamp} 99.00% [{LOG_LEVELS[level]}] {file}:{line} {text}\n".encode()
        head = (f"Content-Type: log/data\nContent-Length: {len(body)}\nLog-Level: {level}\nText-Channel: 3\n"
                f"Log-File: {file}\nLog-Func: {func}\nLog-Line: {line}\nUser-Data: \n\n").encode()
        for s in list(self.sessions):
            if s.log_level is not None and level <= s.log_level:
                s.send(head + body)

    def sendevent(self, name: str, headers: list[tuple[str, str]], body: str | None) -> FsEvent:
        ev_uuid = new_uuid()
        ename = event_name_ok(name.split()[0]) if name else None
        hdrs = [(k, v) for k, v in headers if k.lower() != "content-length"]
        # sendevent puts the client's headers first, then Event-UUID, then the common block
        sub = next((v for k, v in hdrs if k == "Event-Subclass"), None)
        rest = [(k, v) for k, v in hdrs if k != "Event-Subclass"]
        ev = self.factory.make(ename or "CUSTOM", calling=("mod_event_socket.c", "parse_command", 2275), body=body)
        common = [(k, v) for k, v in ev.headers]
        front: list[tuple[str, str]] = []
        if sub:
            front.append(("Event-Subclass", sub))
        front.append(("Command", f"sendevent {name}".strip()))
        front.extend(rest)
        front.append(("Event-UUID", ev_uuid))
        ev.headers = front + common
        return ev

    async def run_bgapi(self, api_cmd: str, arg: str | None, job: str, session: Session) -> None:
        result = await self.api.execute(api_cmd, arg, session)
        hdrs = [("Job-UUID", job), ("Job-Command", api_cmd)]
        if arg:
            hdrs.append(("Job-Command-Arg", arg))
        self.fire(self.factory.make("BACKGROUND_JOB", hdrs, body=result or "Command returned no output!"))

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            self.fire(self.translator.heartbeat())

    # -- fault hooks

    async def wait_unstalled(self) -> None:
        while True:
            left = self._stall_until - time.monotonic()
            if left <= 0:
                return
            await asyncio.sleep(min(left, 0.05))

    def stall(self, seconds: float) -> None:
        """Hold every reply and event (and command processing) for that long, as a hung FreeSWITCH would."""
        self._stall_until = time.monotonic() + seconds

    def reject_logins(self, reject: bool = True) -> None:
        """While on, even the right password gets `-ERR invalid` and the close."""
        self.rejecting_logins = reject

    def drop_all(self) -> None:
        """Abort every connection (TCP reset-like close, no disconnect notice)."""
        self._in_loop(self._drop_all_now)

    def _drop_all_now(self) -> None:
        for s in list(self.sessions):
            s.abort()

    def send_malformed(self) -> None:
        """Write a frame no ESL parser can use to every authenticated connection: a header without a colon and a
        non-numeric Content-Length."""
        def go() -> None:
            for s in list(self.sessions):
                if s.authed:
                    s.send(b"Content-Type: text/event-plain\nThis line is not a header\nContent-Length: x1\n\n")
        self._in_loop(go)

    def shutdown(self) -> None:
        """fsctl shutdown: SHUTDOWN to listeners, the shutdown disconnect notice, close, and stop listening."""
        self._in_loop(lambda: self.spawn(self._shutdown()))

    async def _shutdown(self) -> None:
        self._fire_now(self.translator.shutdown_event())
        await self._close_listener()
        for s in list(self.sessions):
            s.disconnect_notice(DISCONNECT_SHUTDOWN)
            s.close_after_flush()

    def _in_loop(self, fn: Any) -> None:
        if self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn()
        else:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(fn)

    # -- helpers for the api module

    def uptime(self) -> float:
        return time.time() - self.started_at
