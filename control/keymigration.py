"""Moving an extension's call-setting keys to its tenant's names on the PBX.

Before tenants were namespaces on the PBX (issue 21), the daemon wrote FreePBX's bare layout on
Asterisk (``DND/201``) and the node's SIP domain on FreeSWITCH (``cpbx_dnd/201@<node domain>``), so two
companies on one node with a 201 shared keys. Keys are now the tenant's (`PbxNames.feature_owner`:
``DND/acme-201``, ``cpbx_dnd/201@acme.example``). When the daemon first reaches a node after it starts,
it moves what the old names hold to the new ones, before re-asserting desired state:

- a number that only one tenant of the node has: its keys move to that tenant's names (a value the
  phone set, such as DND by ``*76``, is kept); keys already under the new name win;
- a number that several tenants of the node share: the old keys cannot be told apart, so they are left
  where they are (nothing reads them any more) and logged; each tenant's values are re-asserted from
  the database right after.

Idempotent: once moved, the old names hold nothing and the next run finds nothing to move (the
adapters probe one key per extension: docs/operators.md, "Tenants on one PBX").
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Extension, NodeKind, PbxNode, Tenant
from .pbxnames import PbxNames
from .port import PbxPort

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyPlan:
    moves: tuple[tuple[str, str], ...]  # (old name, new name)
    ambiguous: tuple[str, ...]  # old names shared by several tenants' numbers: left alone


def legacy_owner(node: PbxNode, number: str) -> str:
    """How the daemon named an extension's keys before tenants had names on the PBX."""
    if node.kind is NodeKind.FREESWITCH:
        return f"{number}@{node.sip_domain or node.host}"
    return number


def plan_moves(db: Session, node_id: int) -> KeyPlan:
    """One short read: which keys of the node's extensions move where."""
    node = db.get(PbxNode, node_id)
    if node is None:
        return KeyPlan((), ())
    tenants = db.scalars(select(Tenant).where(Tenant.node_id == node_id).order_by(Tenant.id)).all()
    numbers: dict[int, list[str]] = {
        t.id: list(db.scalars(select(Extension.number).where(Extension.tenant_id == t.id).order_by(Extension.number)))
        for t in tenants}
    shared = Counter(n for ns in numbers.values() for n in set(ns))
    moves: list[tuple[str, str]] = []
    ambiguous: set[str] = set()
    for t in tenants:
        names = PbxNames.for_tenant(db, t)
        for number in numbers[t.id]:
            old, new = legacy_owner(node, number), names.feature_owner(number)
            if old == new:
                continue
            if shared[number] > 1:
                ambiguous.add(old)
            else:
                moves.append((old, new))
    return KeyPlan(tuple(moves), tuple(sorted(ambiguous)))


async def move_keys(port: PbxPort, plan: KeyPlan, node_name: str = "") -> int:
    """The PBX round trips of a plan (no database here). Returns how many keys moved."""
    moved = 0
    for old, new in plan.moves:
        n = await port.move_features(old, new)
        if n:
            log.info("node %s: %d keys of %s moved to %s", node_name, n, old, new)
        moved += n
    if plan.ambiguous:
        log.warning("node %s: keys under %s are shared by several tenants' numbers and were left in place "
                    "(nothing reads them now; each tenant's settings are re-asserted from the database)",
                    node_name, ", ".join(plan.ambiguous))
    return moved
