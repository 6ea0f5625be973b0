"""The control daemon (`clusterpbx control`): owns every PBX connection, projects live state into the
database, ingests call records, keeps desired state applied, answers the portal's command channel and
runs the scheduled jobs (exactly one daemon runs them, by a lease in the database).

In cluster mode (`control_cluster`, control/cluster.py) several daemons share one PostgreSQL: each owns
the nodes it holds a lease on, takes over the nodes of a daemon that died, and forwards a command for
another daemon's node to that daemon."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import cluster as clustering
from . import desired, keymigration
from .callsettings import SettingRefused, check_click_to_call
from .commands import MAX_LINE, MAX_REPLY, check_secret
from .db import AsyncDb, base_engine, is_busy
from .models import (
    DaemonLock,
    NodeHealth,
    NodeKind,
    PbxNode,
    SyncState,
    Tenant,
    User,
    VoicemailSettings,
    utcnow,
)
from .port import (
    CallEnded,
    CallRecorded,
    Connected,
    Disconnected,
    MailboxChanged,
    NodeAddress,
    PbxError,
    PbxEvent,
    PbxPort,
    PhoneVendor,
)
from .projection import Projector
from .validation import InvalidValue, phone_number

log = logging.getLogger(__name__)
T = TypeVar("T")

PortFactory = Callable[[PbxNode, NodeAddress], PbxPort]
JOBS_TABLE = "apscheduler_jobs"
RETENTION_CHUNK = 2000  # call records deleted per transaction
JOB_INTERVALS = {"out_of_office": 60, "reconcile": 300, "retention": 86400, "sms_retry": 60,
                 "webconf_usage": 900, "live_sweep": 60}
# Jobs about the daemon's own nodes: in cluster mode every daemon runs them for the nodes it owns (the
# scheduler's leader owns only some), on its own timer; the other jobs stay with the leader.
NODE_JOBS = ("live_sweep", "reconcile")
# Cluster mode: how often the owner of a node moves its call-record catch-up position forward (the
# records are already stored live: read again, they are stored once). The daemon taking the node over
# after its owner died reads the node's log from there, not from the owner's last reconnect.
CATCH_UP_INTERVAL = 60
# A live call the PBX no longer lists is removed once it is this old (a younger one may simply not be in
# the PBX's list yet when it answers).
LIVE_SWEEP_GRACE = dt.timedelta(seconds=30)
CURRENT: ControlDaemon | None = None


def run_job(name: str) -> Any:
    """Entry point APScheduler stores by reference, called on the scheduler's thread: runs the job on
    the running daemon's event loop and waits for it (one run of a job at a time)."""
    daemon = CURRENT
    if daemon is None or daemon.loop is None or daemon.loop.is_closed():
        return None
    loop = daemon.loop
    future = asyncio.run_coroutine_threadsafe(daemon.run_job(name), loop)
    daemon._running_jobs.add(future)
    try:
        while not concurrent.futures.wait([future], timeout=1.0).done:
            if not loop.is_running():  # the loop is gone without stop(): do not wait forever
                future.cancel()
                return None
        return future.result()
    except concurrent.futures.CancelledError:
        return None  # the daemon stopped meanwhile
    finally:
        daemon._running_jobs.discard(future)


def default_port_factory(node: PbxNode, address: NodeAddress) -> PbxPort:
    """The production adapters, imported here only: web workers never load them."""
    if node.kind is NodeKind.ASTERISK:
        from clusterpbx.ami.adapter import AsteriskAdapter

        port: PbxPort = AsteriskAdapter(address)
        return port
    from clusterpbx.esl.adapter import FreeSwitchAdapter

    port = FreeSwitchAdapter(address)
    return port


def node_address(node: PbxNode, timeout: float) -> NodeAddress:
    return NodeAddress(host=node.host, port=node.port, username=node.username, secret=node.secret,
                       spool_path=node.spool_path, sip_domain=node.sip_domain, timeout=timeout,
                       extra={str(k): str(v) for k, v in (node.options or {}).items()})


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
        try:
            calls = await self.port.live_calls()
            regs = await self.port.registrations()
            members = await self.port.queue_members()
        except PbxError as exc:
            log.warning("node %s: snapshot failed: %s", self.name, exc)
            return
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
        from .models import Extension
        from .pbxnames import PbxNames

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
            from clusterpbx.dialplan.from_db import node_snapshot
            from clusterpbx.dialplan.render import render_node, write_files

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


class ControlDaemon:
    def __init__(self, sessions: sessionmaker[Session], secret: str, *, host: str = "127.0.0.1", port: int = 8765,
                 port_factory: PortFactory = default_port_factory, timeout: float = 5.0,
                 clock: Callable[[], dt.datetime] = utcnow, lease_seconds: float = 30.0,
                 cluster: bool = False, advertise: str = "",
                 node_lease_seconds: float = clustering.NODE_LEASE_SECONDS):
        self.sessions = sessions
        self.secret = secret
        self.host = host
        self.port = port
        self.port_factory = port_factory
        self.timeout = timeout
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.nodes: dict[int, NodeRunner] = {}
        self.server: asyncio.base_events.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.is_leader = False
        self.scheduler: Any = None
        self.settings: Any = None  # the portal's Settings (public URL, key) for SMS; loaded when None
        # The database, off the event loop: one writer thread for the daemon's own writes (in order),
        # worker threads for reads. See docs/transactions.md.
        self.db = AsyncDb(sessions)
        self.pusher = desired.Pusher(self.db)
        self._applying: set[asyncio.Task[dict[str, Any]]] = set()  # pushes a command stopped waiting for
        self.loop: asyncio.AbstractEventLoop | None = None
        self._running_jobs: set[concurrent.futures.Future[Any]] = set()
        # Cluster mode (control/cluster.py): the nodes this daemon holds a lease on, those whose runner is
        # starting, and until when (loop time) its leases are surely still its own.
        self.cluster = cluster
        self.advertise = advertise
        self.node_lease_seconds = node_lease_seconds
        self.address = ""
        self.started_at: dt.datetime | None = None
        self.held: set[int] = set()
        self._starting: set[int] = set()
        self._node_tasks: set[asyncio.Task[Any]] = set()
        self._leases_valid_until = 0.0
        self._node_jobs: dict[str, asyncio.Task[Any]] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.cluster:
            refused = clustering.refusal(str(base_engine(self.sessions).url))
            if refused:
                raise RuntimeError(refused)
            # The command channel first: its address is what the other daemons forward commands to.
            self.server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE)
            self.port = self.server.sockets[0].getsockname()[1]
            self.address = self.advertise or advertised_address(self.host, self.port)
            self.started_at = await self.db.read(clustering.db_now)
            await self._lease_nodes()  # this daemon's share at once, not after the first interval
            self._tasks.append(asyncio.ensure_future(self._cluster_loop()))
        else:
            nodes = await self.db.read(lambda db: list(db.scalars(
                select(PbxNode).where(PbxNode.enabled.is_(True)).order_by(PbxNode.id))))
            for node in nodes:
                await self._start_node(node)
            self.server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE)
            self.port = self.server.sockets[0].getsockname()[1]
        self._tasks.append(asyncio.ensure_future(self._lease_loop()))
        self._start_scheduler()

    async def _start_node(self, node: PbxNode) -> NodeRunner | None:
        try:
            adapter = self.port_factory(node, node_address(node, self.timeout))
        except ImportError as exc:
            log.error("node %s: no %s adapter available (%s); skipped", node.name, node.kind, exc)
            return None
        projector = await asyncio.to_thread(Projector, self.db.writers, node.id)
        runner = NodeRunner(node.id, node.name, adapter, projector, self.sessions, self.db, self.pusher)
        if self.cluster:
            if node.id not in self.held:
                return None  # the lease went meanwhile
            runner.owned = self._leases_fresh
        self.nodes[node.id] = runner
        try:
            await runner.start()  # connected: resync (catch up records, desired state, live calls)
        except PbxError as exc:
            # The adapter keeps retrying by itself; the daemon serves the portal meanwhile.
            log.warning("node %s: not reachable at start: %s", node.name, exc)
        return runner

    async def stop(self) -> None:
        global CURRENT
        if self.scheduler is not None:
            scheduler, self.scheduler = self.scheduler, None
            for job in list(self._running_jobs):
                job.cancel()
            await asyncio.to_thread(scheduler.shutdown, wait=False)
        if CURRENT is self:
            CURRENT = None
        for t in self._tasks:
            t.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for task in list(self._node_tasks) + list(self._node_jobs.values()):
            task.cancel()
        for task in list(self._node_tasks):
            with contextlib.suppress(BaseException):
                await task
        for runner in self.nodes.values():
            await runner.stop()
        if self.cluster and self.address:
            # Given back at once: the other daemons take these nodes at their next tick, not a lease later.
            holder = self.holder
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._in_writer, lambda db: clustering.leave(db, holder))
        if self.is_leader:
            holder = self.holder
            with contextlib.suppress(Exception):
                await self.db.write(lambda db: db.execute(
                    update(DaemonLock).where(DaemonLock.name == "scheduler", DaemonLock.holder == holder)
                    .values(expires_at=utcnow())))
        await asyncio.to_thread(self.db.close)

    # -- cluster mode: node leases (control/cluster.py) ---------------------------------------------

    def _in_writer(self, fn: Callable[[Session], T]) -> T:
        """One short transaction of our own, in the calling (worker) thread, not behind the writer's
        queue: a lease must not lapse because projection batches wait for a busy database."""
        with self.db.writers() as db:
            return fn(db)

    def _leases_fresh(self) -> bool:
        return self.loop is not None and self.loop.time() <= self._leases_valid_until

    async def _cluster_loop(self) -> None:
        assert self.loop is not None
        intervals = {**{name: JOB_INTERVALS[name] for name in NODE_JOBS}, "catch_up": CATCH_UP_INTERVAL}
        due = {name: self.loop.time() + seconds for name, seconds in intervals.items()}
        while True:
            await asyncio.sleep(self.node_lease_seconds / 3)
            await self._lease_nodes()
            for name, seconds in intervals.items():
                running = self._node_jobs.get(name)
                if self.loop.time() >= due[name] and (running is None or running.done()):
                    due[name] = self.loop.time() + seconds
                    self._node_jobs[name] = asyncio.ensure_future(self._node_job(name))

    async def job_catch_up(self) -> int:
        """Cluster mode: read each resynced node's call records from its catch-up position, which moves
        the position forward (what was stored live is stored once). Returns the records read."""
        read = 0
        for runner in list(self.nodes.values()):
            if runner.port.connected and runner.resynced.is_set() and runner.owned():
                read += await runner.catch_up_records()
        return read

    async def _node_job(self, name: str) -> None:
        try:
            await getattr(self, f"job_{name}")()
        except Exception:
            log.exception("job %s on this daemon's nodes failed", name)

    async def _lease_nodes(self) -> None:
        """One tick: heartbeat and leases, then start the runners of the nodes taken, stop those of the
        nodes lost (another daemon took them: this one stalled) or given back."""
        assert self.loop is not None
        began = self.loop.time()
        holder, address, started = self.holder, self.address, self.started_at or utcnow()
        try:
            view = await asyncio.to_thread(self._in_writer, lambda db: clustering.tick(
                db, holder, address, started, self.node_lease_seconds))
        except Exception as exc:
            log.warning("node leases not renewed: %s", exc)
            interval = self.node_lease_seconds / 3
            if (self.nodes or self._starting) and self.loop.time() + interval >= self._leases_valid_until:
                # The next tick would come after they lapse, when another daemon may own them: two
                # owners of a node must never run.
                log.error("node leases not renewed before they lapse: stopping this daemon's %d node(s)", len(self.nodes))
                self.held = set()
                for node_id in list(self.nodes):
                    self._drop_node(node_id, handed_over=True)
            return
        self._leases_valid_until = began + self.node_lease_seconds
        self.held = set(view.held)
        for node_id in set(self.nodes) - view.held - view.shed:
            log.warning("node %d: its lease was taken by another daemon; stopping its runner", node_id)
            self._drop_node(node_id, handed_over=True)
        for node_id in view.shed:
            log.info("node %d: given back to the cluster (%d live daemons, fair share %d)", node_id, view.live,
                     view.fair)
            self._drop_node(node_id, release=True)
        for node_id in view.held - set(self.nodes) - self._starting:
            self._track(self._take_node(node_id))

    def _track(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._node_tasks.add(task)
        task.add_done_callback(self._node_tasks.discard)

    async def _take_node(self, node_id: int) -> None:
        self._starting.add(node_id)
        try:
            node = await self.db.read(lambda db: db.get(PbxNode, node_id))
            if node is None or node_id not in self.held:
                return
            log.info("node %s: lease taken; starting its runner", node.name)
            await self._start_node(node)
        except Exception:
            log.exception("node %d: runner not started", node_id)
        finally:
            self._starting.discard(node_id)

    def _drop_node(self, node_id: int, *, handed_over: bool = False, release: bool = False) -> None:
        runner = self.nodes.pop(node_id, None)
        holder = self.holder

        async def go() -> None:
            if runner is not None:
                with contextlib.suppress(Exception):
                    await runner.stop(handed_over=handed_over)
            if release:  # only once the runner stopped: the next owner never overlaps with it
                await asyncio.to_thread(self._in_writer, lambda db: clustering.release(db, holder, {node_id}))

        self._track(go())

    async def _route(self, name: str, args: Any, request: dict[str, Any]) -> dict[str, Any] | None:
        """In cluster mode, the reply of the daemon that owns the command's node when it is not this one
        (the same request, secret included, forwarded once); None: run the command here."""
        if not self.cluster or name == "ping" or not isinstance(args, dict):
            return None
        target = await self.db.read(lambda db: clustering.command_node(db, name, args))
        if target is None or target.node_id in self.nodes:
            return None
        unowned = {"ok": False, "error": "daemon_unavailable",
                   "message": f"no control daemon owns node {target.node_name} right now; try again shortly"}
        owner = None if request.get("forwarded") else await self.db.read(
            lambda db: clustering.owner_of(db, target.node_id))
        if owner is None or owner.holder == self.holder:
            return unowned if target.required else None
        return await self._forward(owner, target, request)

    async def _forward(self, owner: clustering.Owner, target: clustering.Target,
                       request: dict[str, Any]) -> dict[str, Any]:
        where = f"the control daemon owning node {target.node_name} ({owner.address})"
        payload = json.dumps({**request, "forwarded": True}).encode() + b"\n"
        try:
            host, port = clustering.split_address(owner.address)
            async with asyncio.timeout(self.timeout * 2):  # as long as this daemon's own commands may take
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_REPLY)
                try:
                    writer.write(payload)
                    await writer.drain()
                    line = await reader.readline()
                finally:
                    writer.close()
        except TimeoutError:
            return {"ok": False, "error": "daemon_unavailable", "message": f"{where} did not answer in time"}
        except (OSError, ValueError) as exc:
            return {"ok": False, "error": "daemon_unavailable", "message": f"{where} is not reachable ({exc})"}
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            return {"ok": False, "error": "daemon_unavailable", "message": f"{where} sent an unreadable reply"}
        return reply

    # -- leadership: exactly one daemon runs the jobs ----------------------------------------------

    def try_lease(self) -> bool:
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.lease_seconds)
        with self.db.writers() as db:  # one short transaction, write lock taken up front
            taken = db.connection().execute(
                update(DaemonLock)
                .where(DaemonLock.name == "scheduler",
                       (DaemonLock.holder == self.holder) | (DaemonLock.expires_at < now))
                .values(holder=self.holder, expires_at=expires)
            ).rowcount
            if not taken:
                if db.get(DaemonLock, "scheduler") is None:
                    try:
                        db.add(DaemonLock(name="scheduler", holder=self.holder, expires_at=expires))
                        db.commit()
                        taken = 1
                    except IntegrityError:  # another daemon inserted it first
                        db.rollback()
                        taken = 0
            else:
                db.commit()
        self.is_leader = bool(taken)
        return self.is_leader

    async def _lease_loop(self) -> None:
        while True:
            try:
                # In a thread of its own, not behind the writer's queue: the lease must not lapse because
                # projection batches wait for a busy database.
                await asyncio.to_thread(self.try_lease)
            except Exception as exc:
                if is_busy(exc):
                    log.warning("job lease renewal: database busy; retried in %.0f s", self.lease_seconds / 3)
                else:
                    log.exception("job lease renewal failed")
            await asyncio.sleep(self.lease_seconds / 3)

    def _start_scheduler(self) -> None:
        """APScheduler with its jobs in the database (they survive a restart); every daemon schedules
        them, but a job body runs only in the daemon that holds the lease. The scheduler and its job store
        run on their own thread (a BackgroundScheduler), so the job store's database writes never block
        the event loop; each job body is run on the loop (`run_job`)."""
        global CURRENT
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        CURRENT = self
        engine = base_engine(self.sessions)
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
        for name, seconds in JOB_INTERVALS.items():
            self.scheduler.add_job(f"{__name__}:run_job", "interval", seconds=seconds, args=[name], id=name,
                                   replace_existing=True)
        self.scheduler.start()

    async def run_job(self, name: str) -> Any:
        if not self.is_leader or (self.cluster and name in NODE_JOBS):
            return None
        job: Callable[[], Awaitable[Any]] = getattr(self, f"job_{name}")
        return await job()

    async def job_live_sweep(self) -> int:
        """A live call whose channels are gone from the PBX is removed, on both PBXs: a Hangup the
        daemon missed (or a call its translator could not pair up, such as a phone calling itself)
        must not leave a ghost in "Appels en cours". Returns the number of calls removed."""
        removed = 0
        for runner in self.nodes.values():
            if not runner.port.connected:
                continue
            try:
                present = {c.call_id for c in await runner.port.live_calls()}
            except PbxError as exc:
                log.info("node %s: live-call sweep skipped: %s", runner.name, exc)
                continue
            cutoff = utcnow() - LIVE_SWEEP_GRACE
            for call in list(runner.projector.calls.values()):
                if call.call_id not in present and call.started_at < cutoff:
                    runner.projector.handle(CallEnded(utcnow(), call.call_id))
                    removed += 1
        return removed

    async def job_reconcile(self) -> int:
        """Periodic drift repair: re-assert every node's desired state."""
        applied = 0
        for runner in self.nodes.values():
            if runner.port.connected:
                applied += (await self.pusher.reassert_node(runner.port, runner.node_id)).applied
        return applied

    async def job_webconf_usage(self) -> int:
        """Minutes of the web meetings held, as Zoom reports them (control/webconf.py), off the loop."""
        from .webconf import refresh_all_usage

        def run() -> int:
            with self.sessions() as db:
                return refresh_all_usage(db)

        return await asyncio.to_thread(run)

    async def job_retention(self) -> int:
        """Delete call records older than each tenant's retention."""
        from sqlalchemy import delete

        from .models import CallRecord

        tenants = await self.db.read(lambda db: [(t.id, t.cdr_retention_days) for t in db.scalars(select(Tenant))])
        removed = 0
        for tenant_id, days in tenants:
            cutoff = utcnow() - dt.timedelta(days=days)

            def chunk(db: Session, tenant_id: int = tenant_id, cutoff: dt.datetime = cutoff) -> int:
                ids = select(CallRecord.id).where(CallRecord.tenant_id == tenant_id,
                                                  CallRecord.started_at < cutoff).limit(RETENTION_CHUNK)
                return int(db.connection().execute(delete(CallRecord).where(CallRecord.id.in_(ids))
                                      .execution_options(synchronize_session=False)).rowcount)

            # Many short transactions rather than one long one: the portal's writes pass in between.
            while (done := await self.db.write(chunk)) > 0:
                removed += done
                if done < RETENTION_CHUNK:
                    break
        return removed

    async def job_out_of_office(self) -> int:
        """Switch each user's out-of-office greeting on and off at their dates (their time zone)."""
        from zoneinfo import ZoneInfo

        now = self.clock().replace(tzinfo=dt.UTC)

        def switch(db: Session) -> tuple[int, list[tuple[int, int | None]]]:
            """One short write: flip the greetings that are due; return them and the users to push."""
            changed = 0
            rows = db.execute(select(VoicemailSettings, User, Tenant).join(User, User.id == VoicemailSettings.user_id)
                              .join(Tenant, Tenant.id == User.tenant_id)
                              .where((VoicemailSettings.ooo_enabled.is_(True))
                                     | (VoicemailSettings.ooo_active.is_(True)))).all()
            for vm, user, tenant in rows:
                today = now.astimezone(ZoneInfo(user.timezone or tenant.timezone)).date()
                due = desired.out_of_office_due(vm, today)
                if due != vm.ooo_active:
                    vm.ooo_active = due
                    vm.sync_state = SyncState.PENDING
                    changed += 1
            return changed, [(user.id, tenant.node_id) for vm, user, tenant in rows
                             if vm.sync_state is SyncState.PENDING]

        changed, to_push = await self.db.write(switch)
        # Then the PBX, with no transaction open.
        for user_id, node_id in to_push:
            runner = self.nodes.get(node_id or -1)
            if runner is not None and runner.port.connected:
                await self.pusher.push_user(runner.port, user_id)
        return changed

    # -- command channel ---------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout=10)
            reply = await self.handle_command(line)
        except (TimeoutError, ValueError, asyncio.LimitOverrunError) as exc:
            reply = {"ok": False, "error": "invalid", "message": str(exc)}
        try:
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    async def handle_command(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except ValueError:
            return {"ok": False, "error": "invalid", "message": "not JSON"}
        if not isinstance(request, dict) or not check_secret(self.secret, request.get("secret")):
            return {"ok": False, "error": "forbidden", "message": "bad secret"}
        name = request.get("command")
        handler: Callable[..., Awaitable[dict[str, Any]]] | None = getattr(self, f"cmd_{name}", None)
        if not isinstance(name, str) or not name.isidentifier() or handler is None:
            return {"ok": False, "error": "invalid", "message": f"unknown command {name!r}"}
        args = request.get("args") or {}
        routed = await self._route(name, args, request)
        if routed is not None:
            return routed
        try:
            result = await asyncio.wait_for(handler(**args), timeout=self.timeout * 2)
        except PbxError as exc:
            return {"ok": False, "error": type(exc).__name__, "message": str(exc)}
        except InvalidValue as exc:
            return {"ok": False, "error": "invalid", "message": f"{exc.field}: {exc.code}"}
        except (TypeError, LookupError) as exc:
            return {"ok": False, "error": "invalid", "message": str(exc)}
        except TimeoutError:
            return {"ok": False, "error": "PbxTimeout", "message": "the PBX did not answer in time"}
        return {"ok": True, "result": result}

    async def _for_user(self, user_id: int, facts: Callable[[Session, User], T]) -> tuple[NodeRunner, T]:
        """The user's node and what `facts` reads about the user, in one short read off the loop; the PBX
        is talked to afterwards, with no session open."""
        uid = int(user_id)

        def read(db: Session) -> tuple[int | None, T]:
            user = db.get(User, uid)
            if user is None:
                raise LookupError("no such user")
            return user.tenant.node_id, facts(db, user)

        node_id, value = await self.db.read(read)
        runner = self.nodes.get(node_id or -1)
        if runner is None:
            raise LookupError("the user's tenant has no running PBX node")
        return runner, value

    async def cmd_ping(self) -> dict[str, Any]:
        return {"holder": self.holder, "leader": self.is_leader, "cluster": self.cluster, "address": self.address,
                "nodes": {r.name: {"connected": r.port.connected, "events": r.projector.stats.events}
                          for r in self.nodes.values()}}

    async def cmd_reload_node(self, node: str, files: list[str] | None = None) -> dict[str, Any]:
        """`files`: the generated files that changed (only their modules are reloaded); none: all."""
        runner = next((r for r in self.nodes.values() if r.name == node), None)
        if runner is None:
            raise LookupError(f"no running node named {node!r}")
        names = [str(f)[:200] for f in (files or [])][:50]
        await runner.port.reload_configuration(names)
        return {"node": node, "files": names}

    async def cmd_test_node(self, node_id: int) -> dict[str, Any]:
        """The admin's "test connection": a short-lived connection with the node's stored credentials,
        through the same adapter factory, logged in and closed again. Answers within the portal's
        command timeout with ok and a message (never the secret)."""
        budget = max(1.0, self.timeout * 0.8)
        node = await self.db.read(lambda db: db.get(PbxNode, int(node_id)))
        if node is None:
            raise LookupError("no such node")
        address = node_address(node, max(0.5, budget / 3))
        where = f"{node.kind.value} {node.host}:{node.port}"
        try:
            adapter = self.port_factory(node, address)
        except Exception as exc:  # an invalid option, a missing adapter
            return {"ok": False, "message": f"{where}: {exc}"}
        try:
            await asyncio.wait_for(adapter.start(), timeout=budget * 0.75)
        except PbxError as exc:
            return {"ok": False, "message": f"{where}: {exc}"}
        except TimeoutError:
            return {"ok": False, "message": f"{where}: no answer within {budget * 0.75:.1f} s"}
        except Exception as exc:
            return {"ok": False, "message": f"{where}: {type(exc).__name__}: {exc}"}
        finally:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(adapter.stop(), timeout=budget * 0.25)
        return {"ok": True, "message": f"{where}: logged in"}

    async def cmd_apply_user(self, user_id: int, wait: float | None = None) -> dict[str, Any]:
        """Push a user's saved settings now. With `wait`, answer after that many seconds at most: if the
        push is not done by then it goes on (its outcome is recorded on the rows as always) and the
        answer says so (`in_progress`)."""
        task = asyncio.ensure_future(self._apply_user(user_id))
        self._applying.add(task)
        task.add_done_callback(self._apply_done)
        if wait is None:
            return await task
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(0.0, float(wait)))
        except TimeoutError:
            return {"applied": 0, "pending": 1, "errors": [], "in_progress": True}

    def _apply_done(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._applying.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("applying a user's settings failed: %s", task.exception())

    async def _apply_user(self, user_id: int) -> dict[str, Any]:
        runner, uid = await self._for_user(user_id, lambda db, user: user.id)
        result = await self.pusher.push_user(runner.port, uid)
        # Mailbox PIN and e-mail options live in the generated voicemail configuration.
        config_error = await runner.apply_config() if result.pending == 0 else ""
        if config_error:
            def mark(db: Session) -> int:
                return int(db.connection().execute(update(VoicemailSettings).where(VoicemailSettings.user_id == uid)
                                      .values(sync_state=SyncState.PENDING, sync_error=config_error[:500],
                                              updated_at=VoicemailSettings.updated_at)).rowcount)

            if await self.db.write(mark):
                result.pending += 1
                result.errors.append(config_error)
        return {"applied": result.applied, "pending": result.pending, "errors": result.errors}

    async def cmd_resync_phone(self, user_id: int) -> dict[str, Any]:
        from .models import Device
        from .pbxnames import PbxNames

        def facts(db: Session, user: User) -> tuple[PhoneVendor, list[str]]:
            devices = db.scalars(select(Device).where(Device.user_id == user.id)).all()
            known = {v.value for v in PhoneVendor}
            vendor = PhoneVendor(devices[0].vendor) if devices and devices[0].vendor in known else PhoneVendor.OTHER
            names = PbxNames.for_tenant(db, user.tenant)
            return vendor, [names.endpoint(e.sip_username) for e in user.extensions]

        runner, (vendor, endpoints) = await self._for_user(user_id, facts)
        for ep in endpoints:
            await runner.port.resync_phone(ep, vendor)
        return {"endpoints": endpoints}

    async def _mailboxes(self, user_id: int) -> tuple[NodeRunner, list[str]]:
        from .pbxnames import PbxNames

        def boxes(db: Session, user: User) -> list[str]:
            names = PbxNames.for_tenant(db, user.tenant)
            return [names.mailbox(e) for e in user.extensions if e.mailbox]

        return await self._for_user(user_id, boxes)

    async def cmd_voicemail_list(self, user_id: int) -> dict[str, Any]:
        """The user's own messages: the mailbox comes from the user, never from the request."""
        runner, boxes = await self._mailboxes(user_id)
        out = []
        for box in boxes:
            for m in await runner.port.voicemail_messages(box):
                out.append({"id": m.message_id, "mailbox": box, "folder": m.folder.value, "caller": m.caller_id,
                            "received_at": m.received_at.isoformat(), "duration": m.duration_seconds})
        return {"messages": out}

    async def _own_message(self, user_id: int, message_id: str) -> tuple[NodeRunner, str]:
        runner, boxes = await self._mailboxes(user_id)
        for box in boxes:
            if any(m.message_id == message_id for m in await runner.port.voicemail_messages(box)):
                return runner, box
        raise LookupError("no such message")

    async def cmd_voicemail_audio(self, user_id: int, message_id: str) -> dict[str, Any]:
        import base64

        runner, box = await self._own_message(user_id, str(message_id))
        audio = await runner.port.voicemail_audio(box, str(message_id))
        if len(audio) > 24 << 20:
            raise LookupError("message too large")
        return {"audio": base64.b64encode(audio).decode()}

    async def cmd_voicemail_delete(self, user_id: int, message_ids: list[str]) -> dict[str, Any]:
        deleted = 0
        for mid in [str(m) for m in message_ids][:500]:
            runner, box = await self._own_message(user_id, mid)
            await runner.port.voicemail_delete(box, [mid])
            deleted += 1
        runner, boxes = await self._mailboxes(user_id)
        for box in boxes:
            await runner.port.voicemail_refresh(box)  # the phone's message-waiting light
        return {"deleted": deleted}

    async def cmd_voicemail_mark_heard(self, user_id: int, message_ids: list[str]) -> dict[str, Any]:
        from .port import MailboxFolder

        moved = 0
        for mid in [str(m) for m in message_ids][:500]:
            runner, box = await self._own_message(user_id, mid)
            await runner.port.voicemail_move(box, [mid], MailboxFolder.OLD)
            moved += 1
        runner, boxes = await self._mailboxes(user_id)
        for box in boxes:
            await runner.port.voicemail_refresh(box)
        return {"moved": moved}

    async def cmd_click_to_call(self, user_id: int, number: str) -> dict[str, Any]:
        from .models import Extension
        from .pbxnames import PbxNames

        number = phone_number(number)

        def endpoint_of(db: Session, user: User) -> tuple[str, str, str]:
            ext = user.primary_extension
            if ext is None:
                raise LookupError("the user has no extension")
            # The user's allowed destinations, whoever sent the command (the portal and the API check
            # first, for a worded refusal; this is the check no other way in can skip).
            try:
                check_click_to_call(db, user, number)
            except SettingRefused as exc:
                raise InvalidValue("number", exc.code) from None
            names = PbxNames.for_tenant(db, user.tenant)
            # What the user's own phone shows while it rings first: whom it is about to call (the colleague's
            # name for an extension of the company), as PBX portals do, never "Anonymous".
            callee = db.scalar(select(Extension).where(Extension.tenant_id == user.tenant_id,
                                                       Extension.number == number))
            name = callee.user.display_name if callee is not None and callee.user is not None else ""
            shown = f'"{name}" <{number}>' if name and not set(name) & set('"<>') else number
            # The user's phone in its tenant's namespace, and the number dialled in the tenant's context.
            return names.endpoint(ext.sip_username), names.context, shown

        runner, (endpoint, context, shown) = await self._for_user(user_id, endpoint_of)
        await runner.port.click_to_call(endpoint, number, caller_id=shown, context=context)
        return {"endpoint": endpoint, "number": number}

    # -- personal conference: the room always comes from the user, never from the request -----------

    async def _own_room(self, user_id: int) -> tuple[NodeRunner, str]:
        from .conference import room_name

        return await self._for_user(user_id, room_name)

    async def cmd_conference_participants(self, user_id: int) -> dict[str, Any]:
        runner, room = await self._own_room(user_id)
        people = await runner.port.conference_participants(room)
        return {"room": room, "participants": [
            {"id": p.participant_id, "number": p.caller_number, "name": p.caller_name, "admin": p.admin,
             "muted": p.muted, "listen_only": p.listen_only} for p in people]}

    async def _own_participant(self, user_id: int, participant_id: str) -> tuple[NodeRunner, str, str]:
        runner, room = await self._own_room(user_id)
        pid = str(participant_id)
        # Only someone in the owner's room right now: an id from another room is "not found".
        if not any(p.participant_id == pid for p in await runner.port.conference_participants(room)):
            raise LookupError("no such participant")
        return runner, room, pid

    async def cmd_conference_kick(self, user_id: int, participant_id: str) -> dict[str, Any]:
        runner, room, pid = await self._own_participant(user_id, participant_id)
        await runner.port.conference_kick(room, pid)
        return {"room": room, "kicked": pid}

    async def cmd_conference_mute(self, user_id: int, participant_id: str, muted: bool) -> dict[str, Any]:
        runner, room, pid = await self._own_participant(user_id, participant_id)
        await runner.port.conference_mute(room, pid, bool(muted))
        return {"room": room, "participant": pid, "muted": bool(muted)}

    # -- SMS: messages saved by the portal, sent from here (control/sms.py) ------------------------------

    def _sms_context(self) -> Any:
        from . import sms
        from .config import load_settings

        if self.settings is None:
            self.settings = load_settings()

        def port_for_tenant(tenant: Tenant) -> PbxPort | None:
            runner = self.nodes.get(tenant.node_id or -1)
            return runner.port if runner is not None else None

        return sms.SmsContext(port_for_tenant, self.settings.public_url, self.settings.secret_key)

    async def cmd_sms_send(self, message_id: int) -> dict[str, Any]:
        from . import sms

        # Shielded: if the portal stops waiting, the send still finishes and records its outcome.
        task = asyncio.ensure_future(sms.deliver(self.sessions, int(message_id), self._sms_context(), self.clock))
        return await asyncio.shield(task)

    async def job_sms_retry(self) -> int:
        """Send the messages still queued (saved while the daemon or the PBX was unreachable)."""
        from . import sms

        now = self.clock()
        ids = await self.db.write(lambda db: sms.due_messages(db, now))
        sent = 0
        for message_id in ids:
            request = {"secret": self.secret, "command": "sms_send", "args": {"message_id": message_id}}
            routed = await self._route("sms_send", request["args"], request)  # another daemon's node
            if routed is not None:
                sent += bool(routed.get("ok")) and (routed.get("result") or {}).get("status") == "sent"
                continue
            try:
                result = await sms.deliver(self.sessions, message_id, self._sms_context(), self.clock)
            except Exception:
                log.exception("sms %s: retry failed", message_id)
                continue
            sent += result["status"] == "sent"
        return sent


def advertised_address(host: str, port: int) -> str:
    """The "host:port" other daemons reach a command channel bound to host at: the machine's name when
    it listens on every address."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 (a comparison, not a bind)
        host = socket.getfqdn()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def run_forever(daemon: ControlDaemon, stop: asyncio.Event) -> None:
    await daemon.start()
    log.info("control daemon listening on %s:%d with %d node(s)", daemon.host, daemon.port, len(daemon.nodes))
    try:
        await stop.wait()
    finally:
        await daemon.stop()
