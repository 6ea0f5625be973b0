"""The audit log: who changed what, when, with the object before and after the change.

Every administration service and every end-user settings service calls `record` in the same
transaction as the change (it flushes, never commits). `search` is scoped like the admin services:
an operator sees every entry, a tenant admin their own tenant's, a user nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from .admin import Actor, Forbidden, Page
from .models import AuditEntry, User

# What a secret looks like in the log: never its value, only that it was set or changed.
SECRET_SET = "(set)"  # noqa: S105 - a marker, not a secret
SECRET_CHANGED = "(changed)"  # noqa: S105 - a marker, not a secret


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def record(db: Session, actor: Actor, action: str, object_type: str, object_id: Any,
           before: dict[str, Any] | None, after: dict[str, Any] | None, tenant_id: int | None) -> AuditEntry:
    """Write one entry (action: create, update, delete or a verb such as reset_password)."""
    entry = AuditEntry(
        actor_id=actor.user_id, actor_label=(actor.label or "")[:255], tenant_id=tenant_id,
        action=action[:64], object_type=object_type[:64],
        object_id="" if object_id is None else str(object_id)[:64],
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
    )
    db.add(entry)
    db.flush()
    return entry


# Bookkeeping columns of desired-state rows: not what the user changed.
_NOT_STATE = frozenset({"id", "user_id", "sync_state", "sync_error", "updated_at", "applied_at"})
HIDDEN = "(hidden)"


def state(obj: Any) -> dict[str, Any]:
    """The column values of a row (JSON-ready), without bookkeeping columns; {} for None."""
    if obj is None:
        return {}
    return {a.key: _jsonable(getattr(obj, a.key)) for a in inspect(obj).mapper.column_attrs
            if a.key not in _NOT_STATE}


def user_change(db: Session, user: User, object_type: str, before: dict[str, Any], after: dict[str, Any], *,
                secrets: tuple[str, ...] = (), action: str = "update", object_id: Any = None) -> AuditEntry | None:
    """An end user's own change (call settings, voicemail, conference, queue log-in, phone keys, picture,
    password): only the keys that changed are kept, secrets as "(hidden)" / "(changed)". Nothing is
    written when nothing changed."""
    before, after = _jsonable(before), _jsonable(after)
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    if not keys:
        return None
    # {} before: a creation (no "before"); {} after: a deletion (no "after").
    old = {k: HIDDEN if k in secrets else before.get(k) for k in keys} if before else None
    new = {k: SECRET_CHANGED if k in secrets else after.get(k) for k in keys} if after else None
    return record(db, Actor.of(user), action, object_type, user.id if object_id is None else object_id,
                  old, new, user.tenant_id)


def search(db: Session, actor: Actor, *, tenant_id: int | None = None, object_type: str = "",
           actor_id: int | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None,
           page: int = 1, per_page: int = 50) -> Page:
    """Entries newest first. `until` is exclusive. A tenant admin's tenant filter is forced to theirs."""
    if not actor.is_admin:
        raise Forbidden("not an administrator")
    conds = []
    if not actor.is_operator:
        if tenant_id is not None and tenant_id != actor.tenant_id:
            return Page([], 0, max(1, page), per_page)
        tenant_id = actor.tenant_id
    if tenant_id is not None:
        conds.append(AuditEntry.tenant_id == tenant_id)
    if object_type:
        conds.append(AuditEntry.object_type == object_type)
    if actor_id is not None:
        conds.append(AuditEntry.actor_id == actor_id)
    if since is not None:
        conds.append(AuditEntry.at >= since)
    if until is not None:
        conds.append(AuditEntry.at < until)
    page = max(1, int(page))
    per_page = max(1, min(int(per_page), 500))
    total = db.scalar(select(func.count()).select_from(AuditEntry).where(*conds)) or 0
    items = list(db.scalars(select(AuditEntry).where(*conds)
                            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                            .offset((page - 1) * per_page).limit(per_page)))
    return Page(items, total, page, per_page)
