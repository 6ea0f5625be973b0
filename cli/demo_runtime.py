"""What `clusterpbx run` starts besides the portal: the embedded PBX (sim/) loaded with the demo
company's extensions, queues and mailboxes, with a gentle stream of calls so the portal looks alive."""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import random
import threading
import time
import wave
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.control.demo import DEMO_DOMAIN
from clusterpbx.control.models import Extension, PbxNode, Queue, Tenant
from clusterpbx.control.pbxnames import PbxNames

log = logging.getLogger("clusterpbx.demo")


def demo_model(db: Session, node_name: str, spool: str) -> Any:
    """A sim model holding the node's tenants: every extension registered, queues, mailboxes, the AMI user."""
    from clusterpbx.sim.model import PBXModel

    node = db.scalar(select(PbxNode).where(PbxNode.name == node_name))
    if node is None:
        raise LookupError(node_name)
    model = PBXModel(flavor=node.kind.value, spool_dir=spool, seed=1, domain=node.sip_domain or "127.0.0.1")
    model.credentials[node.username or "clusterpbx"] = node.secret
    tenants = db.scalars(select(Tenant).where(Tenant.node_id == node.id).order_by(Tenant.id)).all()
    for i, tenant in enumerate(tenants):
        # The names the generated configuration would create (control.pbxnames), as on a real node: each
        # tenant's endpoints in its own context, reached there by their number (two tenants may both
        # have a 201; the second one's SIP user is 201-t<id>).
        names = PbxNames.for_tenant(db, tenant)
        for ext in db.scalars(select(Extension).where(Extension.tenant_id == tenant.id).order_by(Extension.number)):
            name = ext.user.display_name if ext.user else ext.number
            model.add_endpoint(ext.sip_username, name=name, context=names.context, password=ext.sip_password,
                               mailbox=f"{ext.mailbox}@{names.voicemail_context}" if ext.mailbox else "",
                               number=ext.number, domain=tenant.domain or None,
                               feature_key=names.feature_owner(ext.number))
            if ext.mailbox:
                model.add_mailbox(ext.mailbox, context=names.voicemail_context, password=ext.vm_pin, fullname=name)
            port = 5100 + 1000 * i + int(ext.number) % 1000
            model.register(ext.sip_username, f"sip:{ext.sip_username}@127.0.0.1:{port}",
                           user_agent="ClusterPBX demo phone")
        for queue in db.scalars(select(Queue).where(Queue.tenant_id == tenant.id)):
            model.add_queue(names.queue(queue), strategy=queue.strategy)
    # A restarted PBX keeps the messages its spool holds.
    model.load_spool()
    return model


# --- voice messages ---------------------------------------------------------------------------------------

SEEDED_MARK = ".clusterpbx-demo-voicemail"
# (extension, caller name, caller number, days ago, local hour, seconds, heard)
DEMO_MESSAGES = [
    ("201", "JP Vallée", "202", 0, 9.5, 6, False),
    ("201", "Groupe Dupuis", "5145550147", 1, 14.2, 9, False),
    ("201", "Léa Gagnon", "206", 3, 11.0, 5, True),
    ("202", "", "4385550192", 0, 8.7, 7, False),
    ("202", "Sophie Bouchard", "208", 2, 16.1, 4, True),
    ("204", "Transport Lévesque", "14185550133", 1, 10.3, 8, False),
    ("204", "Liam Smith", "209", 5, 15.4, 5, True),
    ("205", "Clinique Saint-Denis", "5145550110", 0, 13.8, 6, False),
    ("210", "Marie Tremblay", "201", 4, 9.1, 5, True),
]


def message_wav(seconds: int, seed: int, rate: int = 8000) -> bytes:
    """A short playable recording (8 kHz 16-bit mono, what app_voicemail writes with format=wav): voice-like
    bursts of a low tone with harmonics, so that "Messagerie vocale" has something to play."""
    rng = random.Random(seed)
    frames = bytearray()
    t = 0
    total = seconds * rate
    while t < total:
        burst = rng.randint(int(0.15 * rate), int(0.45 * rate))
        pitch = rng.uniform(110.0, 220.0)
        for i in range(min(burst, total - t)):
            env = math.sin(math.pi * i / burst)
            x = 2 * math.pi * pitch * (t + i) / rate
            v = env * (0.55 * math.sin(x) + 0.3 * math.sin(2 * x) + 0.15 * math.sin(3 * x))
            frames += int(v * 9000).to_bytes(2, "little", signed=True)
        t += burst
        gap = min(rng.randint(int(0.05 * rate), int(0.25 * rate)), max(0, total - t))
        frames += bytes(2 * gap)
        t += gap
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return buf.getvalue()


def seed_voicemail(model: Any, db: Session, *, now: float | None = None) -> int:
    """Leave the demo's voice messages in several users' boxes through the PBX's own path (the sim's
    app_voicemail: spool files, VoicemailLeft and message-waiting), the heard ones moved to Old as the
    phone menu does. Once per spool (a mark file), so a second `clusterpbx run` adds nothing and messages
    deleted in the portal stay deleted. Run on the sim's loop (or before it starts). Returns how many."""
    mark = Path(model.spool_dir) / "voicemail" / SEEDED_MARK if model.spool_dir is not None else None
    if mark is not None and mark.exists():
        return 0
    tenant = db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN))
    if tenant is None or tenant.node is None:
        return 0
    names = PbxNames.for_tenant(db, tenant)
    boxes = {e.number: e.mailbox for e in db.scalars(select(Extension).where(Extension.tenant_id == tenant.id))}
    now = time.time() if now is None else now
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    left = 0
    for i, (number, name, caller, days_ago, hour, seconds, heard) in enumerate(DEMO_MESSAGES):
        box = boxes.get(number)
        if not box or f"{box}@{names.voicemail_context}" not in model.mailboxes:
            continue
        # Local business hours (Montréal is UTC-5 or -4): about hour + 5 in UTC, never in the future.
        when = dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(0), dt.UTC)
        origtime = min(int(when.timestamp() + (hour + 5) * 3600), int(now) - 600 * (len(DEMO_MESSAGES) - i))
        msg = model.leave_voicemail(box, context=names.voicemail_context,
                                    caller_id=f'"{name}" <{caller}>' if name else f"<{caller}>",
                                    duration=seconds, origtime=origtime, exten=number,
                                    msg_id=f"{origtime}-{0xde0000 + i:08x}", audio=message_wav(seconds, i))
        if heard:
            model.mark_read(box, msg.msg_id, context=names.voicemail_context)
        left += 1
    if mark is not None:
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.write_text("the demo's voice messages were left in this spool\n")
    return left


def start_embedded_pbx(db: Session, *, ami_port: int, esl_port: int, spool: str, rate: float = 0.1) -> Any:
    try:
        from clusterpbx.sim.runner import SimPBX
    except ImportError:  # pragma: no cover - sim/ ships with the project
        log.warning("embedded PBX not available; the portal runs without live PBX state")
        return None
    Path(spool).mkdir(parents=True, exist_ok=True)
    model = demo_model(db, "demo-asterisk", spool)
    seeded = seed_voicemail(model, db)
    if seeded:
        log.info("demo: %d voice messages left in the demo users' mailboxes", seeded)
    sim = SimPBX(model=model, ami_port=ami_port, esl_port=esl_port)
    sim.start()
    sim.start_scenario(rate=rate, seed=1)
    log.info("embedded PBX: AMI on 127.0.0.1:%d, ESL on 127.0.0.1:%s, %.2f calls/s", sim.ami_port, sim.esl_port,
             rate)
    return sim


def announce_voicemail_when_connected(sim: Any, daemon: Any, timeout: float = 120.0) -> threading.Thread:
    """Once the control daemon is connected to every node, reload the embedded PBX's voicemail module, as
    an operator would: app_voicemail then publishes the message-waiting counts of every mailbox (left
    before the daemon was there, or kept in the spool from the previous run), so the phones' lamps and the
    home page's counter show them from the start."""
    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runners = list(getattr(daemon, "nodes", {}).values())
            if runners and all(r.port.connected and r.resynced.is_set() for r in runners):
                sim.call_soon(sim.model.reload, "app_voicemail.so")
                return
            time.sleep(0.5)
        log.warning("demo: the control daemon did not connect within %.0f s; message counts not announced",
                    timeout)

    thread = threading.Thread(target=watch, name="demo-mwi", daemon=True)
    thread.start()
    return thread
