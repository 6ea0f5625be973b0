"""The names things have on the PBX, as the generated configuration (dialplan/) creates them: queue
names, queue member interfaces (Asterisk) or agent names (FreeSWITCH), mailbox references and
conference rooms. The daemon, the adapters' callers and the portal's projections all use these, so a
queue login sent by the daemon lands on the queue the generated queues.conf defines.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Extension, NodeKind, Queue, Tenant


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:24] or "tenant"


def tenant_slugs(db: Session, node_id: int) -> dict[int, str]:
    """Each tenant of a node gets a slug from its domain; a clash gets the tenant id appended."""
    out: dict[int, str] = {}
    used: set[str] = set()
    for t in db.scalars(select(Tenant).where(Tenant.node_id == node_id).order_by(Tenant.id)):
        s = slug(t.domain.split(".")[0] if t.domain else t.name)
        if s in used:
            s = f"{s}-{t.id}"
        used.add(s)
        out[t.id] = s
    return out


@dataclass(frozen=True)
class PbxNames:
    kind: NodeKind
    slug: str

    @classmethod
    def for_tenant(cls, db: Session, tenant: Tenant) -> PbxNames:
        if tenant.node is None:
            raise LookupError("the tenant has no PBX node")
        return cls(tenant.node.kind, tenant_slugs(db, tenant.node.id)[tenant.id])

    def queue(self, queue: Queue) -> str:
        return f"cpbx-{self.slug}-{queue.name}"

    def member(self, ext: Extension) -> str:
        """Asterisk: a Local channel into the extension's dialplan leg (so DND, forwards and follow-me
        apply to queue calls too); FreeSWITCH: the mod_callcenter agent."""
        if self.kind is NodeKind.FREESWITCH:
            return f"{self.slug}-{ext.number}"
        return f"Local/{ext.number}@cpbx-{self.slug}-leg/n"

    def mailbox(self, ext: Extension) -> str:
        """What the adapters take as a mailbox: box@context on Asterisk, the box on FreeSWITCH (per domain)."""
        if self.kind is NodeKind.FREESWITCH:
            return ext.mailbox
        return f"{ext.mailbox}@{self.voicemail_context}"

    @property
    def voicemail_context(self) -> str:
        return f"cpbx-{self.slug}"

    def queue_label(self, pbx_queue: str) -> str:
        """The portal's queue name for a PBX-side one (projected states carry the PBX name)."""
        prefix = f"cpbx-{self.slug}-"
        return pbx_queue[len(prefix):] if pbx_queue.startswith(prefix) else pbx_queue
