"""The control daemon (`clusterpbx control`): owns every PBX connection, projects live state into the
database, ingests call records, keeps desired state applied, answers the portal's command channel and
runs the scheduled jobs (exactly one daemon runs them, by a lease in the database).

This module is the daemon's lifecycle: its node runners (runner.py), the scheduler lease, cluster mode's
node leases, and the command channel (channel.py) dispatching to the commands the features registered
(registry.py). In cluster mode (`control_cluster`, control/cluster.py) several daemons share one
PostgreSQL: each owns the nodes it holds a lease on, takes over the nodes of a daemon that died, and
forwards a command for another daemon's node to that daemon."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from .. import cluster as clustering
from ..commands import MAX_LINE
from ..db import AsyncDb, base_engine, is_busy
from ..models import DaemonLock, PbxNode, User, utcnow
from ..port import PbxError
from . import desired
from . import scheduler as scheduling
from .channel import CommandChannel, advertised_address
from .projection import Projector
from .registry import CLUSTER_JOB_INTERVALS, JOB_INTERVALS, JOBS
from .runner import NodeRunner
from .wiring import PortFactory, default_port_factory, node_address

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        self.running_jobs: set[concurrent.futures.Future[Any]] = set()  # job runs the scheduler waits for
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
        self.channel = CommandChannel(self, secret, timeout, self.db, self.holder, cluster, self.nodes.__contains__)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        if self.cluster:
            refused = clustering.refusal(str(base_engine(self.sessions).url))
            if refused:
                raise RuntimeError(refused)
            # The command channel first: its address is what the other daemons forward commands to.
            self.server = await asyncio.start_server(self.channel.serve, self.host, self.port, limit=MAX_LINE)
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
            self.server = await asyncio.start_server(self.channel.serve, self.host, self.port, limit=MAX_LINE)
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
        if self.scheduler is not None:
            scheduler, self.scheduler = self.scheduler, None
            for job in list(self.running_jobs):
                job.cancel()
            await asyncio.to_thread(scheduler.shutdown, wait=False)
        scheduling.forget(self)
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
        intervals = {name: JOB_INTERVALS.get(name) or CLUSTER_JOB_INTERVALS[name]
                     for name, job in JOBS.items() if job.per_node}
        due = {name: self.loop.time() + seconds for name, seconds in intervals.items()}
        while True:
            await asyncio.sleep(self.node_lease_seconds / 3)
            try:
                await self._lease_nodes()
                for name, seconds in intervals.items():
                    running = self._node_jobs.get(name)
                    if self.loop.time() >= due[name] and (running is None or running.done()):
                        due[name] = self.loop.time() + seconds
                        self._node_jobs[name] = asyncio.ensure_future(self._node_job(name))
            except Exception:
                # Never the end of the loop: a daemon that stops ticking holds nodes nobody runs until
                # their leases lapse, and never takes over another daemon's.
                log.exception("cluster tick failed; the next one comes in %.0f s", self.node_lease_seconds / 3)

    async def _node_job(self, name: str) -> None:
        try:
            await JOBS[name].run(self)
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
        """Every daemon schedules every job (scheduler.py); a job body runs only in the lease holder."""
        self.scheduler = scheduling.start_scheduler(self, base_engine(self.sessions))

    async def run_job(self, name: str) -> Any:
        """Run a job of the registry if this daemon is the leader (in cluster mode, the jobs about the
        daemon's own nodes run on each daemon's own timer instead: `_cluster_loop`)."""
        job = JOBS[name]
        if not self.is_leader or (self.cluster and job.per_node):
            return None
        return await job.run(self)


    async def for_user(self, user_id: int, facts: Callable[[Session, User], T]) -> tuple[NodeRunner, T]:
        """For a command about a user: the user's node and what `facts` reads about the user, in one short read off the loop; the PBX
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


async def run_forever(daemon: ControlDaemon, stop: asyncio.Event) -> None:
    await daemon.start()
    log.info("control daemon listening on %s:%d with %d node(s)", daemon.host, daemon.port, len(daemon.nodes))
    try:
        await stop.wait()
    finally:
        await daemon.stop()
