"""CSV import and export of users and devices. An upload is always checked first (dry run: every
error by line, nothing written); only a file without errors can then be imported, by a second post
that carries the same content and is checked again by the service."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField

from clusterpbx.control.admin import Invalid, csvio

from .. import id_arg
from ..db import get_db
from . import actor, bp, call, get_resource, object_id, title_of

MAX_CSV_BYTES = 2 * 1024 * 1024


class UploadForm(FlaskForm):
    file = FileField()


class ConfirmForm(FlaskForm):
    content = HiddenField()
    tenant = HiddenField()


def _kind(name: str) -> csvio.CsvKind:
    if name not in csvio.KINDS:
        abort(404)
    return csvio.KINDS[name]


def _labels() -> dict[str, str]:
    return {name: _(kind.label) for name, kind in csvio.KINDS.items()}


def tenant_choices() -> list[tuple[str, str]]:
    res = get_resource("tenants")
    page = call(res.list, get_db(), actor(), page=1, per_page=1000)
    return [(str(object_id(t)), title_of(res, t)) for t in page.items]


def chosen_tenant(value: str | None) -> int:
    """An operator names a tenant; a tenant admin names none (their own) or their own. Any other
    tenant is 404, as a tenant that does not exist (the tenants service's scope decides)."""
    a = actor()
    if not a.is_operator and not (value or "").strip():
        assert a.tenant_id is not None
        return a.tenant_id
    tenant_id = id_arg(value)
    if tenant_id is None:
        abort(404)
    call(get_resource("tenants").get, get_db(), a, tenant_id)  # 404 when it does not exist or is not theirs
    return tenant_id


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")  # what a French Excel saves as "CSV"


def _run(fn: Any, tenant_id: int, content: str, dry_run: bool) -> Any:
    db = get_db()
    try:
        report = call(fn, db, actor(), tenant_id, content, dry_run=dry_run)
    except Invalid as exc:
        db.rollback()
        flash(" ".join(_(m) for m in exc.errors.values()), "error")
        return None
    if dry_run or report.errors:
        db.rollback()
    else:
        db.commit()
    return report


@bp.route("/csv/")
def csv_index() -> Any:
    return redirect(url_for("admin.csv_import", kind="users"))


@bp.route("/csv/<kind>/import", methods=["GET", "POST"])
def csv_import(kind: str) -> Any:
    import_fn = _kind(kind).import_csv
    form = UploadForm()
    choices = tenant_choices() if actor().is_operator else []
    confirm = ConfirmForm()
    report = None
    content = ""
    tenant_value = request.values.get("tenant", "")
    if request.method == "POST":
        step = request.form.get("step", "check")
        tenant_id = chosen_tenant(tenant_value)
        if step == "import":
            try:
                content = base64.b64decode(request.form.get("content", ""), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                abort(400)
            report = _run(import_fn, tenant_id, content, dry_run=False)
            if report is not None and not report.errors:
                flash(ngettext("%(num)d line imported.", "%(num)d lines imported.", _count(report)), "success")
                return redirect(url_for("admin.list_view", name=kind, **(
                    {"tenant": tenant_id} if actor().is_operator else {})))
        else:
            upload = request.files.get("file")
            raw = upload.read(MAX_CSV_BYTES + 1) if upload else b""
            if not raw:
                flash(_("Choose a CSV file to upload."), "error")
            elif len(raw) > MAX_CSV_BYTES:
                flash(_("The file is too large (2 MB at most)."), "error")
            else:
                content = decode(raw)
                report = _run(import_fn, tenant_id, content, dry_run=True)
        # The checked file travels back in the confirmation form (base64 keeps its line breaks intact).
        confirm = ConfirmForm(formdata=None, data={"content": base64.b64encode(content.encode()).decode(),
                                                   "tenant": str(tenant_id)})
    errors = error_rows(report.errors) if report is not None else []
    status = 400 if errors else 200
    return render_template("admin/import.html", kind=kind, kinds=_labels(), form=form, confirm=confirm,
                           report=report, errors=errors, count=_count(report) if report else 0,
                           tenant_value=tenant_value, choices=choices), status


def error_rows(errors: list[Any]) -> list[tuple[int, str, str]]:
    """(line, column, translated message) for each error, by line. The service gives msgids with
    their parameters; a plain (line, message) pair is accepted too."""
    rows = []
    for e in errors:
        if isinstance(e, tuple):
            line, column, message, params = e[0], "", e[1], {}
        else:
            line, column, message, params = e.line, e.field, e.message, dict(e.params or {})
        try:
            text = _(message, **params) if params else _(message)
        except (KeyError, ValueError, TypeError):
            text = str(message)
        rows.append((int(line), str(column or ""), text))
    return sorted(rows, key=lambda r: r[0])


def _count(report: Any) -> int:
    total = 0
    for name in ("created", "updated", "unchanged"):
        value = getattr(report, name, 0)
        total += len(value) if isinstance(value, list | tuple | set) else int(value or 0)
    return total


@bp.route("/csv/<kind>/export.csv")
def csv_export(kind: str) -> Any:
    export_fn = _kind(kind).export_csv
    tenant_id = chosen_tenant(request.args.get("tenant"))
    text = call(export_fn, get_db(), actor(), tenant_id)
    get_db().rollback()
    if isinstance(text, bytes):
        text = text.decode()
    name = f"{kind}-{dt.date.today().isoformat()}.csv"
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
