"""Desired state: what users saved in the portal, pushed to their node through the port.

A setting is saved first (rows marked pending), then pushed; success marks it applied, a PBX error
leaves it pending with the reason, and the control daemon retries pending rows and re-asserts the
whole desired state of a node every time the link comes back (drift repair).

No transaction is open while the PBX is talked to (docs/transactions.md): see `Pusher`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..db import AsyncDb
from ..models import (
    CallSettings,
    PersonalConference,
    Queue,
    QueueMembership,
    SyncState,
    Tenant,
    User,
    VoicemailSettings,
    utcnow,
)
from ..pbxnames import PbxNames
from ..port import ConferenceSettings, ExtensionFeatures, PbxError, PbxPort

log = logging.getLogger(__name__)


def features_for(user: User, call: CallSettings | None, vm: VoicemailSettings | None) -> ExtensionFeatures:
    call = call or CallSettings(user_id=user.id)
    numbers = tuple(n.strip() for n in (call.followme_numbers or "").split(",") if n.strip())
    return ExtensionFeatures(
        call_waiting=bool(call.call_waiting),
        dnd=bool(call.dnd),
        forward_always=call.forward_always or "",
        forward_busy=call.forward_busy or "",
        forward_noanswer=call.forward_noanswer or "",
        forward_noanswer_delay=call.forward_noanswer_delay or 20,
        followme_enabled=bool(call.followme_enabled),
        followme_numbers=numbers,
        followme_delay=call.followme_delay or 20,
        followme_confirm=bool(call.followme_confirm),
        language=user.language if user.language in ("fr", "en") else "fr",
        out_of_office=bool(vm and vm.ooo_active),
    )


def conference_for(conf: PersonalConference) -> ConferenceSettings:
    return ConferenceSettings(
        enabled=bool(conf.enabled), admin_pin=conf.admin_pin or "", user_pin=conf.user_pin or "",
        max_members=conf.max_members or 15, announce_count=bool(conf.announce_count),
        announce_join_leave=bool(conf.announce_join_leave), music_on_hold=bool(conf.music_on_hold),
        star_menu=bool(conf.star_menu), wait_for_admin=bool(conf.wait_for_admin), listen_only=bool(conf.listen_only))


def queue_interface(db: Session, user: User) -> str | None:
    ext = user.primary_extension
    if ext is None or user.tenant.node is None:
        return None
    return PbxNames.for_tenant(db, user.tenant).member(ext)


@dataclass
class PushResult:
    applied: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PushResult) -> None:
        self.applied += other.applied
        self.pending += other.pending
        self.errors += other.errors


SyncedRow = CallSettings | VoicemailSettings | QueueMembership | PersonalConference


@dataclass(frozen=True)
class QueueOp:
    membership_id: int
    version: dt.datetime | None
    queue: str
    interface: str
    member_name: str
    logged_in: bool
    paused: bool
    reason: str


@dataclass(frozen=True)
class UserPlan:
    """What one user's desired state asks of the PBX, read in one short transaction: plain values, so
    the PBX round trips that follow hold no session. `version` fields are the rows' `updated_at`."""

    user_id: int
    extensions: tuple[str, ...]  # as the port names their keys: PbxNames.feature_owner
    features: ExtensionFeatures
    settings_versions: tuple[tuple[type[SyncedRow], dt.datetime | None], ...]
    conference: tuple[str, ConferenceSettings, dt.datetime | None] | None
    queue_ops: tuple[QueueOp, ...]


@dataclass(frozen=True)
class Mark:
    """The outcome of one push, recorded on a row only if the row was not changed since it was read."""

    model: type[SyncedRow]
    key: int
    version: dt.datetime | None
    ok: bool
    error: str = ""


def plan_user(db: Session, user_id: int) -> UserPlan | None:
    user = db.get(User, user_id)
    if user is None:
        return None
    call = db.get(CallSettings, user.id)
    vm = db.get(VoicemailSettings, user.id)
    versions = tuple((type(row), row.updated_at) for row in (call, vm) if row is not None)
    # Every key is the tenant's (PbxNames.feature_owner): another company's 201 on the node is not ours.
    names = PbxNames.for_tenant(db, user.tenant) if user.tenant.node is not None else None
    if names is None:
        return None  # no PBX to push to
    conf = db.get(PersonalConference, user.id)
    owner = user.primary_extension
    conference = ((names.feature_owner(owner.number), conference_for(conf), conf.updated_at)
                  if conf and owner else None)
    ops: list[QueueOp] = []
    interface = queue_interface(db, user)
    memberships = db.scalars(select(QueueMembership).where(QueueMembership.user_id == user.id)
                             .order_by(QueueMembership.id)).all()
    for m in memberships:
        queue = db.get(Queue, m.queue_id)
        if queue is None or interface is None:
            continue
        ops.append(QueueOp(m.id, m.updated_at, names.queue(queue), interface, user.display_name,
                           bool(m.logged_in), bool(m.paused), m.pause_reason or ""))
    return UserPlan(user.id, tuple(names.feature_owner(e.number) for e in user.extensions),
                    features_for(user, call, vm), versions, conference, tuple(ops))


async def push_plan(port: PbxPort, plan: UserPlan) -> tuple[PushResult, list[Mark]]:
    """The PBX round trips of a plan; no database here. Three parts go out together, each in its own order:
    the feature keys, the conference keys, and the queue memberships one after the other (on FreeSWITCH a
    user's memberships share one agent, whose status a logout sets from the tiers left). Nothing of the
    push is still in flight when this returns."""
    result = PushResult()
    marks: list[Mark] = []

    async def features() -> None:
        for number in plan.extensions:
            await port.write_features(number, plan.features)

    async def conference() -> None:
        if plan.conference is not None:
            number, settings, _version = plan.conference
            await port.write_conference(number, settings)

    async def queues() -> list[PbxError | None]:
        outcomes: list[PbxError | None] = []
        for op in plan.queue_ops:
            try:
                if op.logged_in:
                    await port.queue_login(op.queue, op.interface, op.member_name)
                    if op.paused:
                        await port.queue_pause(op.queue, op.interface, op.reason)
                    else:
                        await port.queue_resume(op.queue, op.interface)
                else:
                    await port.queue_logout(op.queue, op.interface)
                outcomes.append(None)
            except PbxError as exc:
                outcomes.append(exc)
        return outcomes

    done = await asyncio.gather(features(), conference(), queues(), return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException) and not isinstance(outcome, PbxError):
            raise outcome
    features_error, conference_error, queue_outcomes = done
    ok = features_error is None
    error = "" if ok else f"{type(features_error).__name__}: {features_error}"
    marks += [Mark(model, plan.user_id, version, ok, error) for model, version in plan.settings_versions]
    result.applied += ok
    result.pending += not ok
    if error:
        result.errors.append(error)
    if plan.conference is not None:
        version = plan.conference[2]
        if conference_error is None:
            marks.append(Mark(PersonalConference, plan.user_id, version, True))
            result.applied += 1
        else:
            marks.append(Mark(PersonalConference, plan.user_id, version, False,
                              f"{type(conference_error).__name__}: {conference_error}"))
            result.pending += 1
            result.errors.append(str(conference_error))
    assert isinstance(queue_outcomes, list)
    for op, exc in zip(plan.queue_ops, queue_outcomes, strict=True):
        if exc is None:
            marks.append(Mark(QueueMembership, op.membership_id, op.version, True))
            result.applied += 1
        else:
            marks.append(Mark(QueueMembership, op.membership_id, op.version, False, f"{type(exc).__name__}: {exc}"))
            result.pending += 1
            result.errors.append(str(exc))
    return result, marks


def record_marks(db: Session, marks: list[Mark]) -> int:
    """Mark rows applied or pending, each only if unchanged since its plan was read (compare-and-set on
    `updated_at`): a change saved in the portal meanwhile stays pending and is pushed next. One short
    write; returns the rows marked."""
    marked = 0
    now = utcnow()
    for m in marks:
        model = m.model
        key_col = model.id if model is QueueMembership else model.user_id
        version_match = model.updated_at.is_(None) if m.version is None else model.updated_at == m.version
        values: dict[str, object] = {"sync_state": SyncState.APPLIED if m.ok else SyncState.PENDING,
                                     "sync_error": "" if m.ok else m.error[:500],
                                     "updated_at": model.updated_at}  # a mark is not a change of what is wanted
        if m.ok:
            values["applied_at"] = now
        marked += db.connection().execute(update(model).where(key_col == m.key, version_match).values(**values)
                             .execution_options(synchronize_session=False)).rowcount
    return marked


class Pusher:
    """Pushes users' desired state for the control daemon. Each push is three steps that never overlap
    a transaction with a PBX round trip: read the plan (one short read), talk to the PBX (no session
    open), record the outcome (one short write). Pushes of the same user run one at a time, so an older
    plan can never land on the PBX after a newer one. A push asked for while another of the same user
    already waits its turn joins that one instead of queuing a third: the waiting one has not read its
    plan yet, so it pushes everything saved before either was asked (a user saving several times in a
    row, or a save during a resync, costs one more push, not one each)."""

    def __init__(self, db: AsyncDb):
        self.db = db
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[tuple[int, int], asyncio.Future[PushResult]] = {}

    def _lock(self, user_id: int) -> asyncio.Lock:
        lock = self._locks.get(user_id)
        if lock is None:
            lock = self._locks[user_id] = asyncio.Lock()
        return lock

    async def push_user(self, port: PbxPort, user_id: int) -> PushResult:
        key = (id(port), user_id)
        waiting = self._waiting.get(key)
        if waiting is not None:
            try:
                shared = await asyncio.shield(waiting)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if waiting.cancelled() and not (task is not None and task.cancelling()):
                    return await self.push_user(port, user_id)  # the one joined was called off: a push of its own
                raise
            return PushResult(shared.applied, shared.pending, list(shared.errors))  # callers add to theirs
        future: asyncio.Future[PushResult] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # nobody may have joined
        self._waiting[key] = future
        try:
            async with self._lock(user_id):
                # From here on the plan is read: a later request needs a push of its own.
                del self._waiting[key]
                result = await self._push(port, user_id)
        except BaseException as exc:
            if self._waiting.get(key) is future:
                del self._waiting[key]
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
            raise
        future.set_result(PushResult(result.applied, result.pending, list(result.errors)))
        return result

    async def _push(self, port: PbxPort, user_id: int) -> PushResult:
        plan = await self.db.read(lambda db: plan_user(db, user_id))
        if plan is None:
            return PushResult()
        result, marks = await push_plan(port, plan)
        await self.db.write(lambda db: record_marks(db, marks))
        return result

    async def reassert_node(self, port: PbxPort, node_id: int, only_pending: bool = False) -> PushResult:
        pick = pending_users_of_node if only_pending else users_of_node
        ids = await self.db.read(lambda db: [u.id for u in pick(db, node_id)])
        total = PushResult()
        for user_id in ids:
            r = await self.push_user(port, user_id)
            total.add(r)
            if r.pending and not port.connected:
                break  # the link went down: the rest stays pending for the next reconnect
        return total


def users_of_node(db: Session, node_id: int) -> list[User]:
    return list(db.scalars(select(User).join(Tenant).where(Tenant.node_id == node_id, User.active.is_(True))
                           .order_by(User.id)))


def pending_users_of_node(db: Session, node_id: int) -> list[User]:
    pending = SyncState.PENDING
    ids = set(db.scalars(select(CallSettings.user_id).join(User, User.id == CallSettings.user_id).join(Tenant)
                         .where(Tenant.node_id == node_id, CallSettings.sync_state == pending)))
    ids |= set(db.scalars(select(VoicemailSettings.user_id).join(User, User.id == VoicemailSettings.user_id)
                          .join(Tenant).where(Tenant.node_id == node_id, VoicemailSettings.sync_state == pending)))
    ids |= set(db.scalars(select(QueueMembership.user_id).join(User, User.id == QueueMembership.user_id)
                          .join(Tenant).where(Tenant.node_id == node_id, QueueMembership.sync_state == pending)))
    ids |= set(db.scalars(select(PersonalConference.user_id).join(User, User.id == PersonalConference.user_id)
                          .join(Tenant).where(Tenant.node_id == node_id, PersonalConference.sync_state == pending)))
    return [u for u in (db.get(User, i) for i in sorted(ids)) if u is not None]


def out_of_office_due(vm: VoicemailSettings, today: dt.date) -> bool:
    """Whether the out-of-office greeting should be on today (empty start means now)."""
    if not vm.ooo_enabled:
        return False
    if vm.ooo_start and today < vm.ooo_start:
        return False
    if vm.ooo_last_day and today > vm.ooo_last_day:
        return False
    return True
