"""The daemon's own jobs (the features register theirs in their modules): the node jobs (the live-call
sweep, drift repair, cluster mode's call-record catch-up) and the global ones (call-record retention,
web-meeting minutes). The scheduler that runs them is scheduler.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..models import CallRecord, Tenant, utcnow
from ..port import CallEnded, PbxError
from ..webconf import refresh_all_usage
from .core import ControlDaemon
from .registry import job

log = logging.getLogger(__name__)

RETENTION_CHUNK = 2000  # call records deleted per transaction
# A live call the PBX no longer lists is removed once it is this old (a younger one may simply not be in
# the PBX's list yet when it answers).
LIVE_SWEEP_GRACE = dt.timedelta(seconds=30)
# Cluster mode: how often the owner of a node moves its call-record catch-up position forward (the
# records are already stored live: read again, they are stored once). The daemon taking the node over
# after its owner died reads the node's log from there, not from the owner's last reconnect.
CATCH_UP_INTERVAL = 60

@job(seconds=60, per_node=True)
async def job_live_sweep(daemon: ControlDaemon) -> int:
    """A live call whose channels are gone from the PBX is removed, on both PBXs: a Hangup the
    daemon missed (or a call its translator could not pair up, such as a phone calling itself)
    must not leave a ghost in "Appels en cours". Returns the number of calls removed."""
    removed = 0
    for runner in daemon.nodes.values():
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


@job(seconds=300, per_node=True)
async def job_reconcile(daemon: ControlDaemon) -> int:
    """Periodic drift repair: re-assert every node's desired state."""
    applied = 0
    for runner in daemon.nodes.values():
        if runner.port.connected:
            applied += (await daemon.pusher.reassert_node(runner.port, runner.node_id)).applied
    return applied


@job(seconds=CATCH_UP_INTERVAL, cluster_only=True)
async def job_catch_up(daemon: ControlDaemon) -> int:
    """Cluster mode: read each resynced node's call records from its catch-up position, which moves
    the position forward (what was stored live is stored once). Returns the records read."""
    read = 0
    for runner in list(daemon.nodes.values()):
        if runner.port.connected and runner.resynced.is_set() and runner.owned():
            read += await runner.catch_up_records()
    return read


@job(seconds=86400)
async def job_retention(daemon: ControlDaemon) -> int:
    """Delete call records older than each tenant's retention."""
    tenants = await daemon.db.read(lambda db: [(t.id, t.cdr_retention_days) for t in db.scalars(select(Tenant))])
    removed = 0
    for tenant_id, days in tenants:
        cutoff = utcnow() - dt.timedelta(days=days)

        def chunk(db: Session, tenant_id: int = tenant_id, cutoff: dt.datetime = cutoff) -> int:
            ids = select(CallRecord.id).where(CallRecord.tenant_id == tenant_id,
                                              CallRecord.started_at < cutoff).limit(RETENTION_CHUNK)
            return int(db.connection().execute(delete(CallRecord).where(CallRecord.id.in_(ids))
                                  .execution_options(synchronize_session=False)).rowcount)

        # Many short transactions rather than one long one: the portal's writes pass in between.
        while (done := await daemon.db.write(chunk)) > 0:
            removed += done
            if done < RETENTION_CHUNK:
                break
    return removed


@job(seconds=900)
async def job_webconf_usage(daemon: ControlDaemon) -> int:
    """Minutes of the web meetings held, as Zoom reports them (control/webconf.py), off the loop."""
    def run() -> int:
        with daemon.sessions() as db:
            return refresh_all_usage(db)

    return await asyncio.to_thread(run)
