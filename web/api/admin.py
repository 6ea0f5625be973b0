"""The administration routes, generic over the `control.admin` registry: every registered resource
gets list / create / get / update / delete, with input checked against its `Field` descriptions
before the service sees it (unknown or read-only fields, wrong JSON types: 400)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from flask import Response, request, url_for
from sqlalchemy.exc import IntegrityError

from clusterpbx.control import admin as services
from clusterpbx.control import audit
from clusterpbx.control.admin import Field, FieldType, Forbidden, Invalid, NotFound, Resource

from ..db import get_db
from . import INT32_MAX, ApiError, actor, fail, int_arg, json_body, json_response, safe_text, text_arg, v1

MAX_PER_PAGE = 500
log = logging.getLogger("clusterpbx.api")


def find_resource(name: str) -> Resource:
    if not re.fullmatch(r"[a-z_]{1,40}", name):
        fail(404, "Not found.")
    try:
        return services.resource(name)
    except KeyError:
        fail(404, "Not found.")


def object_id(raw: int) -> int:
    # Out of the database's integer range is simply not found (never a driver error).
    if not 1 <= raw <= INT32_MAX:
        fail(404, "Not found.")
    return raw


def int_bounds(f: Field) -> tuple[int, int]:
    lo = f.minimum if f.minimum is not None else -INT32_MAX - 1
    hi = f.maximum if f.maximum is not None else INT32_MAX
    return max(lo, -INT32_MAX - 1), min(hi, INT32_MAX)


def check_value(f: Field, value: Any) -> Any:
    """The JSON type a field takes (the service then applies its own rules)."""
    t = f.type
    if value is None:
        if t is FieldType.REFERENCE and not f.required:
            return None
        fail(400, "This field may not be null.", f.name)
    if t in (FieldType.STRING, FieldType.TEXT, FieldType.SECRET):
        if not isinstance(value, str):
            fail(400, "Enter text.", f.name)
        return safe_text(value, f.name, f.max_length or 10000, multiline=t is FieldType.TEXT)
    if t is FieldType.CHOICE:
        if not isinstance(value, str) or value not in f.choices:
            fail(400, "Choose one of: " + ", ".join(f.choices) + ".", f.name)
        return value
    if t is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            fail(400, "Enter true or false.", f.name)
        return value
    if t is FieldType.INTEGER:
        lo, hi = int_bounds(f)
        if isinstance(value, bool) or not isinstance(value, int):
            fail(400, "Enter a whole number.", f.name)
        if not lo <= value <= hi:
            fail(400, f"Enter a whole number from {lo} to {hi}.", f.name)
        return value
    if t is FieldType.REFERENCE:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= INT32_MAX:
            fail(400, "Enter the id of an existing object.", f.name)
        return value
    if t is FieldType.REFERENCES:
        if not isinstance(value, list) or len(value) > 1000 or any(
                isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= INT32_MAX for v in value):
            fail(400, "Enter a list of ids.", f.name)
        return value
    fail(400, "This field cannot be set.", f.name)


def checked_input(res: Resource, data: dict[str, Any]) -> dict[str, Any]:
    fields = {f.name: f for f in res.fields}
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        f = fields.get(key)
        if f is None:
            errors[key[:100]] = "Unknown field."
            continue
        if f.read_only:
            errors[key] = "This field is read-only."
            continue
        try:
            out[key] = check_value(f, value)
        except ApiError as exc:  # collect every field's problem
            errors.update(exc.errors)
    if errors:
        raise ApiError(400, errors)
    return out


def run(call: Any) -> Any:
    """Run a service call, mapping the service's errors to statuses (the caller commits)."""
    db = get_db()
    try:
        result = call()
    except NotFound:
        db.rollback()
        fail(404, "Not found.")
    except Forbidden:
        db.rollback()
        fail(403, "Your role may not do this.")
    except Invalid as exc:
        db.rollback()
        raise ApiError(400, {str(k): str(v) for k, v in exc.errors.items()} or {"": "Invalid."}) from None
    except IntegrityError:
        # A constraint the service did not foresee (or a concurrent change): a conflict, never a 500.
        db.rollback()
        log.exception("integrity error in an API call")
        raise ApiError(409, {"": "This change conflicts with existing data."}) from None
    return result


def page_json(res: Resource, page: services.Page) -> dict[str, Any]:
    return {"items": [res.serialize(o) for o in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page}


@v1.route("/v1/<resource>", methods=["GET"])
def list_objects(resource: str) -> Response:
    res = find_resource(resource)
    kw = dict(tenant_id=int_arg("tenant_id", None), search=text_arg("search"),
              page=int_arg("page", 1, 1, 1_000_000), per_page=int_arg("per_page", 50, 1, MAX_PER_PAGE),
              sort=text_arg("sort", 40))
    page = run(lambda: res.list(get_db(), actor(), **kw))
    return json_response(page_json(res, page))


@v1.route("/v1/<resource>", methods=["POST"])
def create_object(resource: str) -> Response:
    res = find_resource(resource)
    data = checked_input(res, json_body())
    db = get_db()
    obj = run(lambda: res.create(db, actor(), data))
    db.commit()
    return json_response(res.serialize(obj), 201,
                         {"Location": url_for("api.v1.get_object", resource=resource, oid=obj.id)})


@v1.route("/v1/<resource>/<int:oid>", methods=["GET"])
def get_object(resource: str, oid: int) -> Response:
    res = find_resource(resource)
    obj = run(lambda: res.get(get_db(), actor(), object_id(oid)))
    return json_response(res.serialize(obj))


@v1.route("/v1/<resource>/<int:oid>", methods=["PATCH"])
def update_object(resource: str, oid: int) -> Response:
    res = find_resource(resource)
    oid = object_id(oid)
    db = get_db()
    # Scope first: another tenant's id is 404 whatever the body says.
    run(lambda: res.get(db, actor(), oid))
    data = checked_input(res, json_body())
    obj = run(lambda: res.update(db, actor(), oid, data))
    db.commit()
    return json_response(res.serialize(obj))


@v1.route("/v1/<resource>/<int:oid>", methods=["DELETE"])
def delete_object(resource: str, oid: int) -> Response:
    res = find_resource(resource)
    db = get_db()
    run(lambda: res.delete(db, actor(), object_id(oid)))
    db.commit()
    return Response(status=204)


# ---- audit log ------------------------------------------------------------------------------

def _when(name: str) -> dt.datetime | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    try:
        if len(raw) > 40:
            raise ValueError
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        fail(400, "Write a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM:SSZ).", name)
    if not 1900 <= value.year <= 9000:
        fail(400, "This date is out of range.", name)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def audit_json(e: Any) -> dict[str, Any]:
    return {"id": e.id, "at": e.at, "actor_id": e.actor_id, "actor_label": getattr(e, "actor_label", "") or "",
            "tenant_id": e.tenant_id, "action": e.action, "object_type": e.object_type,
            "object_id": e.object_id, "before": e.before, "after": e.after}


@v1.route("/v1/audit", methods=["GET"])
def audit_log() -> Response:
    kw = dict(tenant_id=int_arg("tenant_id", None), object_type=text_arg("object_type", 64),
              actor_id=int_arg("actor_id", None), since=_when("since"), until=_when("until"),
              page=int_arg("page", 1, 1, 1_000_000), per_page=int_arg("per_page", 50, 1, MAX_PER_PAGE))
    page = run(lambda: audit.search(get_db(), actor(), **kw))
    return json_response({"items": [audit_json(e) for e in page.items], "total": page.total,
                          "page": page.page, "per_page": page.per_page})
