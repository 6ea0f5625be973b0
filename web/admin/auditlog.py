"""Journal des modifications: every change made by anyone in the actor's scope (who, when, what, before
and after), filtered by object type, actor and dates; before/after shown as a field-by-field diff."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from clusterpbx.control import audit as audit_service
from clusterpbx.control.models import AuditEntry, User

from .. import id_arg
from ..db import get_db
from . import (
    TITLE_KEYS,
    actor,
    bp,
    call,
    display_value,
    operator_tenant_choices,
    reference_options,
    services,
    visible_resources,
)

PER_PAGE = 50
ACTIONS = {"create": _l("Creation"), "update": _l("Change"), "delete": _l("Deletion"),
           "reset_password": _l("Password reset"), "test_connection": _l("Connection test")}


def _date(name: str) -> dt.date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    # Years far off overflow once moved to UTC (9999-12-31 in Paris); nothing was logged then anyway.
    if day is None or not 1970 <= day.year <= 9000:
        flash(_("Dates must be written as YYYY-MM-DD."), "error")
        return None
    return day


def local_midnight_utc(day: dt.date, zone: str) -> dt.datetime:
    """00:00 of `day` in the user's time zone, as the naive UTC the database stores."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(zone))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def actor_choices() -> list[tuple[str, str]]:
    """The people who changed something in the actor's scope."""
    a = actor()
    stmt = select(User.id, User.email).join(AuditEntry, AuditEntry.actor_id == User.id).distinct()
    if not a.is_operator:
        stmt = stmt.where(AuditEntry.tenant_id == a.tenant_id)
    return sorted(((str(uid), email) for uid, email in get_db().execute(stmt)), key=lambda x: x[1])


def logged_types() -> list[str]:
    """Object types present in the entries of the actor's scope (end-user settings changes too)."""
    a = actor()
    stmt = select(AuditEntry.object_type).distinct()
    if not a.is_operator:
        stmt = stmt.where(AuditEntry.tenant_id == a.tenant_id)
    return [t for t in get_db().scalars(stmt) if t]


def render_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def diff(object_type: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One row per field that changed; for a creation or deletion, every field that has a value. Rows
    follow the resource's field order, labelled and formatted as on its form (references by name)."""
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    fields, options = fields_of(object_type)
    order = {name: i for i, name in enumerate(fields)}
    both = bool(before) and bool(after)
    rows = []
    for key in sorted(set(before) | set(after), key=lambda k: (order.get(k, len(order)), k)):
        if key == "id":
            continue
        old, new = before.get(key), after.get(key)
        if both and old == new:
            continue
        if not both and (old in (None, "", []) and new in (None, "", [])):
            continue
        f = fields.get(key)
        rows.append({"field": key, "label": _(f.label) if f else key,
                     "before": show(f, old, options), "after": show(f, new, options),
                     "kind": "added" if key not in before else "removed" if key not in after else "changed"})
    return rows


def actor_name(label: str) -> str:
    """Labels of actors that are not accounts are stored in English; show them translated."""
    names = {"command line": _("command line"), "self sign-up": _("self sign-up")}
    return str(names.get(label, label))


def show(f: Any, value: Any, options: dict[str, list[tuple[str, str]]]) -> str:
    if value is None:
        return ""
    if value == audit_service.SECRET_SET:
        return str(_("(set)"))
    if value == audit_service.SECRET_CHANGED:
        return str(_("(changed)"))
    if f is not None and not (isinstance(value, str) and value.startswith("(")):  # "(set)", "(changed)"
        try:
            return display_value(f, value, options)
        except (TypeError, ValueError):
            pass
    return render_value(value)


def fields_of(object_type: str) -> tuple[dict[str, Any], dict[str, list[tuple[str, str]]]]:
    """The Field descriptions of a resource and the titles of the objects its references may name
    (only those the actor can see), once per request and type."""
    cache = g.setdefault("admin_audit_fields", {})
    if object_type not in cache:
        try:
            res = services.resource(object_type)
        except KeyError:
            cache[object_type] = ({}, {})
        else:
            options, _closed = reference_options(res)
            cache[object_type] = ({f.name: f for f in res.fields}, options)
    result: tuple[dict[str, Any], dict[str, list[tuple[str, str]]]] = cache[object_type]
    return result


def title_in(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    data = after if isinstance(after, dict) and after else before if isinstance(before, dict) else {}
    for key in TITLE_KEYS:
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, str) and value:
            return value
    return ""


def type_label(name: str) -> str:
    try:
        return _(services.resource(name).label)
    except KeyError:
        return name


@bp.route("/audit/")
def audit() -> Any:
    a = actor()
    zone = current_user.user.timezone or current_user.user.tenant.timezone or "UTC"
    since_day, until_day = _date("since"), _date("until")
    object_type = request.args.get("type", "")[:64]
    actor_value = request.args.get("actor", "")
    actor_id = id_arg(actor_value)
    tenant_id = id_arg(request.args.get("tenant")) if a.is_operator else None
    page_no = id_arg(request.args.get("page")) or 1
    page = call(audit_service.search, get_db(), a, tenant_id=tenant_id, object_type=object_type or None, actor_id=actor_id,
                since=local_midnight_utc(since_day, zone) if since_day else None,
                until=local_midnight_utc(until_day + dt.timedelta(days=1), zone) if until_day else None,
                page=page_no, per_page=PER_PAGE)
    get_db().rollback()
    emails = dict(actor_choices())
    zone_info = ZoneInfo(zone)
    entries = []
    for e in page.items:
        at = e.at.replace(tzinfo=dt.UTC).astimezone(zone_info) if e.at else None
        entries.append({"entry": e, "at": at.strftime("%Y-%m-%d %H:%M:%S") if at else "",
                        "who": actor_name(getattr(e, "actor_label", "")) or emails.get(str(e.actor_id)) or (
                            _("command line") if e.actor_id is None else f"#{e.actor_id}"),
                        "type": type_label(e.object_type), "action": str(ACTIONS.get(e.action, e.action)),
                        "title": title_in(e.before, e.after), "rows": diff(e.object_type, e.before, e.after)})
    types = [(r.name, _(r.label)) for r in visible_resources()]
    types += sorted((t, type_label(t)) for t in logged_types() if t not in {name for name, _label in types})
    last = max(1, -(-page.total // page.per_page)) if page.per_page else 1
    args = {k: v for k, v in request.args.items() if k in ("type", "actor", "since", "until", "tenant") and v}
    return render_template("admin/audit.html", entries=entries, page=page, last=last, types=types,
                           tenants=operator_tenant_choices(),
                           actors=sorted(emails.items(), key=lambda x: x[1]), args=args, zone=zone)
