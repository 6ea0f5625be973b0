"""Read-side queries over the projected PBX state (what the control daemon wrote)."""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Registration, User


class PhoneStatus(enum.StrEnum):
    REGISTERED = "registered"
    UNREGISTERED = "unregistered"
    UNKNOWN = "unknown"  # no projected state yet (daemon not running or node never seen)


def phone_status(db: Session, user: User) -> PhoneStatus:
    node_id = user.tenant.node_id
    usernames = [e.sip_username for e in user.extensions]
    if node_id is None or not usernames:
        return PhoneStatus.UNKNOWN
    rows = db.scalars(
        select(Registration).where(Registration.node_id == node_id, Registration.endpoint.in_(usernames))
    ).all()
    if not rows:
        return PhoneStatus.UNKNOWN
    return PhoneStatus.REGISTERED if any(r.registered for r in rows) else PhoneStatus.UNREGISTERED
