"""The live-calls change feed: who may see which call (Scope), a call as the page shows it (row_json), a
full list for a scope (snapshot), and one Notifier per server process that watches the change log
(live_call_changes, filled by database triggers in the same transaction as the change) and hands each
batch of changes to every open stream of that process.

The notifier reads the database when the log may have moved on, whatever the number of open pages: one
indexed `max(id)`; when something changed, the changed calls are read once and every stream filters
them to its own scope. A change costs bytes proportional to the change (added or changed rows,
ids of ended ones). What wakes the notifier is a ChangeSource: on PostgreSQL a LISTEN on the channel the
live_calls trigger notifies (any number of web servers, any daemon writing; a slow safety poll beside
it), on SQLite a poll once a second."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
from collections.abc import Iterable
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, or_, select, tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from clusterpbx.control.models import Extension, LiveCall, LiveCallChange, Role, User, utcnow

log = logging.getLogger("clusterpbx.web.live")
WHEN_STRFTIME = "%Y-%m-%d %H:%M:%S"  # the portal's one date format (web/calls: WHEN_FORMAT)
POLL_SECONDS = 1.0  # SQLite: how often the notifier reads max(id)
SAFETY_SECONDS = 10.0  # PostgreSQL: a read now and then beside the notifications (a lost one, a stalled link)
CHANNEL = "cpbx_live_calls"  # migration 0013: the live_calls trigger's pg_notify
LISTEN_APPLICATION = "clusterpbx live listen"  # the LISTEN connections' name in pg_stat_activity
REREAD = 200  # ids below the last one read again: a transaction with a lower id may commit later (PostgreSQL)


async def _cancelled(task: asyncio.Task[Any] | None) -> None:
    """Cancel a background task of this module and wait until it has ended."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclasses.dataclass(frozen=True)
class Scope:
    """What one user may see: the tenant's calls for an administrator, else the calls of their own
    extensions (by number or SIP user name)."""

    user_id: int
    tenant_id: int
    admin: bool
    numbers: frozenset[str]
    timezone: str
    session_version: int = 0  # a password change (or reset) bumps it: open streams of the user end

    @classmethod
    def of(cls, user: User, timezone: str | None = None) -> Scope:
        numbers = frozenset(n for e in user.extensions for n in (e.number, e.sip_username) if n)
        tz = timezone or user.timezone or (user.tenant.timezone if user.tenant else "") or "UTC"
        return cls(user.id, user.tenant_id, user.role in (Role.TENANT_ADMIN, Role.OPERATOR), numbers, tz,
                   user.session_version)

    def sees(self, row: dict[str, Any]) -> bool:
        if row["tenant_id"] != self.tenant_id:
            return False
        return self.admin or row["source_number"] in self.numbers or row["destination_number"] in self.numbers


def still_signed_in(db: Session, scopes: Iterable[Scope]) -> set[tuple[int, int]]:
    """(user id, session version) of these users whose sessions are still good: active, approved, the
    same session version (one query for every open stream of the process)."""
    ids = sorted({s.user_id for s in scopes})
    good: set[tuple[int, int]] = set()
    for i in range(0, len(ids), 500):
        good.update((uid, version) for uid, version in db.execute(
            select(User.id, User.session_version).where(User.id.in_(ids[i:i + 500]), User.active.is_(True),
                                                        User.approved.is_(True))).all())
    return good


def call_key(node_id: int, pbx_call_id: str) -> str:
    return f"{node_id}:{pbx_call_id}"


def scoped(stmt: Any, scope: Scope) -> Any:
    stmt = stmt.where(LiveCall.tenant_id == scope.tenant_id)
    if not scope.admin:
        mine = sorted(scope.numbers) or [""]
        stmt = stmt.where(or_(LiveCall.source_number.in_(mine), LiveCall.destination_number.in_(mine)))
    return stmt


def duration_text(seconds: float) -> str:
    """The guide's format: 0h0m53s."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


def party(number: str, uri: str, names: dict[str, str]) -> str:
    """A side of a call as people read it: the name when the number is a colleague's, else the number;
    the SIP address only when the PBX gave no number."""
    return names.get(number) or number or uri


class WhenText:
    """Start times in one time zone in the portal's date format: the same text as the |when filter
    (flask_babel.format_datetime with yyyy-MM-dd HH:mm:ss), at a fraction of its cost per row."""

    def __init__(self, timezone: str):
        try:
            self.zone: dt.tzinfo = ZoneInfo(timezone)
        except (ValueError, KeyError, OSError):
            self.zone = dt.UTC

    def __call__(self, started: dt.datetime) -> str:
        return started.replace(tzinfo=dt.UTC).astimezone(self.zone).strftime(WHEN_STRFTIME)


_NAMES = (select(Extension.number, Extension.sip_username, User.first_name, User.last_name, User.email)
          .join(User, User.id == Extension.user_id)
          .where(Extension.tenant_id == bindparam("tenant"),
                 or_(Extension.number.in_(bindparam("numbers", expanding=True)),
                     Extension.sip_username.in_(bindparam("names", expanding=True)))))


def known_names(db: Session, tenant_id: int | None, numbers: set[str]) -> dict[str, str]:
    """Extension or SIP user name -> "Name (extension)", for these numbers in the company. One prepared
    statement with expanding parameters: building an IN of 200 literals cost more than the query."""
    numbers_list = sorted(n for n in numbers if n)
    if not numbers_list or tenant_id is None:
        return {}
    names: dict[str, str] = {}
    for i in range(0, len(numbers_list), 400):
        part = numbers_list[i:i + 400]
        for number, sip_user, first, last, email in db.execute(
                _NAMES, {"tenant": tenant_id, "numbers": part, "names": part}).all():
            name = f"{first} {last}".strip() or email
            names[number] = names[sip_user] = f"{name} ({number})"
    return names


# What a row needs, for queries that skip building LiveCall objects (row_of takes either).
ROW_COLUMNS = (LiveCall.node_id, LiveCall.pbx_call_id, LiveCall.tenant_id, LiveCall.source_number,
               LiveCall.destination_number, LiveCall.started_at, LiveCall.source_uri, LiveCall.destination_uri,
               LiveCall.source_ip, LiveCall.destination_ip)


def row_of(call: Any, names: dict[str, str]) -> dict[str, Any]:
    """A call as the feed carries it (tenant and numbers kept to decide who sees it, never sent)."""
    return {"id": call_key(call.node_id, call.pbx_call_id), "tenant_id": call.tenant_id,
            "source_number": call.source_number, "destination_number": call.destination_number,
            "started_at": call.started_at,
            "started": call.started_at.replace(tzinfo=dt.UTC).isoformat(),
            "source": party(call.source_number, call.source_uri, names),
            "destination": party(call.destination_number, call.destination_uri, names),
            "source_ip": call.source_ip, "destination_ip": call.destination_ip}


def public(row: dict[str, Any], when: WhenText, now: dt.datetime) -> dict[str, Any]:
    """What the browser receives for one call."""
    return {"id": row["id"], "started": row["started"], "started_text": when(row["started_at"]),
            "seconds": int((now - row["started_at"]).total_seconds()), "source": row["source"],
            "destination": row["destination"], "source_ip": row["source_ip"],
            "destination_ip": row["destination_ip"]}


def current_version(db: Session) -> int:
    return int(db.scalar(select(func.max(LiveCallChange.id))) or 0)


def cursor_text(version: int, holes: Iterable[int] = ()) -> str:
    """The cursor an event carries as its SSE id (the browser's Last-Event-ID when it comes back): the
    last change id read, and the ids just below it that were not visible yet (PostgreSQL may commit a
    lower id after a higher one): "1234" or "1234:1230,1232"."""
    gaps = sorted(holes)
    return f"{version}:{','.join(map(str, gaps))}" if gaps else str(version)


def parse_cursor(text: str) -> tuple[int, frozenset[int]] | None:
    head, _sep, tail = text.strip().partition(":")
    if not head.isdigit() or len(head) > 18 or len(tail) > 8 * REREAD:
        return None
    gaps = tail.split(",") if tail else []
    if not all(g.isdigit() and len(g) <= 18 for g in gaps):
        return None
    version = int(head)
    holes = frozenset(int(g) for g in gaps)
    return (version, holes) if all(version - REREAD <= h < version for h in holes) else None


def _holes(db: Session, version: int) -> set[int]:
    present = set(db.scalars(select(LiveCallChange.id).where(LiveCallChange.id > version - REREAD,
                                                             LiveCallChange.id <= version)))
    return set(range(max(0, version - REREAD) + 1, version + 1)) - present


def snapshot(db: Session, scope: Scope) -> tuple[str, list[dict[str, Any]]]:
    """(cursor, every call the scope sees, newest first), the version read first so that no change
    after it is missed (a change between the two reads is sent again: applying one twice is harmless)."""
    version = current_version(db)
    holes = _holes(db, version) if db.get_bind().dialect.name != "sqlite" else set()
    calls = list(db.scalars(scoped(select(LiveCall), scope).order_by(LiveCall.started_at.desc(),
                                                                     LiveCall.id.desc())))
    names = known_names(db, scope.tenant_id, {n for c in calls for n in (c.source_number, c.destination_number)})
    return cursor_text(version, holes), [row_of(c, names) for c in calls]


RESUME_MAX_CHANGES = 5000  # more changes than this since a browser's cursor: the full list is cheaper


def resume(db: Session, scope: Scope, cursor: str) -> bytes | None:
    """What an administrator's browser that comes back with `cursor` (its Last-Event-ID: the cursor of
    the last event it applied) is missing: one delta of the company's calls changed since (b"" when
    none), or None when the full list must be sent: the cursor is too old or unknown (pruned from the
    log, a restored database, too many changes, not ours), or the user is not an administrator. A
    user's own list is a few rows, and which ended calls were theirs is no longer known: sending every
    ended call's id would tell them about their colleagues' calls."""
    parsed = parse_cursor(cursor)
    if parsed is None or not scope.admin:
        return None
    since, holes = parsed
    current = current_version(db)
    if since <= 0 or since > current:
        return None
    floor = min(holes, default=since + 1) - 1  # the changes after the cursor and the ones it had not seen
    changes = db.scalar(select(func.count()).select_from(LiveCallChange).where(LiveCallChange.id > floor)) or 0
    oldest = db.scalar(select(func.min(LiveCallChange.id)))
    if changes > RESUME_MAX_CHANGES or oldest is None or oldest > since + 1:
        return None
    _version, batch = read_changes(db, since, set(range(floor + 1, since + 1)) - holes, floor)
    if batch is None:
        return b""
    if batch.reset:
        return None
    return batch.event_for(scope, None) or b""


def encode(event: str, data: Any, version: int | str | None = None) -> bytes:
    head = f"id: {version}\n" if version is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@dataclasses.dataclass
class Batch:
    """Changes read once for the whole process: the calls' current rows (key -> row, None when ended),
    grouped by tenant."""

    version: int
    by_tenant: dict[int, dict[str, dict[str, Any] | None]]
    reset: bool = False  # the log was pruned past what we had read: every stream starts again
    holes: frozenset[int] = frozenset()  # ids at most REREAD below `version` not read yet (cursor_text)
    _cache: dict[tuple[Any, ...], bytes] = dataclasses.field(default_factory=dict)

    def event_for(self, scope: Scope, sent: set[str] | None) -> bytes | None:
        """The delta event for one stream, or None when nothing concerns it. `sent` is the set of calls
        a non-admin stream has shown (a call that left its scope is removed); admins see the whole
        tenant, so a missing row is an ended call."""
        changes = self.by_tenant.get(scope.tenant_id)
        if not changes:
            return None
        if scope.admin:
            key = ("admin", scope.tenant_id, scope.timezone)
            if key not in self._cache:
                self._cache[key] = self._encode(changes.items(), WhenText(scope.timezone))
            return self._cache[key] or None
        assert sent is not None
        mine: list[tuple[str, dict[str, Any] | None]] = []
        for call_id, row in changes.items():
            if row is not None and scope.sees(row):
                sent.add(call_id)
                mine.append((call_id, row))
            elif call_id in sent:
                sent.discard(call_id)
                mine.append((call_id, None))
        return self._encode(mine, WhenText(scope.timezone)) or None

    def _encode(self, items: Iterable[tuple[str, dict[str, Any] | None]], when: WhenText) -> bytes:
        now = utcnow()
        upsert, remove = [], []
        for call_id, row in items:
            if row is None:
                remove.append(call_id)
            else:
                upsert.append(public(row, when, now))
        if not upsert and not remove:
            return b""
        return encode("delta", {"upsert": upsert, "remove": remove}, cursor_text(self.version, self.holes))


def read_changes(db: Session, after: int, seen: set[int], floor: int = 0) -> tuple[int, Batch | None]:
    """Changes with an id above `after` (and the few below it, above `floor`, not seen yet: PostgreSQL may
    commit a lower id after a higher one), resolved to the calls' current rows."""
    rows = db.execute(select(LiveCallChange.id, LiveCallChange.node_id, LiveCallChange.tenant_id,
                             LiveCallChange.pbx_call_id)
                      .where(LiveCallChange.id > max(0, after - REREAD)).order_by(LiveCallChange.id)).all()
    fresh = [r for r in rows if r.id > floor and r.id not in seen]
    if not fresh:
        return after, None
    version = max(after, fresh[-1].id)
    # The log keeps the last 100,000 changes: when even the ones just below `after` are gone, changes
    # may have been pruned unread, and every stream starts again from a full list.
    reset = after > 0 and rows[0].id > after + 1
    seen.update(r.id for r in fresh)
    for old in [i for i in seen if i <= version - 2 * REREAD]:
        seen.discard(old)
    keys = {(r.node_id, r.pbx_call_id): r.tenant_id for r in fresh}
    found: dict[tuple[int, str], LiveCall] = {}
    key_list = list(keys)
    for i in range(0, len(key_list), 400):
        part = key_list[i:i + 400]
        for call in db.scalars(select(LiveCall).where(tuple_(LiveCall.node_id, LiveCall.pbx_call_id).in_(part))):
            found[(call.node_id, call.pbx_call_id)] = call
    by_tenant: dict[int, dict[str, dict[str, Any] | None]] = {}
    numbers: dict[int, set[str]] = {}
    for call in found.values():
        if call.tenant_id is not None:
            numbers.setdefault(call.tenant_id, set()).update((call.source_number, call.destination_number))
    names = {tenant: known_names(db, tenant, nums) for tenant, nums in numbers.items()}
    for (node_id, pbx_call_id), logged_tenant in keys.items():
        call = found.get((node_id, pbx_call_id))
        call_id = call_key(node_id, pbx_call_id)
        if logged_tenant is not None:  # the tenant the log names: a removal there, or the call itself
            by_tenant.setdefault(logged_tenant, {})[call_id] = None
        if call is not None and call.tenant_id is not None:
            by_tenant.setdefault(call.tenant_id, {})[call_id] = row_of(call, names.get(call.tenant_id, {}))
    holes = frozenset(range(max(floor, version - REREAD) + 1, version + 1)) - seen
    return version, Batch(version, by_tenant, reset=bool(reset), holes=holes)


class ChangeSource(Protocol):
    """Tells the notifier when the change log may have moved on. `wait` returns when it should look; a
    source may also have `start()` (awaited before the notifier reads where the log stands) and `stop()`."""

    async def wait(self) -> None: ...


class PollingSource:
    """Every `interval` seconds: SQLite (one machine), where nothing can tell the web servers that the
    log moved on."""

    def __init__(self, interval: float = POLL_SECONDS):
        self.interval = interval

    async def wait(self) -> None:
        await asyncio.sleep(self.interval)


class ListenSource:
    """PostgreSQL: `wait` returns when a NOTIFY on CHANNEL arrives (migration 0013: the live_calls trigger
    sends one per node and transaction, delivered at commit, whichever daemon or tool made the change) and
    every `safety` seconds anyway. The notifications come on a connection of its own (autocommit, LISTEN,
    psycopg's async notifies on the event loop), reconnected when lost; while it is down, `wait` returns
    every `poll` seconds, as the polling source. The change log stays the source of truth: a notification
    only says "look now", so a lost one costs at most one safety interval."""

    def __init__(self, connect_kwargs: dict[str, Any], safety: float = SAFETY_SECONDS,
                 poll: float = POLL_SECONDS, reconnect: float = 1.0, gap: float = 0.05):
        self.connect_kwargs = {"application_name": LISTEN_APPLICATION, "connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                               "keepalives_interval": 10, "keepalives_count": 3, **connect_kwargs}
        self.safety, self.poll, self.reconnect, self.gap = safety, poll, reconnect, gap
        self.connected = False
        self.connections = 0  # LISTEN connections made (a reconnection adds one), for tests
        self.notifications = 0
        self._wake = self._ready = asyncio.Event()  # made again in start(), on the loop that runs it
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_engine(cls, engine: Engine, **kwargs: Any) -> ListenSource:
        """The same server, database and credentials as the engine (its URL's parameters, e.g. sslmode)."""
        _args, connect_kwargs = engine.dialect.create_connect_args(engine.url)
        connect_kwargs.pop("context", None)  # SQLAlchemy's adapters, not a connection parameter
        return cls(dict(connect_kwargs), **kwargs)

    async def start(self, timeout: float = 10.0) -> None:
        """Listening before the notifier reads where the log stands, so that no change falls in between
        (when the database cannot be reached yet, the notifier polls until it can)."""
        if self._task is None:
            self._wake, self._ready = asyncio.Event(), asyncio.Event()
            self._task = asyncio.create_task(self._listen(), name="live-listen")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            pass

    async def stop(self) -> None:
        await _cancelled(self._task)
        self._task = None

    async def wait(self) -> None:
        if self._task is None:
            await self.start()
        try:
            await asyncio.wait_for(self._wake.wait(), self.safety if self.connected else self.poll)
        except TimeoutError:
            return
        # A burst of commits (several daemons, many nodes) is read once: the notifications that arrive
        # during the gap are for commits the coming read sees anyway.
        await asyncio.sleep(self.gap)
        self._wake.clear()

    async def _listen(self) -> None:
        import psycopg  # PostgreSQL only; never imported on SQLite

        delay = self.reconnect
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(autocommit=True, **self.connect_kwargs)
            except (psycopg.Error, OSError) as exc:
                log.warning("live calls: cannot LISTEN (%s); polling every %s s until it can", exc, self.poll)
                self._ready.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            try:
                async with conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.connected = True
                    self.connections += 1
                    delay = self.reconnect
                    self._ready.set()
                    self._wake.set()  # whatever was committed while nobody listened
                    while True:
                        async for _note in conn.notifies(timeout=self.safety):
                            self.notifications += 1
                            self._wake.set()
                        await conn.execute("SELECT 1")  # a quiet connection is still alive (raises if not)
            except (psycopg.Error, OSError) as exc:
                log.warning("live calls: the LISTEN connection was lost (%s); polling every %s s while it "
                            "reconnects", exc, self.poll)
            finally:
                self.connected = False
                self._wake.set()
            await asyncio.sleep(delay)


def source_for(engine: Engine, poll: float | None = None, safety: float | None = None) -> ChangeSource:
    """LISTEN/NOTIFY on PostgreSQL (any number of web servers), polling on SQLite. The intervals come
    from CLUSTERPBX_LIVE_POLL_SECONDS (SQLite's poll, and PostgreSQL's while reconnecting; 1 s) and
    CLUSTERPBX_LIVE_SAFETY_SECONDS (PostgreSQL's poll beside the notifications; 10 s)."""
    poll = poll if poll is not None else float(os.environ.get("CLUSTERPBX_LIVE_POLL_SECONDS", POLL_SECONDS))
    if engine.dialect.name != "postgresql":
        return PollingSource(poll)
    safety = safety if safety is not None else float(os.environ.get("CLUSTERPBX_LIVE_SAFETY_SECONDS",
                                                                      SAFETY_SECONDS))
    return ListenSource.for_engine(engine, safety=safety, poll=poll)


class Notifier:
    """One per server process: reads the change log and fans each batch out to the open streams."""

    def __init__(self, sessions: sessionmaker[Session], source: ChangeSource | None = None):
        self.sessions = sessions
        self.source = source or source_for(_engine_of(sessions))
        self.version = self.floor = 0
        self.listeners: set[asyncio.Queue[Batch]] = set()
        self.reads = 0  # database reads made, for tests and the bench
        self._seen: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        starting = getattr(self.source, "start", None)
        if starting is not None:
            await starting()
        self._skip_to(await asyncio.to_thread(self._current))
        self._task = asyncio.create_task(self._run(), name="live-notifier")

    async def stop(self) -> None:
        await _cancelled(self._task)
        self._task = None
        stopping = getattr(self.source, "stop", None)
        if stopping is not None:
            await stopping()

    def _current(self) -> int:
        with self.sessions() as db:
            self.reads += 1
            return current_version(db)

    def _read(self) -> Batch | None:
        with self.sessions() as db:
            self.reads += 1
            self.version, batch = read_changes(db, self.version, self._seen, self.floor)
            return batch

    def _skip_to(self, version: int) -> None:
        self.version = self.floor = version
        self._seen.clear()

    async def _run(self) -> None:
        while True:
            await self.source.wait()
            try:
                current = await asyncio.to_thread(self._current)
                if current == self.version:
                    continue
                if current < self.version:  # the log was emptied (a restored database): start again
                    self._skip_to(current)
                    batch: Batch | None = Batch(current, {}, reset=True)
                elif not self.listeners:
                    # Nobody listening: nothing to read. A stream that subscribes from now on reads its
                    # full list after this point, so no change it needs is skipped.
                    self._skip_to(current)
                    continue
                else:
                    batch = await asyncio.to_thread(self._read)
            except Exception:  # a busy or unreachable database: try again at the next tick
                log.warning("live calls: reading the change log failed", exc_info=True)
                continue
            if batch is not None:
                for queue in list(self.listeners):
                    queue.put_nowait(batch)

    def subscribe(self) -> asyncio.Queue[Batch]:
        queue: asyncio.Queue[Batch] = asyncio.Queue()
        self.listeners.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Batch]) -> None:
        self.listeners.discard(queue)


def _engine_of(sessions: sessionmaker[Session]) -> Engine:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("the notifier's sessions must be bound to an engine")
    return bind

