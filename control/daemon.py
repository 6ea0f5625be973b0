"""The control daemon (`clusterpbx control`): owns every PBX connection, projects live state into the
database, ingests call records, keeps desired state applied, answers the portal's command channel and
runs the scheduled jobs (exactly one daemon runs them, by a lease in the database)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from . import desired
from .commands import MAX_LINE, check_secret
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
from .port import CallRecorded, Connected, Disconnected, NodeAddress, PbxError, PbxEvent, PbxPort, PhoneVendor
from .projection import Projector
from .validation import InvalidValue, phone_number

log = logging.getLogger(__name__)

PortFactory = Callable[[PbxNode, NodeAddress], PbxPort]
JOBS_TABLE = "apscheduler_jobs"
JOB_INTERVALS = {"out_of_office": 60, "reconcile": 300, "retention": 86400, "sms_retry": 60,
                 "webconf_usage": 900}
CURRENT: ControlDaemon | None = None


async def run_job(name: str) -> Any:
    """Entry point APScheduler stores by reference; dispatches to the running daemon."""
    if CURRENT is None:
        return None
    return await CURRENT.run_job(name)


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
    """One node: its adapter, its projector, and the tasks that keep both honest."""

    node_id: int
    name: str
    port: PbxPort
    projector: Projector
    sessions: sessionmaker[Session]
    flush_interval: float = 0.1
    retry_interval: float = 5.0
    connected_since: dt.datetime | None = None
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    resyncs: int = 0
    resynced: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, event: PbxEvent) -> None:
        self.projector.handle(event)
        if isinstance(event, Connected):
            self.connected_since = event.at
            self._tasks.append(asyncio.ensure_future(self.resync()))
        elif isinstance(event, Disconnected):
            self.connected_since = None
            self.resynced.clear()

    async def start(self) -> None:
        self.port.subscribe(self.on_event)
        self._tasks.append(asyncio.ensure_future(self._flush_loop()))
        self._tasks.append(asyncio.ensure_future(self._retry_loop()))
        await self.port.start()

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.port.stop()
        with contextlib.suppress(Exception):
            self.projector.flush()
        self._write_health(False)

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
        await self.flush()
        await self.catch_up_records()
        with self.sessions() as db:
            result = await desired.reassert_node(db, self.port, self.node_id)
        log.info("node %s: resynced (%d applied, %d pending)", self.name, result.applied, result.pending)
        self.resyncs += 1
        self.resynced.set()
        self._write_health(True)

    async def flush(self) -> int:
        # The batch is taken on the loop thread, where events arrive, and written in a worker thread.
        return await asyncio.to_thread(self.projector.write, self.projector.take())

    async def catch_up_records(self) -> int:
        """Ingest what the PBX recorded while the link was down, from the position last remembered."""
        with self.sessions() as db:
            health = db.get(NodeHealth, self.node_id)
            position = health.cdr_position if health else ""
        try:
            reports, new_position = await self.port.call_records_since(position)
        except PbxError as exc:
            log.warning("node %s: call record catch-up failed: %s", self.name, exc)
            return 0
        for report in reports:
            self.projector.handle(CallRecorded(utcnow(), report))
        await self.flush()
        if new_position != position:
            with self.sessions() as db:
                row = db.get(NodeHealth, self.node_id) or NodeHealth(node_id=self.node_id)
                row.cdr_position = new_position
                db.merge(row)
                db.commit()
        return len(reports)

    async def apply_config(self) -> str:
        """Regenerate the node's configuration files where the operator asked for them (config_dir) and
        reload the PBX if any changed. Returns an error text, empty on success or when not configured."""
        def render() -> bool:
            from clusterpbx.dialplan.from_db import node_snapshot
            from clusterpbx.dialplan.render import render_node, write_files

            with self.sessions() as db:
                node = db.get(PbxNode, self.node_id)
                if node is None:
                    return False
                if not node.config_dir:
                    # FreeSWITCH fetching live over mod_xml_curl only needs its cache dropped.
                    return node.kind is NodeKind.FREESWITCH
                files = render_node(node_snapshot(db, node))
                return bool(write_files(files, node.config_dir))

        try:
            if await asyncio.to_thread(render):
                await self.port.reload_configuration()
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
                if self.projector.pending:
                    await self.flush()
            except Exception:  # the database may be briefly unavailable; events stay in memory
                log.exception("node %s: flush failed; will retry", self.name)

    async def _retry_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            try:
                self._write_health(self.port.connected)
                if self.port.connected:
                    with self.sessions() as db:
                        await desired.reassert_node(db, self.port, self.node_id, only_pending=True)
            except Exception:
                log.exception("node %s: retry of pending changes failed", self.name)

    def _write_health(self, connected: bool) -> None:
        with self.sessions() as db:
            row = db.get(NodeHealth, self.node_id) or NodeHealth(node_id=self.node_id)
            if connected and not row.connected:
                row.since = self.connected_since or utcnow()
            row.connected = connected
            row.last_event_at = self.projector.stats.last_event_at
            db.merge(row)
            db.commit()


class ControlDaemon:
    def __init__(self, sessions: sessionmaker[Session], secret: str, *, host: str = "127.0.0.1", port: int = 8765,
                 port_factory: PortFactory = default_port_factory, timeout: float = 5.0,
                 clock: Callable[[], dt.datetime] = utcnow, lease_seconds: float = 30.0):
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

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        with self.sessions() as db:
            nodes = db.scalars(select(PbxNode).where(PbxNode.enabled.is_(True)).order_by(PbxNode.id)).all()
        for node in nodes:
            try:
                adapter = self.port_factory(node, node_address(node, self.timeout))
            except ImportError as exc:
                log.error("node %s: no %s adapter available (%s); skipped", node.name, node.kind, exc)
                continue
            projector = await asyncio.to_thread(Projector, self.sessions, node.id)
            runner = NodeRunner(node.id, node.name, adapter, projector, self.sessions)
            self.nodes[node.id] = runner
            try:
                await runner.start()
            except PbxError as exc:
                # The adapter keeps retrying by itself; the daemon serves the portal meanwhile.
                log.warning("node %s: not reachable at start: %s", node.name, exc)
        self.server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE)
        self.port = self.server.sockets[0].getsockname()[1]
        self._tasks.append(asyncio.ensure_future(self._lease_loop()))
        self._start_scheduler()

    async def stop(self) -> None:
        global CURRENT
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
            self.scheduler = None
        if CURRENT is self:
            CURRENT = None
        for t in self._tasks:
            t.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for runner in self.nodes.values():
            await runner.stop()
        if self.is_leader:
            with self.sessions() as db:
                db.execute(update(DaemonLock).where(DaemonLock.name == "scheduler",
                                                    DaemonLock.holder == self.holder)
                           .values(expires_at=utcnow()))
                db.commit()

    # -- leadership: exactly one daemon runs the jobs ----------------------------------------------

    def try_lease(self) -> bool:
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.lease_seconds)
        with self.sessions() as db:
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
                await asyncio.to_thread(self.try_lease)
            except Exception:
                log.exception("job lease renewal failed")
            await asyncio.sleep(self.lease_seconds / 3)

    def _start_scheduler(self) -> None:
        """APScheduler with its jobs in the database (they survive a restart); every daemon schedules
        them, but a job body runs only in the daemon that holds the lease."""
        global CURRENT
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        CURRENT = self
        engine = self.sessions.kw["bind"]
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
        for name, seconds in JOB_INTERVALS.items():
            self.scheduler.add_job(f"{__name__}:run_job", "interval", seconds=seconds, args=[name], id=name,
                                   replace_existing=True)
        self.scheduler.start()

    async def run_job(self, name: str) -> Any:
        if not self.is_leader:
            return None
        job: Callable[[], Awaitable[Any]] = getattr(self, f"job_{name}")
        return await job()

    async def job_reconcile(self) -> int:
        """Periodic drift repair: re-assert every node's desired state."""
        applied = 0
        for runner in self.nodes.values():
            if runner.port.connected:
                with self.sessions() as db:
                    applied += (await desired.reassert_node(db, runner.port, runner.node_id)).applied
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

        removed = 0
        with self.sessions() as db:
            for tenant in db.scalars(select(Tenant)):
                cutoff = utcnow() - dt.timedelta(days=tenant.cdr_retention_days)
                removed += db.connection().execute(
                    delete(CallRecord).where(CallRecord.tenant_id == tenant.id, CallRecord.started_at < cutoff)
                ).rowcount
            db.commit()
        return removed

    async def job_out_of_office(self) -> int:
        """Switch each user's out-of-office greeting on and off at their dates (their time zone)."""
        from zoneinfo import ZoneInfo

        changed = 0
        now = self.clock().replace(tzinfo=dt.UTC)
        with self.sessions() as db:
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
            db.commit()
            for vm, user, tenant in rows:
                if vm.sync_state is SyncState.PENDING and tenant.node_id in self.nodes:
                    runner = self.nodes[tenant.node_id]
                    if runner.port.connected:
                        await desired.push_user(db, runner.port, user)
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

    def _user_and_runner(self, user_id: int) -> tuple[Session, User, NodeRunner]:
        db = self.sessions()
        user = db.get(User, int(user_id))
        if user is None:
            db.close()
            raise LookupError("no such user")
        runner = self.nodes.get(user.tenant.node_id or -1)
        if runner is None:
            db.close()
            raise LookupError("the user's tenant has no running PBX node")
        return db, user, runner

    async def cmd_ping(self) -> dict[str, Any]:
        return {"holder": self.holder, "leader": self.is_leader,
                "nodes": {r.name: {"connected": r.port.connected, "events": r.projector.stats.events}
                          for r in self.nodes.values()}}

    async def cmd_reload_node(self, node: str) -> dict[str, Any]:
        runner = next((r for r in self.nodes.values() if r.name == node), None)
        if runner is None:
            raise LookupError(f"no running node named {node!r}")
        await runner.port.reload_configuration()
        return {"node": node}

    async def cmd_test_node(self, node_id: int) -> dict[str, Any]:
        """The admin's "test connection": a short-lived connection with the node's stored credentials,
        through the same adapter factory, logged in and closed again. Answers within the portal's
        command timeout with ok and a message (never the secret)."""
        budget = max(1.0, self.timeout * 0.8)
        with self.sessions() as db:
            node = db.get(PbxNode, int(node_id))
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

    async def cmd_apply_user(self, user_id: int) -> dict[str, Any]:
        db, user, runner = self._user_and_runner(user_id)
        try:
            result = await desired.push_user(db, runner.port, user)
            vm = db.get(VoicemailSettings, user.id)
            # Mailbox PIN and e-mail options live in the generated voicemail configuration.
            config_error = await runner.apply_config() if result.pending == 0 else ""
            if config_error and vm is not None:
                vm.sync_state = SyncState.PENDING
                vm.sync_error = config_error[:500]
                db.commit()
                result.pending += 1
                result.errors.append(config_error)
        finally:
            db.close()
        return {"applied": result.applied, "pending": result.pending, "errors": result.errors}

    async def cmd_resync_phone(self, user_id: int) -> dict[str, Any]:
        db, user, runner = self._user_and_runner(user_id)
        try:
            from .models import Device

            devices = db.scalars(select(Device).where(Device.user_id == user.id)).all()
            known = {v.value for v in PhoneVendor}
            vendor = PhoneVendor(devices[0].vendor) if devices and devices[0].vendor in known else PhoneVendor.OTHER
            endpoints = [e.sip_username for e in user.extensions]
        finally:
            db.close()
        for ep in endpoints:
            await runner.port.resync_phone(ep, vendor)
        return {"endpoints": endpoints}

    def _mailboxes(self, user_id: int) -> tuple[NodeRunner, list[str]]:
        from .pbxnames import PbxNames

        db, user, runner = self._user_and_runner(user_id)
        try:
            names = PbxNames.for_tenant(db, user.tenant)
            return runner, [names.mailbox(e) for e in user.extensions if e.mailbox]
        finally:
            db.close()

    async def cmd_voicemail_list(self, user_id: int) -> dict[str, Any]:
        """The user's own messages: the mailbox comes from the user, never from the request."""
        runner, boxes = self._mailboxes(user_id)
        out = []
        for box in boxes:
            for m in await runner.port.voicemail_messages(box):
                out.append({"id": m.message_id, "mailbox": box, "folder": m.folder.value, "caller": m.caller_id,
                            "received_at": m.received_at.isoformat(), "duration": m.duration_seconds})
        return {"messages": out}

    async def _own_message(self, user_id: int, message_id: str) -> tuple[NodeRunner, str]:
        runner, boxes = self._mailboxes(user_id)
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
        runner, boxes = self._mailboxes(user_id)
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
        runner, boxes = self._mailboxes(user_id)
        for box in boxes:
            await runner.port.voicemail_refresh(box)
        return {"moved": moved}

    async def cmd_click_to_call(self, user_id: int, number: str) -> dict[str, Any]:
        number = phone_number(number)
        db, user, runner = self._user_and_runner(user_id)
        try:
            ext = user.primary_extension
            if ext is None:
                raise LookupError("the user has no extension")
            endpoint = ext.sip_username
        finally:
            db.close()
        await runner.port.click_to_call(endpoint, number)
        return {"endpoint": endpoint, "number": number}

    # -- personal conference: the room always comes from the user, never from the request -----------

    def _own_room(self, user_id: int) -> tuple[NodeRunner, str]:
        from .conference import room_name

        db, user, runner = self._user_and_runner(user_id)
        try:
            return runner, room_name(db, user)
        finally:
            db.close()

    async def cmd_conference_participants(self, user_id: int) -> dict[str, Any]:
        runner, room = self._own_room(user_id)
        people = await runner.port.conference_participants(room)
        return {"room": room, "participants": [
            {"id": p.participant_id, "number": p.caller_number, "name": p.caller_name, "admin": p.admin,
             "muted": p.muted, "listen_only": p.listen_only} for p in people]}

    async def _own_participant(self, user_id: int, participant_id: str) -> tuple[NodeRunner, str, str]:
        runner, room = self._own_room(user_id)
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

        with self.sessions() as db:
            ids = sms.due_messages(db, self.clock())
        sent = 0
        for message_id in ids:
            try:
                result = await sms.deliver(self.sessions, message_id, self._sms_context(), self.clock)
            except Exception:
                log.exception("sms %s: retry failed", message_id)
                continue
            sent += result["status"] == "sent"
        return sent


async def run_forever(daemon: ControlDaemon, stop: asyncio.Event) -> None:
    await daemon.start()
    log.info("control daemon listening on %s:%d with %d node(s)", daemon.host, daemon.port, len(daemon.nodes))
    try:
        await stop.wait()
    finally:
        await daemon.stop()
