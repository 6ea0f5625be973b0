"""The names things have on the PBX, as the generated configuration (dialplan/) creates them: queue
names, queue member interfaces (Asterisk) or agent names (FreeSWITCH), mailbox references, dialplan
contexts and conference rooms. The daemon, the adapters' callers, the call records and the portal's
projections all use these, so a queue login sent by the daemon lands on the queue the generated
queues.conf defines.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.dialplan.asterisk import CONTEXT_PARTS

from .models import Extension, NodeKind, PbxNode, Queue, Tenant


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


def astdb_prefix(tenant_slug: str) -> str:
    """The prefix of a tenant's AstDB keys: ``DND/<slug>-201``, so two tenants' 201 never share a key."""
    return f"{tenant_slug}-"


def sip_domain(tenant: Tenant) -> str:
    """A tenant's SIP domain on FreeSWITCH (its directory domain, and so the domain part of its mod_db
    keys and chat addresses): its own domain, else the node's (dialplan.model.Tenant.sip_domain)."""
    node = tenant.node
    return tenant.domain or (node.sip_domain or node.host if node is not None else "")


@dataclass(frozen=True)
class PbxNames:
    kind: NodeKind
    slug: str
    domain: str = ""  # the tenant's SIP domain (FreeSWITCH)
    node_domain: str = ""  # the node's own

    @classmethod
    def for_tenant(cls, db: Session, tenant: Tenant) -> PbxNames:
        node = tenant.node
        if node is None:
            raise LookupError("the tenant has no PBX node")
        return cls(node.kind, tenant_slugs(db, node.id)[tenant.id], sip_domain(tenant), node.sip_domain or node.host)

    @classmethod
    def of_node(cls, db: Session, node: PbxNode) -> dict[int, PbxNames]:
        """The names of every tenant of the node, by tenant id (one look-up of the slugs)."""
        slugs = tenant_slugs(db, node.id)
        tenants = db.scalars(select(Tenant).where(Tenant.node_id == node.id).order_by(Tenant.id))
        return {t.id: cls(node.kind, slugs[t.id], sip_domain(t), node.sip_domain or node.host) for t in tenants}

    def feature_owner(self, number: str) -> str:
        """Whose call-setting keys an extension's are, as the port's write_features/read_features/
        write_conference take it: ``<slug>-<number>`` on Asterisk (AstDB ``DND/acme-201``),
        ``<number>@<tenant domain>`` on FreeSWITCH (mod_db ``cpbx_dnd/201@acme.example``). The generated
        dialplans read the same keys (dialplan/keys.py)."""
        if self.kind is NodeKind.FREESWITCH:
            return f"{number}@{self.domain}"
        return f"{astdb_prefix(self.slug)}{number}"

    def queue(self, queue: Queue) -> str:
        return f"cpbx-{self.slug}-{queue.name}"

    def member(self, ext: Extension) -> str:
        """Asterisk: a Local channel into the extension's dialplan leg (so DND, forwards and follow-me
        apply to queue calls too); FreeSWITCH: the mod_callcenter agent."""
        if self.kind is NodeKind.FREESWITCH:
            return f"{self.slug}-{ext.number}"
        return f"Local/{ext.number}@cpbx-{self.slug}-leg/n"

    def mailbox(self, ext: Extension) -> str:
        """What the adapters take as a mailbox: box@context on Asterisk; on FreeSWITCH the directory
        user's box (its SIP user name, dialplan/freeswitch.py) in the tenant's domain, written bare when
        that is the node's own domain, as the adapter names boxes in its events (mailbox_name)."""
        if self.kind is NodeKind.FREESWITCH:
            return ext.sip_username if self.domain == self.node_domain else f"{ext.sip_username}@{self.domain}"
        return f"{ext.mailbox}@{self.voicemail_context}"

    @property
    def context(self) -> str:
        """The dialplan context of the tenant's phones, on both PBXs (dialplan/asterisk.py ctx,
        dialplan/freeswitch.py context_name)."""
        return self.context_named()

    def context_named(self, part: str = "") -> str:
        """One of the tenant's generated dialplan contexts: ``cpbx-<slug>``, or ``cpbx-<slug>-<part>`` for
        a part of dialplan/asterisk.py's CONTEXT_PARTS (``leg``, ``conf``, ``out``...)."""
        return f"cpbx-{self.slug}" + (f"-{part}" if part else "")

    def contexts(self) -> list[str]:
        """Every dialplan context the generated configuration gives the tenant (a call record's context
        tells its tenant)."""
        return [self.context_named(part) for part in CONTEXT_PARTS]

    def conference_room(self, number: str) -> str:
        """The personal conference of an extension: ConfBridge(cpbx-<slug>-<ext>) on Asterisk, conference
        cpbx-<slug>-<ext>@<profile> on FreeSWITCH, as both generated dialplans name it."""
        return f"{self.context}-{number}"

    @property
    def voicemail_context(self) -> str:
        return self.context

    def endpoint(self, sip_username: str) -> str:
        """A phone as the port's click_to_call and resync_phone take it: the PJSIP endpoint on Asterisk,
        the directory user in the tenant's domain (``<user>@<domain>``) on FreeSWITCH."""
        if self.kind is NodeKind.FREESWITCH:
            return f"{sip_username}@{self.domain}"
        return sip_username

    def queue_label(self, pbx_queue: str) -> str:
        """The portal's queue name for a PBX-side one (projected states carry the PBX name)."""
        prefix = f"cpbx-{self.slug}-"
        return pbx_queue[len(prefix):] if pbx_queue.startswith(prefix) else pbx_queue
