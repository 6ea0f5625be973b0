"""SMS: messages saved by the portal (control/sms.py), sent from here: `sms_send` at once, the
`sms_retry` job for those still queued (saved while the daemon or the PBX was unreachable)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .. import sms
from ..config import load_settings
from ..models import Tenant
from ..port import PbxPort
from .core import ControlDaemon
from .registry import command, job

log = logging.getLogger(__name__)

def sms_context(daemon: ControlDaemon) -> sms.SmsContext:
    if daemon.settings is None:
        daemon.settings = load_settings()

    def port_for_tenant(tenant: Tenant) -> PbxPort | None:
        runner = daemon.nodes.get(tenant.node_id or -1)
        return runner.port if runner is not None else None

    return sms.SmsContext(port_for_tenant, daemon.settings.public_url, daemon.settings.secret_key)


@command
async def cmd_sms_send(daemon: ControlDaemon, message_id: int) -> dict[str, Any]:
    # Shielded: if the portal stops waiting, the send still finishes and records its outcome.
    task = asyncio.ensure_future(sms.deliver(daemon.sessions, int(message_id), sms_context(daemon), daemon.clock))
    return await asyncio.shield(task)


@job(seconds=60)
async def job_sms_retry(daemon: ControlDaemon) -> int:
    """Send the messages still queued (saved while the daemon or the PBX was unreachable)."""
    now = daemon.clock()
    ids = await daemon.db.write(lambda db: sms.due_messages(db, now))
    sent = 0
    for message_id in ids:
        request = {"secret": daemon.secret, "command": "sms_send", "args": {"message_id": message_id}}
        routed = await daemon.channel.route("sms_send", request["args"], request)  # another daemon's node
        if routed is not None:
            sent += bool(routed.get("ok")) and (routed.get("result") or {}).get("status") == "sent"
            continue
        try:
            result = await sms.deliver(daemon.sessions, message_id, sms_context(daemon), daemon.clock)
        except Exception:
            log.exception("sms %s: retry failed", message_id)
            continue
        sent += result["status"] == "sent"
    return sent
