"""Administration screens for tenant admins and operators (issue 14): one generic list and one generic
form for every resource of `clusterpbx.control.admin`, driven by its `Field` descriptions, plus the
node connection test, user password reset and disabling, CSV import/export and the audit log.

Every rule (role, scope, validation, audit) is the services'; this blueprint refuses plain users on
every URL (404, as for any page they have no access to), turns `NotFound` into 404 and `Forbidden`
into 403, and shows `Invalid` errors next to the fields with the input kept.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from clusterpbx.control import admin as services
from clusterpbx.control.admin import Actor, FieldType, Forbidden, Invalid, NotFound, Resource

from .. import id_arg, login_manager
from ..db import get_db
from . import forms

bp = Blueprint("admin", __name__, url_prefix="/admin")

# The screens' order in the admin menu; resources registered later come after, in registry order.
ORDER = ["tenants", "nodes", "users", "devices", "queues", "destination_groups", "pause_reasons", "rates"]
PER_PAGE = 25
REFERENCE_LIMIT = 500  # choices offered for a reference (the services' largest page)
# Resources a tenant admin may look at (their own node) but not change at all.
VIEW_ONLY_FOR_TENANT_ADMINS = {"nodes"}
# What a list shows first for the known resources (the object's name or address first).
LIST_COLUMNS = {
    "tenants": ["name", "domain", "node_id", "default_language"],
    "nodes": ["name", "kind", "host", "port", "enabled"],
    "users": ["email", "first_name", "last_name", "extension", "role", "active"],
    "devices": ["mac", "vendor", "model", "label", "user_id"],
    "queues": ["name", "label", "number", "strategy"],
    "destination_groups": ["name"],
    "pause_reasons": ["label"],
    "rates": ["prefix", "per_minute", "increment_seconds"],
}
TITLE_KEYS = ("name", "label", "email", "mac", "prefix", "number", "domain")


class ActionForm(FlaskForm):
    """An empty form: the CSRF token of every action button (delete, test, reset, disable)."""


@bp.before_request
def _admins_only() -> Any:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not actor().is_admin:
        abort(404)
    return None


@bp.errorhandler(403)
def _forbidden(_e: Any) -> Any:
    return render_template("admin/forbidden.html"), 403


def actor() -> Actor:
    if "admin_actor" not in g:
        g.admin_actor = Actor.of(current_user.user)
    a: Actor = g.admin_actor
    return a


def get_resource(name: str) -> Resource:
    try:
        return services.resource(name)
    except KeyError:
        abort(404)


def visible_resources() -> list[Resource]:
    """The resources this actor may list (a tenant admin may be refused some, e.g. PBX nodes)."""
    if "admin_visible" not in g:
        found = sorted(services.resources(), key=lambda r: ORDER.index(r.name) if r.name in ORDER else len(ORDER))
        shown = []
        db = get_db()
        for res in found:
            try:
                res.list(db, actor(), page=1, per_page=1)
            except (Forbidden, NotFound):
                continue
            finally:
                db.rollback()
            shown.append(res)
        g.admin_visible = shown
    result: list[Resource] = g.admin_visible
    return result


def call(fn: Any, *args: Any, **kw: Any) -> Any:
    """Run a service call, turning an out-of-scope object into 404 and a refused role into 403."""
    try:
        return fn(*args, **kw)
    except NotFound:
        get_db().rollback()
        abort(404)
    except Forbidden:
        get_db().rollback()
        abort(403)


def title_of(res: Resource, obj: Any) -> str:
    data = res.serialize(obj)
    if res.name == "users":
        name = f"{data.get('first_name') or ''} {data.get('last_name') or ''}".strip()
        if name and data.get("email"):
            return f"{name} <{data['email']}>"
    for key in TITLE_KEYS:
        if data.get(key):
            return str(data[key])
    return f"#{object_id(obj)}"


def object_id(obj: Any) -> int:
    return int(obj.id)


def reference_options(res: Resource) -> tuple[dict[str, list[tuple[str, str]]], set[str]]:
    """For each reference field, the objects the actor can see (value, title); and the fields whose
    referenced list the actor may not read at all."""
    options: dict[str, list[tuple[str, str]]] = {}
    closed: set[str] = set()
    db = get_db()
    for f in res.fields:
        if f.type not in (FieldType.REFERENCE, FieldType.REFERENCES) or not f.ref:
            continue
        try:
            ref = services.resource(f.ref)
            page = ref.list(db, actor(), page=1, per_page=REFERENCE_LIMIT)
        except (Forbidden, NotFound, KeyError):
            db.rollback()
            closed.add(f.name)
            continue
        options[f.name] = [(str(object_id(o)), title_of(ref, o)) for o in page.items]
    return options, closed


def include_current(res: Resource, current: dict[str, Any], options: dict[str, list[tuple[str, str]]]) -> None:
    """Keep the object's present references among the choices even past the listed ones (a long
    list is cut at its first page), so that saving the form never drops them silently."""
    db = get_db()
    for f in res.fields:
        if f.name not in options or f.type not in (FieldType.REFERENCE, FieldType.REFERENCES):
            continue
        value = current.get(f.name)
        ids = value if isinstance(value, list) else [value] if value not in (None, "") else []
        known = {v for v, _label in options[f.name]}
        for ident in ids:
            if str(ident) in known:
                continue
            try:
                ref = services.resource(f.ref)
                obj = ref.get(db, actor(), int(ident))
            except (NotFound, Forbidden, KeyError, ValueError, TypeError):
                db.rollback()
                continue
            options[f.name].append((str(ident), title_of(ref, obj)))


def translated_errors(errors: dict[str, str], spec: forms.FormSpec) -> tuple[dict[str, str], list[str]]:
    """Service errors keyed by field, translated; the ones for the whole object (or for a field not
    on the form) are returned as general messages."""
    by_field: dict[str, str] = {}
    general: list[str] = []
    names = {f.name: f for f in spec.editable}
    for key, message in errors.items():
        text = _(message)
        if key in names:
            by_field[key] = text
        elif key:
            label = next((f.label for f in [*spec.editable, *spec.shown_read_only] if f.name == key), key)
            general.append(_("%(field)s: %(message)s", field=_(label), message=text))
        else:
            general.append(text)
    return by_field, general


def display_value(f: Any, value: Any, options: dict[str, list[tuple[str, str]]]) -> str:
    if value is None or value == "":
        return ""
    if f.type is FieldType.BOOLEAN:
        return _("Yes") if value else _("No")
    if f.type is FieldType.CHOICE:
        return forms.choice_label(str(value))
    if f.type is FieldType.REFERENCE:
        titles = dict(options.get(f.name, []))
        return titles.get(str(value), f"#{value}")
    if f.type is FieldType.REFERENCES:
        titles = dict(options.get(f.name, []))
        return ", ".join(titles.get(str(v), f"#{v}") for v in value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if f.read_only and isinstance(value, str) and ISO_DATETIME.match(value):
        return local_time(value)
    return str(value)


ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def local_time(value: str) -> str:
    """A stored naive-UTC ISO time, in the viewer's time zone."""
    try:
        moment = dt.datetime.fromisoformat(value)
        user = current_user.user
        zone = ZoneInfo(user.timezone or user.tenant.timezone or "UTC")
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def model_defaults(res: Resource) -> dict[str, Any]:
    """What a new object starts with, from its model's column defaults (an account is active, the
    tenant's password policy has its usual rules...), so that an untouched box means the default."""
    model = getattr(res, "model", None)
    table = getattr(model, "__table__", None)
    out: dict[str, Any] = {}
    if table is None:
        return out
    for f in res.fields:
        column = table.c.get(f.name)
        default = getattr(column, "default", None) if column is not None else None
        if default is None or not getattr(default, "is_scalar", False):
            continue
        value = default.arg
        out[f.name] = value.value if isinstance(value, enum.Enum) else value
    return out


@bp.app_context_processor
def _admin_menu() -> dict[str, Any]:
    def admin_link() -> bool:
        user = getattr(current_user, "user", None) if current_user and current_user.is_authenticated else None
        return bool(user is not None and Actor.of(user).is_admin)
    return {"admin_link": admin_link}


@bp.context_processor
def _admin_nav() -> dict[str, Any]:
    return {"admin_resources": visible_resources, "admin_actor": actor}


@bp.route("/")
def index() -> Any:
    return render_template("admin/index.html", resources=visible_resources())


def _int_arg(name: str, default: int) -> int:
    return id_arg(request.args.get(name)) or default


@bp.route("/<name>/")
def list_view(name: str) -> Any:
    res = get_resource(name)
    db = get_db()
    search = request.args.get("q", "")[:100].strip()
    sortable = {f.name for f in res.fields if f.type is not FieldType.SECRET}
    sort = request.args.get("sort", "")
    if sort.lstrip("-") not in sortable:
        sort = ""
    tenant_id: int | None = None
    if actor().is_operator:
        tenant_id = id_arg(request.args.get("tenant"))
    page_no = _int_arg("page", 1)

    def fetch(number: int) -> Any:
        nonlocal sort
        try:
            return call(res.list, db, actor(), tenant_id=tenant_id, search=search, page=number,
                        per_page=PER_PAGE, sort=sort)
        except Invalid:
            db.rollback()
            sort = ""
            return call(res.list, db, actor(), tenant_id=tenant_id, search=search, page=number, per_page=PER_PAGE)

    page = fetch(page_no)
    if not page.items and page.total and page_no > 1:  # past the end (an old link): the last page
        page = fetch(max(1, -(-page.total // PER_PAGE)))
    columns = list_columns(res)
    options, _closed = reference_options(res) if any(f.type is FieldType.REFERENCE for f in columns) else ({}, set())
    rows = []
    for obj in page.items:
        data = res.serialize(obj)
        rows.append({"id": object_id(obj), "title": title_of(res, obj),
                     "cells": [display_value(f, data.get(f.name), options) for f in columns]})
    last = max(1, -(-page.total // page.per_page)) if page.per_page else 1
    args = {k: v for k, v in (("q", search), ("sort", sort), ("tenant", request.args.get("tenant", "")))
            if v and (k != "tenant" or actor().is_operator)}
    can_create = actor().is_operator or not res.operator_only
    sortable_columns = set(getattr(res, "sort_columns", None) or [f.name for f in columns])
    has_tenant = any(f.name == "tenant_id" for f in res.fields)
    tenants = operator_tenant_choices() if has_tenant else []
    return render_template("admin/list.html", res=res, rows=rows, columns=columns, page=page, last=last,
                           sortable_columns=sortable_columns, tenants=tenants,
                           search=search, sort=sort, args=args, can_create=can_create,
                           can_delete=can_create, form=ActionForm())


def operator_tenant_choices() -> list[tuple[str, str]]:
    """For an operator's tenant filter: every tenant (a tenant admin gets no such filter)."""
    if not actor().is_operator:
        return []
    res = services.resource("tenants")
    page = call(res.list, get_db(), actor(), page=1, per_page=500, sort="name")
    return [(str(object_id(t)), title_of(res, t)) for t in page.items]


def list_columns(res: Resource) -> list[Any]:
    """The columns of a list: the preferred ones of a known resource, else its first simple fields;
    the tenant only for operators (a tenant admin's objects are all in their tenant)."""
    fields = {f.name: f for f in res.fields}
    wanted = [fields[n] for n in LIST_COLUMNS.get(res.name, []) if n in fields]
    if not wanted:
        wanted = [f for f in res.fields if f.type not in (FieldType.SECRET, FieldType.TEXT, FieldType.REFERENCES)
                  and not f.read_only][:6]
    if actor().is_operator and "tenant_id" in fields and fields["tenant_id"] not in wanted:
        wanted.append(fields["tenant_id"])
    return [f for f in wanted if f.name != "tenant_id" or actor().is_operator]


def _form_page(res: Resource, obj_id: int | None) -> Any:
    db = get_db()
    creating = obj_id is None
    obj = None if creating else call(res.get, db, actor(), obj_id)
    if creating and res.operator_only and not actor().is_operator:
        abort(403)
    current = model_defaults(res) if obj is None else res.serialize(obj)
    options, closed = reference_options(res)
    include_current(res, current, options)
    view_only = res.name in VIEW_ONLY_FOR_TENANT_ADMINS and not actor().is_operator
    spec = forms.spec_for(res, actor(), options, closed, view_only=view_only)
    posted = request.method == "POST"
    if posted and view_only:
        abort(403)
    form = forms.build_form(spec, creating=creating, initial=current, posted=posted)
    field_errors: dict[str, str] = {}
    general: list[str] = []
    if posted:
        # CSRFProtect has already checked the token; parsing is ours, the rules are the service's.
        data, field_errors = forms.convert(spec, form, creating=creating)
        if "tenant_id" in request.form and "tenant_id" not in data and any(
                f.name == "tenant_id" for f in res.fields):
            # A tenant admin's form shows the tenant without offering it; one posted anyway goes to the
            # service, which refuses any other tenant (never silently replaced by their own).
            data["tenant_id"] = request.form.get("tenant_id", "")[:20]
        if not field_errors:
            try:
                if creating:
                    obj = call(res.create, db, actor(), data)
                else:
                    obj = call(res.update, db, actor(), obj_id, data)
                db.commit()
            except Invalid as exc:
                db.rollback()
                field_errors, general = translated_errors(exc.errors, spec)
            else:
                flash(_("Created.") if creating else _("Changes saved."), "success")
                return redirect(url_for("admin.edit_view", name=res.name, object_id=object_id(obj)))
    read_only = [(f, display_value(f, current.get(f.name), options)) for f in spec.shown_read_only
                 if obj is not None and f.name in current]
    status = 400 if (field_errors or general) else 200
    return render_template(
        "admin/form.html", res=res, obj=obj, obj_id=obj_id, spec=spec, form=form, attr=forms.attr_name,
        field_errors=field_errors, general=general, read_only=read_only, current=current,
        title=title_of(res, obj) if obj is not None else "", action_form=ActionForm(),
        can_delete=(actor().is_operator or not res.operator_only), FieldType=FieldType), status


@bp.route("/<name>/new", methods=["GET", "POST"])
def create_view(name: str) -> Any:
    return _form_page(get_resource(name), None)


@bp.route("/<name>/<int:object_id>", methods=["GET", "POST"])
def edit_view(name: str, object_id: int) -> Any:
    return _form_page(get_resource(name), object_id)


@bp.route("/<name>/<int:object_id>/delete", methods=["GET", "POST"])
def delete_view(name: str, object_id: int) -> Any:
    res = get_resource(name)
    db = get_db()
    obj = call(res.get, db, actor(), object_id)
    if res.operator_only and not actor().is_operator:
        abort(403)
    title = title_of(res, obj)
    form = ActionForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            call(res.delete, db, actor(), object_id)
            db.commit()
        except Invalid as exc:
            db.rollback()
            for message in exc.errors.values():
                flash(_(message), "error")
            return redirect(url_for("admin.edit_view", name=name, object_id=object_id))
        flash(_("%(title)s was deleted.", title=title), "success")
        return redirect(url_for("admin.list_view", name=name))
    return render_template("admin/delete.html", res=res, obj_id=object_id, title=title, form=form)


from . import actions, auditlog, csvpages, fetchlog  # noqa: E402,F401
