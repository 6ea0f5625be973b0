"""One PBX node in the daemon: its adapter, its projector (control/projection.py) and the tasks that keep
both honest: flush the projected state, resync after every (re)connect, re-assert desired state
(control/desired.py), catch up the call records, write the node's health."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node, write_files

from .. import keymigration
from ..db import AsyncDb, is_busy
from ..models import Extension, NodeHealth, NodeKind, PbxNode, Tenant, utcnow
from ..pbxnames import PbxNames
from ..port import CallRecorded, Connected, Disconnected, MailboxChanged, PbxError, PbxEvent, PbxPort
from ..validation import InvalidValue
from . import desired
from .projection import Projector

log = logging.getLogger(__name__)


@dataclass
class NodeRunner:
    """One node: its adapter, its projector, and the tasks that keep both honest.

    Nothing here touches the database on the event loop: reads and writes go through `db` (worker
    threads), and no transaction is open across a PBX round trip (docs/transactions.md)."""

    node_id: int
    name: str
    port: PbxPort
    projector: Projector
    sessions: sessionmaker[Session]
    db: AsyncDb
    pusher: desired.Pusher
    flush_interval: float = 0.1
    retry_interval: float = 5.0
    connected_since: dt.datetime | None = None
    disconnected_since: dt.datetime | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    resyncs: int = 0
    keys_moved: bool = False  # keymigration ran on this node since the daemon started
    resynced: asyncio.Event = field(default_factory=asyncio.Event)
    _flush_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Cluster mode: whether this daemon's lease on the node is surely still its own. A daemon that stalled
    # (stopped, cut off from the database) writes nothing more for the node until its next lease tick has
    # said whether the node is still its own (another daemon may own it and have replaced the live view).
    owned: Callable[[], bool] = field(default=lambda: True, repr=False)

    def on_event(self, event: PbxEvent) -> None:
        self.projector.handle(event)
        if isinstance(event, Connected):
            self.connected_since = event.at
            self._tasks.append(asyncio.ensure_future(self.resync()))
        elif isinstance(event, Disconnected):
            self.connected_since = None
            self.disconnected_since = event.at
            self.resynced.clear()

    async def start(self) -> None:
        self.port.subscribe(self.on_event)
        self._tasks.append(asyncio.ensure_future(self._flush_loop()))
        self._tasks.append(asyncio.ensure_future(self._retry_loop()))
        await self.port.start()

    async def stop(self, handed_over: bool = False) -> None:
        """`handed_over`: another daemon owns the node now (cluster mode): the call records and phone codes
        still in memory are written (a record stored twice is one row), but not this daemon's view of the
        live calls nor the node's health, which the new owner's snapshot replaced."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.port.stop()
        if handed_over:
            batch = self.projector.take()
            self.projector.calls.clear()
            self.projector.requeue(dataclasses.replace(
                batch, replace_calls=False, ended_calls=[], call_rows=[], dirty_calls=set(), registrations={},
                members={}, member_changes={}, mailboxes={}))
        with contextlib.suppress(Exception):
            await self.flush()
        if not handed_over:
            with contextlib.suppress(Exception):
                await self._write_health(False)

    async def resync(self) -> None:
        """After every (re)connect: snapshots replace the live view, then desired state is re-asserted."""
        delay, connection = 1.0, self.connected_since
        while True:
            try:
                calls = await self.port.live_calls()
                regs = await self.port.registrations()
                members = await self.port.queue_members()
                break
            except PbxError as exc:
                # A FreeSWITCH that just started answers ESL before mod_sofia is loaded ("-ERR sofia
                # Command not found!", the lab): asked again while connected, not left until the next
                # reconnect (the gap's call records, the ghost calls and the full re-assert waited for it).
                if not self.port.connected or self.connected_since != connection:
                    return  # a new connection has its own resync
                log.warning("node %s: snapshot failed: %s; retrying in %.0f s", self.name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        self.projector.reconcile_calls(calls)
        self.projector.reconcile_registrations(regs)
        self.projector.reconcile_queue_members(members)
        while True:
            try:
                await self.flush()
                await self.catch_up_records()
                if not self.keys_moved:  # once per daemon start, before desired state is re-asserted
                    plan = await self.db.read(lambda db: keymigration.plan_moves(db, self.node_id))
                    try:
                        await keymigration.move_keys(self.port, plan, self.name)
                        self.keys_moved = True
                    except PbxError as exc:  # tried again at the next reconnect
                        log.warning("node %s: moving keys to the tenants' names failed: %s", self.name, exc)
                result = await self.pusher.reassert_node(self.port, self.node_id)
                break
            except Exception as exc:  # the database busy or away: the snapshot is kept, try again
                if not self.port.connected:
                    return
                log.warning("node %s: resync interrupted (%s); retrying in %.0f s", self.name, exc,
                            self.retry_interval)
                await asyncio.sleep(self.retry_interval)
        log.info("node %s: resynced (%d applied, %d pending)", self.name, result.applied, result.pending)
        self.resyncs += 1
        self.resynced.set()
        await self._write_health(True)
        # Messages left while the daemon was away reach the lamps and the home counter now, not at
        # the mailbox's next change.
        self._tasks.append(asyncio.ensure_future(self.refresh_mailboxes()))

    async def refresh_mailboxes(self) -> int:
        """Ask the PBX for every mailbox of this node's tenants (one short read for the list, then one
        PBX round trip per box, no session open meanwhile). Returns how many boxes were read."""
        def boxes(db: Session) -> list[str]:
            out: list[str] = []
            for tenant in db.scalars(select(Tenant).where(Tenant.node_id == self.node_id)):
                names = PbxNames.for_tenant(db, tenant)
                exts = db.scalars(select(Extension).where(Extension.tenant_id == tenant.id,
                                                          Extension.mailbox.is_not(None), Extension.mailbox != ""))
                out += [names.mailbox(e) for e in exts]
            return out

        read = 0
        for box in await self.db.read(boxes):
            if not self.port.connected:
                break
            try:
                counts = await self.port.mailbox_counts(box)
            except (PbxError, InvalidValue) as exc:
                log.info("node %s: mailbox %s not read: %s", self.name, box, exc)
                continue
            self.projector.handle(MailboxChanged(utcnow(), box, counts))
            read += 1
        return read

    async def flush(self) -> int:
        # The batch is taken on the loop thread, where events arrive, and written on the daemon's writer
        # thread, after the batches taken before it (a later state never lands before an earlier one).
        async with self._flush_lock:  # one batch in flight per node: a requeued batch is never older
            batch = self.projector.take()
            if batch.empty:
                return 0
            try:
                stored = await self.db.call(lambda: self.projector.store(batch))
            except BaseException:
                self.projector.requeue(batch)  # on the loop thread, where events are handled: nothing lost
                raise
            self.projector.stored(stored)
            adopted, self.projector.adopted_users = self.projector.adopted_users, set()
        for user_id in sorted(adopted):
            # A feature code dialled on the phone is the user's desired state now: pushed again, so a
            # push planned before it (with the older value) cannot be the last word on the PBX.
            task = asyncio.ensure_future(self._push_adopted(user_id))
            self._tasks.append(task)
            task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)
        return stored

    async def _push_adopted(self, user_id: int) -> None:
        try:
            await self.pusher.push_user(self.port, user_id)
        except Exception as exc:  # the database busy: the rows stay as they are, re-asserted at reconnect
            log.warning("node %s: pushing user %d after a phone code failed: %s", self.name, user_id, exc)

    async def catch_up_records(self) -> int:
        """Ingest what the PBX recorded while the link was down, from the position last remembered."""
        def position_of(db: Session) -> str:
            health = db.get(NodeHealth, self.node_id)
            return health.cdr_position if health else ""

        position = await self.db.read(position_of)
        try:
            reports, new_position = await self.port.call_records_since(position)
        except PbxError as exc:
            log.warning("node %s: call record catch-up failed: %s", self.name, exc)
            return 0
        for report in reports:
            self.projector.handle(CallRecorded(utcnow(), report))
        await self.flush()
        if new_position != position:
            def remember(db: Session) -> None:
                row = db.get(NodeHealth, self.node_id) or NodeHealth(node_id=self.node_id)
                row.cdr_position = new_position
                db.merge(row)

            await self.db.write(remember)
        return len(reports)

    async def apply_config(self) -> str:
        """Regenerate the node's configuration files where the operator asked for them (config_dir) and
        reload the PBX if any changed. Returns an error text, empty on success or when not configured."""
        def render() -> list[str] | None:
            """The names of the files that changed (None: nothing to reload)."""
            with self.sessions() as db:
                node = db.get(PbxNode, self.node_id)
                if node is None:
                    return None
                if not node.config_dir:
                    # FreeSWITCH fetching live over mod_xml_curl only needs its cache dropped.
                    return [] if node.kind is NodeKind.FREESWITCH else None
                files = render_node(node_snapshot(db, node))
                changed = [p.name for p in write_files(files, node.config_dir)]
                return changed or None

        try:
            changed = await asyncio.to_thread(render)
            if changed is not None:
                await self.port.reload_configuration(changed)
        except PbxError as exc:
            return f"{type(exc).__name__}: {exc}"
        except (OSError, ValueError) as exc:
            log.exception("node %s: configuration not written", self.name)
            return f"configuration not written: {exc}"
        return ""

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                if self.projector.pending and self.owned():
                    await self.flush()
            except Exception as exc:  # the database may be briefly unavailable; events stay in memory
                if is_busy(exc):
                    log.warning("node %s: database busy; %d change(s) kept in memory and written at the next "
                                "flush", self.name, self.projector.pending)
                else:
                    log.exception("node %s: flush failed; will retry", self.name)

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            if not self.owned():
                continue
            try:
                await self._write_health(self.port.connected)
                if self.port.connected:
                    await self.pusher.reassert_node(self.port, self.node_id, only_pending=True)
            except Exception as exc:
                if is_busy(exc):
                    log.warning("node %s: database busy; pending changes retried in %.0f s", self.name,
                                self.retry_interval)
                else:
                    log.exception("node %s: retry of pending changes failed", self.name)

    async def _write_health(self, connected: bool) -> None:
        # "since" is the start of the current state, from the port's own Connected/Disconnected events:
        # a drop and a reconnect between two writes (the PBX back within the retry interval) start a new
        # connection, which a mere change of the stored flag would not show (`control --status`)
        at = self.connected_since if connected else self.disconnected_since
        last_event_at = self.projector.stats.last_event_at

        def write(db: Session) -> None:
            row = db.get(NodeHealth, self.node_id) or NodeHealth(node_id=self.node_id)
            if at is not None:
                row.since = at
            elif row.since is None or bool(row.connected) != connected:
                row.since = utcnow()  # never connected since the daemon started, or stopping
            row.connected = connected
            row.last_event_at = last_event_at
            db.merge(row)

        await self.db.write(write)

