"""The provisioning fetch log as an administrator reads it: newest first, filtered by outcome, MAC,
client address and (for an operator) tenant. A tenant admin sees the requests that carried their
tenant's provisioning key; requests with no valid key belong to no tenant and only operators see them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import ProvisioningFetch
from . import Actor, Forbidden, Page

MAX_PER_PAGE = 200

# The outcomes a row can have (web/provision writes them), in the order the operator's filter lists them.
OUTCOMES = ("served", "challenge", "stale", "bad_credentials", "unknown_mac", "unknown_file", "bad_key",
            "network", "bad_path", "bad_token", "no_extension", "rate_limited", "error")


def search(db: Session, actor: Actor, *, outcome: str = "", mac: str = "", address: str = "",
           tenant_id: int | None = None, page: int = 1, per_page: int = 50) -> Page:
    if not actor.is_admin:
        raise Forbidden("not an administrator")
    page, per_page = max(1, page), min(max(1, per_page), MAX_PER_PAGE)
    conds = []
    if not actor.is_operator:
        if tenant_id is not None and tenant_id != actor.tenant_id:
            return Page([], 0, page, per_page)
        tenant_id = actor.tenant_id
    if tenant_id is not None:
        conds.append(ProvisioningFetch.tenant_id == tenant_id)
    if outcome:
        conds.append(ProvisioningFetch.outcome == outcome)
    if mac:
        conds.append(ProvisioningFetch.mac == mac)
    if address:
        conds.append(ProvisioningFetch.address == address)
    total = int(db.scalar(select(func.count()).select_from(ProvisioningFetch).where(*conds)) or 0)
    rows = db.scalars(select(ProvisioningFetch).where(*conds)
                      .order_by(ProvisioningFetch.at.desc(), ProvisioningFetch.id.desc())
                      .limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(rows), total, page, per_page)
