"""What `clusterpbx run` starts besides the portal: the embedded PBX (sim/) loaded with the demo
company's extensions, queues and mailboxes, with a gentle stream of calls so the portal looks alive."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
    tenants = db.scalars(select(Tenant).where(Tenant.node_id == node.id)).all()
    for tenant in tenants:
        # The names the generated configuration would create (control.pbxnames), as on a real node.
        names = PbxNames.for_tenant(db, tenant)
        for ext in db.scalars(select(Extension).where(Extension.tenant_id == tenant.id).order_by(Extension.number)):
            name = ext.user.display_name if ext.user else ext.number
            model.add_endpoint(ext.sip_username, name=name, context=f"cpbx-{names.slug}", password=ext.sip_password,
                               mailbox=f"{ext.mailbox}@{names.voicemail_context}" if ext.mailbox else "")
            if ext.mailbox:
                model.add_mailbox(ext.mailbox, context=names.voicemail_context, password=ext.vm_pin, fullname=name)
            model.register(ext.sip_username, f"sip:{ext.sip_username}@127.0.0.1:{5100 + int(ext.number) % 1000}",
                           user_agent="ClusterPBX demo phone")
        for queue in db.scalars(select(Queue).where(Queue.tenant_id == tenant.id)):
            model.add_queue(names.queue(queue), strategy=queue.strategy)
    return model


def start_embedded_pbx(db: Session, *, ami_port: int, esl_port: int, spool: str, rate: float = 0.1) -> Any:
    try:
        from clusterpbx.sim.runner import SimPBX
    except ImportError:  # pragma: no cover - sim/ ships with the project
        log.warning("embedded PBX not available; the portal runs without live PBX state")
        return None
    Path(spool).mkdir(parents=True, exist_ok=True)
    sim = SimPBX(model=demo_model(db, "demo-asterisk", spool), ami_port=ami_port, esl_port=esl_port)
    sim.start()
    sim.start_scenario(rate=rate, seed=1)
    log.info("embedded PBX: AMI on 127.0.0.1:%d, ESL on 127.0.0.1:%s, %.2f calls/s", sim.ami_port, sim.esl_port,
             rate)
    return sim
