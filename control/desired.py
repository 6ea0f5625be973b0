"""Desired state: what users saved in the portal, pushed to their node through the port.

A setting is saved first (rows marked pending), then pushed; success marks it applied, a PBX error
leaves it pending with the reason, and the control daemon retries pending rows and re-asserts the
whole desired state of a node every time the link comes back (drift repair).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import (
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
from .pbxnames import PbxNames
from .port import ConferenceSettings, ExtensionFeatures, PbxError, PbxPort

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


def _mark(row: CallSettings | VoicemailSettings | QueueMembership | PersonalConference, ok: bool,
          error: str = "") -> None:
    row.sync_state = SyncState.APPLIED if ok else SyncState.PENDING
    row.sync_error = "" if ok else error[:500]
    if ok:
        row.applied_at = utcnow()


async def push_user(db: Session, port: PbxPort, user: User) -> PushResult:
    """Write one user's features and queue memberships to the PBX; mark each row applied or pending."""
    result = PushResult()
    call = db.get(CallSettings, user.id)
    vm = db.get(VoicemailSettings, user.id)
    features = features_for(user, call, vm)
    try:
        for ext in user.extensions:
            await port.write_features(ext.number, features)
        ok, error = True, ""
    except PbxError as exc:
        ok, error = False, f"{type(exc).__name__}: {exc}"
    for row in (call, vm):
        if row is not None:
            _mark(row, ok, error)
    result.applied += ok
    result.pending += not ok
    if error:
        result.errors.append(error)
    conf = db.get(PersonalConference, user.id)
    owner = user.primary_extension
    if conf is not None and owner is not None:
        try:
            await port.write_conference(owner.number, conference_for(conf))
            _mark(conf, True)
            result.applied += 1
        except PbxError as exc:
            _mark(conf, False, f"{type(exc).__name__}: {exc}")
            result.pending += 1
            result.errors.append(str(exc))
    interface = queue_interface(db, user)
    memberships = db.scalars(select(QueueMembership).where(QueueMembership.user_id == user.id)).all()
    names = PbxNames.for_tenant(db, user.tenant) if memberships and user.tenant.node is not None else None
    for m in memberships:
        queue = db.get(Queue, m.queue_id)
        if queue is None or interface is None or names is None:
            continue
        pbx_queue = names.queue(queue)
        try:
            if m.logged_in:
                await port.queue_login(pbx_queue, interface, user.display_name)
                if m.paused:
                    await port.queue_pause(pbx_queue, interface, m.pause_reason)
                else:
                    await port.queue_resume(pbx_queue, interface)
            else:
                await port.queue_logout(pbx_queue, interface)
            _mark(m, True)
            result.applied += 1
        except PbxError as exc:
            _mark(m, False, f"{type(exc).__name__}: {exc}")
            result.pending += 1
            result.errors.append(str(exc))
    db.commit()
    return result


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


async def reassert_node(db: Session, port: PbxPort, node_id: int, only_pending: bool = False) -> PushResult:
    total = PushResult()
    users = pending_users_of_node(db, node_id) if only_pending else users_of_node(db, node_id)
    for user in users:
        r = await push_user(db, port, user)
        total.applied += r.applied
        total.pending += r.pending
        total.errors += r.errors
        if r.pending and not port.connected:
            break  # the link went down: the rest stays pending for the next reconnect
    return total


def out_of_office_due(vm: VoicemailSettings, today: dt.date) -> bool:
    """Whether the out-of-office greeting should be on today (empty start means now)."""
    if not vm.ooo_enabled:
        return False
    if vm.ooo_start and today < vm.ooo_start:
        return False
    if vm.ooo_last_day and today > vm.ooo_last_day:
        return False
    return True
