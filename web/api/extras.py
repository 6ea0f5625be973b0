"""Routes on services beyond the generic five operations: test a node's connection, send a user a
password reset link, CSV import (with ?dry_run=true) and export of users and devices."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from clusterpbx.control.admin import csvio
from clusterpbx.control.admin.nodes import test_node
from clusterpbx.control.admin.users import send_password_reset
from clusterpbx.control.commands import ControlClient
from clusterpbx.control.mail import MailError

from ..admin.actions import send_reset_mail
from ..db import get_db
from . import INT32_MAX, ApiError, actor, fail, int_arg, json_response, v1
from .admin import object_id, run
from .openapi import _json, _ok, _op, _q, extra_paths

MAX_CSV_BYTES = 8 << 20


# ---- actions on one object ------------------------------------------------------------------

@v1.route("/v1/nodes/<int:oid>/test", methods=["POST"])
def node_test(oid: int) -> Response:
    db = get_db()
    client = ControlClient.from_settings(current_app.config["CLUSTERPBX"])
    try:
        result = run(lambda: test_node(db, actor(), object_id(oid), client))
    except ApiError as exc:
        if exc.status == 400 and "" in exc.errors and "daemon" in exc.errors[""]:
            raise ApiError(503, exc.errors) from None
        raise
    db.commit()
    return json_response({"ok": bool(result.get("ok")), "message": str(result.get("message", ""))})


@v1.route("/v1/users/<int:oid>/reset-password", methods=["POST"])
def user_send_password_reset(oid: int) -> Response:
    db = get_db()
    try:  # the very mail of "Mot de passe oublié ?", as the administration screen sends it
        run(lambda: send_password_reset(db, actor(), object_id(oid), send=send_reset_mail))
    except MailError:
        db.rollback()
        raise ApiError(503, {"": "The e-mail could not be sent; nothing was changed. Try again later."}) from None
    db.commit()
    return json_response({"sent": True, "message": "A single-use password reset link was sent to the user."}, 202)


# ---- CSV ------------------------------------------------------------------------------------

def _tenant_for_csv() -> int:
    a = actor()
    given = int_arg("tenant_id", None)
    if a.is_operator:
        if given is None:
            fail(400, "Name the tenant (tenant_id).", "tenant_id")
        return given
    if a.tenant_id is None:
        fail(403, "Your role may not do this.")
    if given is not None and given != a.tenant_id:
        fail(404, "Not found.")
    return a.tenant_id


def _csv_export(kind: str) -> Response:
    export = csvio.KINDS[kind].export_csv
    tenant_id = _tenant_for_csv()
    text = run(lambda: export(get_db(), actor(), tenant_id))
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{kind}.csv"', "Cache-Control": "no-store"})


def _dry_run() -> bool:
    raw = request.args.get("dry_run", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        fail(400, "dry_run is true or false.", "dry_run")
    return raw in ("true", "1")


def _csv_import(kind: str) -> Response:
    importer = csvio.KINDS[kind].import_csv
    dry_run = _dry_run()
    tenant_id = _tenant_for_csv()
    if request.content_length is not None and request.content_length > MAX_CSV_BYTES:
        fail(413, "The request body is too large.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_CSV_BYTES:
        fail(413, "The request body is too large.")
    if request.mimetype not in ("text/csv", "text/plain"):
        fail(400, "Send the CSV file as the body, with Content-Type: text/csv.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(400, "The file is not UTF-8 text.")
    if "\x00" in text:
        fail(400, "The file is not valid CSV.")
    db = get_db()
    report = run(lambda: importer(db, actor(), tenant_id, text, dry_run))
    body = {"dry_run": report.dry_run, "ok": report.ok, "lines": report.lines, "created": report.created,
            "updated": report.updated, "unchanged": report.unchanged,
            "line_errors": [{"line": e.line, "field": e.field, "message": e.text} for e in report.errors]}
    if not report.ok:
        db.rollback()
        errors = {f"line {line}" if line else "": text for line, text in report.by_line()} or {"": "Invalid."}
        return json_response({"errors": errors, **body}, 400)
    if dry_run:
        db.rollback()
    else:
        db.commit()
    return json_response(body)


@v1.route("/v1/users/export", methods=["GET"])
def users_export() -> Response:
    return _csv_export("users")


@v1.route("/v1/devices/export", methods=["GET"])
def devices_export() -> Response:
    return _csv_export("devices")


@v1.route("/v1/users/import", methods=["POST"])
def users_import() -> Response:
    return _csv_import("users")


@v1.route("/v1/devices/import", methods=["POST"])
def devices_import() -> Response:
    return _csv_import("devices")


# ---- description ----------------------------------------------------------------------------

@extra_paths
def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "ImportReport": {"type": "object", "required": ["dry_run", "ok"], "properties": {
            "dry_run": {"type": "boolean"}, "ok": {"type": "boolean"}, "lines": {"type": "integer"},
            "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"},
            "line_errors": {"type": "array", "items": {"type": "object", "properties": {
                "line": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"}}}}}},
    }
    id_param = {"name": "id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX}}
    tenant = _q("tenant_id", {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
                "the tenant (an operator must give it; a tenant admin's is theirs)")
    schemas["NodeTest"] = {"type": "object", "required": ["ok"], "properties": {
        "ok": {"type": "boolean"}, "message": {"type": "string"}}}
    paths["/api/v1/nodes/{id}/test"] = {"parameters": [id_param], "post": _op(
        "Test the node's connection (through the control daemon)", _ok("200", "Result", _json("NodeTest")),
        errors=("400", "401", "403", "404", "429", "503"), tags=("nodes",))}
    paths["/api/v1/users/{id}/reset-password"] = {"parameters": [id_param], "post": _op(
        "Send the user a single-use password reset link", _ok("202", "Sent", _json({
            "type": "object", "properties": {"sent": {"type": "boolean"}, "message": {"type": "string"}}})),
        errors=("400", "401", "403", "404", "429", "503"), tags=("users",))}
    for kind in csvio.KINDS:
        paths[f"/api/v1/{kind}/export"] = {"get": _op(
            f"Export the tenant's {kind} as CSV", _ok("200", "CSV", {"text/csv": {"schema": {"type": "string"}}}),
            params=[tenant], tags=(kind,))}
        op = _op(f"Import {kind} from CSV (every line checked; nothing written unless all are good)",
                 _ok("200", "Imported (or checked, with dry_run)", _json("ImportReport")), params=[
                     tenant, _q("dry_run", {"type": "boolean"}, "check every line and write nothing")],
                 tags=(kind,))
        op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
        op["responses"]["400"] = {"description": "Bad input, or lines in error (listed in errors, with the "
                                                 "ImportReport fields)", "content": _json("Errors")}
        paths[f"/api/v1/{kind}/import"] = {"post": op}
    return paths, schemas
