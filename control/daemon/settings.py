"""Commands and jobs of the users' settings (control/callsettings.py, control/daemon/desired.py): `apply_user`
pushes a user's saved settings now, `resync_phone` asks the user's phones to fetch their files again, and
the `out_of_office` job switches the voicemail's out-of-office greeting at its dates."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..models import Device, SyncState, Tenant, User, VoicemailSettings
from ..pbxnames import PbxNames
from ..port import PhoneVendor
from . import desired
from .core import ControlDaemon
from .registry import command, job

log = logging.getLogger(__name__)

@command
async def cmd_apply_user(daemon: ControlDaemon, user_id: int, wait: float | None = None) -> dict[str, Any]:
    """Push a user's saved settings now. With `wait`, answer after that many seconds at most: if the
    push is not done by then it goes on (its outcome is recorded on the rows as always) and the
    answer says so (`in_progress`)."""
    task = asyncio.ensure_future(_apply_user(daemon, user_id))
    daemon._applying.add(task)
    task.add_done_callback(lambda t: _apply_done(daemon, t))
    if wait is None:
        return await task
    try:
        return await asyncio.wait_for(asyncio.shield(task), max(0.0, float(wait)))
    except TimeoutError:
        return {"applied": 0, "pending": 1, "errors": [], "in_progress": True}


def _apply_done(daemon: ControlDaemon, task: asyncio.Task[dict[str, Any]]) -> None:
    daemon._applying.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("applying a user's settings failed: %s", task.exception())


async def _apply_user(daemon: ControlDaemon, user_id: int) -> dict[str, Any]:
    runner, uid = await daemon.for_user(user_id, lambda db, user: user.id)
    result = await daemon.pusher.push_user(runner.port, uid)
    # Mailbox PIN and e-mail options live in the generated voicemail configuration.
    config_error = await runner.apply_config() if result.pending == 0 else ""
    if config_error:
        def mark(db: Session) -> int:
            return int(db.connection().execute(update(VoicemailSettings).where(VoicemailSettings.user_id == uid)
                                  .values(sync_state=SyncState.PENDING, sync_error=config_error[:500],
                                          updated_at=VoicemailSettings.updated_at)).rowcount)

        if await daemon.db.write(mark):
            result.pending += 1
            result.errors.append(config_error)
    return {"applied": result.applied, "pending": result.pending, "errors": result.errors}


@command
async def cmd_resync_phone(daemon: ControlDaemon, user_id: int) -> dict[str, Any]:
    def facts(db: Session, user: User) -> tuple[PhoneVendor, list[str]]:
        devices = db.scalars(select(Device).where(Device.user_id == user.id)).all()
        known = {v.value for v in PhoneVendor}
        vendor = PhoneVendor(devices[0].vendor) if devices and devices[0].vendor in known else PhoneVendor.OTHER
        names = PbxNames.for_tenant(db, user.tenant)
        return vendor, [names.endpoint(e.sip_username) for e in user.extensions]

    runner, (vendor, endpoints) = await daemon.for_user(user_id, facts)
    for ep in endpoints:
        await runner.port.resync_phone(ep, vendor)
    return {"endpoints": endpoints}


@job(seconds=60)
async def job_out_of_office(daemon: ControlDaemon) -> int:
    """Switch each user's out-of-office greeting on and off at their dates (their time zone)."""
    now = daemon.clock().replace(tzinfo=dt.UTC)

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

    changed, to_push = await daemon.db.write(switch)
    # Then the PBX, with no transaction open.
    for user_id, node_id in to_push:
        runner = daemon.nodes.get(node_id or -1)
        if runner is not None and runner.port.connected:
            await daemon.pusher.push_user(runner.port, user_id)
    return changed
