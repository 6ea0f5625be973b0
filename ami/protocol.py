"""panoramisk 1.4 with its defects neutralised by subclassing (no fork): header values checked before any
byte is written, an incremental UTF-8 decoder, list/async answers that always complete, event callbacks
that cannot kill the session, and in-flight actions failed (never silently re-queued) on disconnect.

Defects and where each is handled (tests in tests/ami/test_panoramisk_defects.py):

1. CR/LF inside values is sent as-is (header injection) -> ``SafeAMIProtocol.send`` validates every
   header name and value first (``ami.validate.check_headers``) and refuses before writing anything.
2. An exception in an event callback propagates into ``data_received`` and asyncio closes the
   transport -> ``SafeManager.dispatch`` isolates every callback; ``data_received`` isolates each message.
3. ``Action.multi`` reads ``self['async']`` and raises KeyError for an Originate sent without an
   ``Async`` header, inside ``data_received`` -> ``SafeAction`` never guesses: the caller says whether
   an answer is a list, and the adapter always sends ``Async``.
   (Related: ``multi`` also guesses "Added interface to queue" is a list and an Error answer to a list
   action never completes; both futures would hang forever. ``SafeAction`` completes them.)
4. Each TCP chunk is decoded on its own with ``errors='ignore'``, losing a UTF-8 character split
   across two reads -> ``SafeAMIProtocol`` uses one incremental decoder per connection.
5. ``connect()`` returns before the login answer -> not used: ``AmiConnection`` awaits Login itself.
6. Its ping never notices a server that stopped answering -> not used: ``AmiConnection`` pings with a
   timeout and drops the link.
7. Unanswered actions are queued for a re-send after a FullyBooted that a session without ``system``
   read permission never gets -> ``SafeAMIProtocol.close`` fails them with PbxUnreachable instead.
   Re-sending is unsafe anyway: an Originate or QueuePause may already have been executed.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections import deque
from typing import Any
from urllib.parse import unquote

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from clusterpbx.control.port import PbxUnreachable

from . import validate

log = logging.getLogger(__name__)
EOL = "\r\n"
# A peer that never ends a message would otherwise grow the buffer without limit.
MAX_PENDING_TEXT = 4 << 20


_HAS_BODY = ("Response: Follows", "Response: Fail")


class AmiMessage(Message):
    """panoramisk's Message read without its per-header machinery: ``values`` maps each lower-cased header
    name to its value (a list for a repeated header, as panoramisk keeps it), ``get`` and attribute access
    (``message.event``) answer from it, and panoramisk's case-insensitive store (original spellings,
    ``items()``) is built only if something asks for it (responses matched by panoramisk, tests).
    ``flat`` is ``values`` itself when no header repeats: what the translator reads (``lower_keys``).
    (``values`` is ``_values``: ``values()`` stays the Mapping method.)"""

    _values: dict[str, Any]
    _headers: dict[str, Any]
    _part: str
    _repeated: bool

    @property
    def _store(self) -> dict[str, tuple[str, Any]]:
        store: dict[str, tuple[str, Any]] | None = self.__dict__.get("_built_store")
        if store is None:
            values = self._values
            headers = self.__dict__.get("_headers")
            if headers is None:  # the one-dict pass kept no spellings: read them again
                parsed = _headers_of(self._part)
                headers = self._headers = parsed[0] if parsed is not None else {}
            store = {key.lower(): (key, value) for key, value in headers.items()}
            if "result" in store:
                store["result"] = (store["result"][0], values["result"])
            store["content"] = ("content", values["content"])
            self.__dict__["_built_store"] = store
        return store

    @_store.setter
    def _store(self, store: dict[str, tuple[str, Any]]) -> None:
        self.__dict__["_built_store"] = store
        self._values = {key: value for key, (_name, value) in store.items()}
        self._headers = {name: value for key, (name, value) in store.items() if key != "content"}
        self._repeated = any(isinstance(v, list) for v in self._values.values())

    def __setitem__(self, key: str, value: Any) -> None:
        self._store[key.lower()] = (key, value)
        self._values[key.lower()] = value
        self._repeated = self._repeated or isinstance(value, list)

    def get(self, key: str, default: Any = None) -> Any:
        value = self._values.get(key.lower())
        return default if value is None else value

    @property
    def flat(self) -> dict[str, str]:
        """Lower-cased names -> values, a repeated header's last value; shared, read it only."""
        if not self._repeated:
            return self._values
        return {k: v[-1] if isinstance(v, list) and v else v for k, v in self._values.items()}


def _headers_of(part: str) -> tuple[dict[str, Any], str, bool] | None:
    """The headers by their original spelling (a repeated one as a list), the body of a Follows/Fail
    answer, and whether a header repeats; None when the text is not a message."""
    lines = part.strip().split(EOL)
    content = ""
    if lines[0].startswith(_HAS_BODY):
        content = lines.pop()
        while not content and lines:
            content = lines.pop()
    headers: dict[str, Any] = {}
    repeated = False
    for line in lines:
        key, sep, value = line.partition(": ")
        if not sep:
            continue
        value = value.strip()
        if key in headers:
            repeated = True
            old = headers[key]
            headers[key] = [*old, value] if isinstance(old, list) else [old, value]
        else:
            headers[key] = value
    if "Event" not in headers and "Response" not in headers:
        return None
    return headers, content, repeated


def _message(values: dict[str, Any], content: str, part: str, headers: dict[str, Any] | None,
             repeated: bool) -> AmiMessage:
    quoted = values.get("result")  # panoramisk's only URL-quoted header (an AGI result)
    if quoted is not None:
        values["result"] = [unquote(v).strip() for v in quoted] if isinstance(quoted, list) \
            else unquote(quoted).strip()
    values["content"] = content.strip()
    message: AmiMessage = AmiMessage.__new__(AmiMessage)
    message._values = values
    message._part = part
    if headers is not None:
        message._headers = headers
    message._repeated = repeated
    message.manager = None
    return message


_FIRST = ("Event: ", "Response: ")


def parse_message(part: str) -> Message | None:
    """One AMI message as panoramisk's ``Message.from_line`` reads it, with every value stripped of the
    white space around it (some Asterisk messages end a value with a bare "\n", fixtures README).

    Same result as ``Message.from_line(part.strip())`` followed by stripping each value, in one pass:
    the values are stripped as the lines are split and stored under their lower-cased names at once
    (``AmiMessage``; panoramisk's store of original spellings is built only when asked for) instead of
    through ``MutableMapping`` one header at a time (panoramisk's own cost per header).
    A repeated header is a list of its values, as in panoramisk; its items are stripped too. The one-dict
    pass serves the usual message (first line "Event: "/"Response: ", no name twice in any spelling, no
    body); any other goes through ``_headers_of``, which keeps the original spellings apart.
    """
    lines = part.strip().split(EOL)
    if lines[0].startswith(_FIRST) and not lines[0].startswith(_HAS_BODY):
        values: dict[str, Any] = {}
        for line in lines:
            key, sep, value = line.partition(": ")
            if not sep:
                continue
            key = key.lower()
            if key in values:
                break  # a name given twice: the careful path below
            values[key] = value.strip()
        else:
            return _message(values, "", part, None, False)
    parsed = _headers_of(part)
    if parsed is None:
        return None
    headers, content, repeated = parsed
    return _message({key.lower(): value for key, value in headers.items()}, content, part, headers, repeated)


class SafeAction(actions.Action):
    """An action whose answer shape is decided by the caller (``as_list``), never guessed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.as_list: bool = bool(kwargs.get("as_list"))

    @property
    def multi(self) -> bool:
        return bool(self.as_list)

    @property
    def completed(self) -> bool:
        if not self.responses:
            return False
        first, last = self.responses[0], self.responses[-1]
        if not self.as_list:
            return True
        # A list action answered with an error has no items and no ...Complete event.
        if "response" in first and first.get("response") not in ("Success", "Follows"):
            return True
        if len(self.responses) > 1 and "event" in last:
            return str(last.get("eventlist", "")).lower() == "complete" or str(last["event"]).endswith("Complete")
        return False

    def add_message(self, message: Message) -> bool:
        self.responses.append(message)
        if not self.completed:
            return False
        if not self.future.done():
            self.future.set_result(list(self.responses) if self.as_list else self.responses[0])
        return True


class SafeAMIProtocol(AMIProtocol):
    """AMIProtocol with an incremental decoder, validated writes and no silent re-queueing."""

    version: str | None
    responses: dict[str, Any]
    closed: bool
    # The events the subscribers read, lower case (AmiConnection sets them); None: every event.
    wanted_events: frozenset[str] | None = None
    events_skipped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # One decoder for the whole stream: a character split across two reads is kept (defect 4).
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._lost_reported = False
        self.bytes_received = 0

    def send(self, data: Any, as_list: bool = False) -> asyncio.Future[Any]:
        if not isinstance(data, actions.Action):
            data = SafeAction(data, as_list=as_list)
        # Nothing is registered or written unless every header is clean (defect 1).
        validate.check_headers(dict(data.items()))
        if self.closed:
            raise PbxUnreachable("AMI connection is closed")
        future: asyncio.Future[Any] = super().send(data, as_list=as_list)
        return future

    def data_received(self, data: bytes) -> None:
        self.bytes_received += len(data)
        text = self._decoder.decode(data)
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            self.version = text.partition(EOL)[0].partition("/")[2].strip()
        if self.queue:
            text = self.queue.popleft() + text
        parts = text.split(EOL + EOL)
        self.queue.append(parts.pop(-1))
        if len(self.queue[-1]) > MAX_PENDING_TEXT:
            log.error("AMI peer sent %d characters without ending a message; dropping the link", len(self.queue[-1]))
            self.queue.clear()
            self.abort()
            return
        wanted = self.wanted_events
        for part in parts:
            # An event nobody reads (most of an unfiltered stream: DeviceStateChange, VarSet, Newexten...)
            # is dropped on its first line, before any header is split, unless an action is in flight
            # (list answers are events; panoramisk matches them by ActionID).
            if wanted is not None and part.startswith("Event: ") and not self.responses:
                end = part.find(EOL)
                if (part[7:end] if end >= 0 else part[7:]).strip().lower() not in wanted:
                    self.events_skipped += 1
                    continue
            try:
                message = parse_message(part)
                if message is not None:
                    self.handle_message(message)
            except Exception:  # one bad message must not end the session (defect 2)
                log.exception("AMI message could not be handled: %r", part[:200])

    def handle_message(self, message: Message) -> None:
        if self.responses:  # an action in flight: panoramisk matches the answer by its ids
            super().handle_message(message)
            return
        # No action in flight, so no answer to match: an event goes to the subscribers (as in panoramisk).
        event = message.get("event")
        if event is not None:
            if str(event).lower() == "shutdown":
                self.connection_lost(message)
            self.factory.dispatch(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.close()
        self._report_lost(exc)

    def _report_lost(self, exc: Any) -> None:
        if not self._lost_reported and self.factory is not None:
            self._lost_reported = True
            self.factory.connection_lost(exc)

    def close(self) -> None:
        # Fail what is in flight instead of queueing it for a FullyBooted that may never come (defect 7).
        pending, self.responses = self.responses, {}
        for action in {id(a): a for a in pending.values()}.values():
            if not action.future.done():
                action.future.set_exception(PbxUnreachable("connection to the PBX lost"))
                action.future.exception()  # whoever awaits it still gets it; nobody awaiting is fine too
        if not self.closed:
            self.closed = True
            try:
                self.transport.close()
            except Exception:  # noqa: S110 - closing an already broken transport
                pass

    def abort(self) -> None:
        """Drop the link now (ping timeout): no FIN handshake to wait for on a stalled peer."""
        transport = self.transport
        self.close()
        abort = getattr(transport, "abort", None)
        if abort is not None:
            abort()
        self._report_lost(PbxUnreachable("PBX stopped answering"))


class SafeManager(Manager):
    """panoramisk's Manager used for what it does well (action ids, response matching, event patterns);
    connecting, login, pings and reconnects belong to ``AmiConnection``."""

    def __init__(self, on_lost: Any, **config: Any) -> None:
        config.setdefault("ping_delay", 0)
        super().__init__(**config)
        self._on_lost = on_lost
        self.awaiting_actions: deque[Any] = deque()

    def dispatch(self, event: Message) -> list[str]:
        # A failing subscriber is logged; the session and the other subscribers go on (defect 2).
        matches = []
        event.manager = self
        name = event.get("event", "")  # event.event, once
        for pattern, regexp in self.patterns:
            if regexp.match(name) is None:
                continue
            matches.append(pattern)
            for callback in self.callbacks[pattern]:
                try:
                    ret = callback(self, event)
                    if asyncio.iscoroutine(ret) or isinstance(ret, asyncio.Future):
                        task = asyncio.ensure_future(ret)
                        task.add_done_callback(_log_task_error)
                except Exception:
                    log.exception("AMI event callback failed for %s", event.event)
        return matches

    async def send_awaiting_actions(self, *_: Any) -> None:
        # Never re-send: see defect 7.
        self.awaiting_actions.clear()

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        self._on_lost(exc)


def _log_task_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("AMI event coroutine failed", exc_info=task.exception())
