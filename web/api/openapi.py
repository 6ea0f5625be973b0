"""`GET /api/openapi.json`: the OpenAPI 3.1 description, generated from the admin registry's `Field`
descriptions (so a new resource appears by itself) plus the fixed end-user routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response

from clusterpbx.control import calllog
from clusterpbx.control.admin import Field, FieldType, Resource, resources

from . import INT32_MAX, json_response, v1
from .admin import MAX_PER_PAGE, int_bounds

ERROR_STATUSES = {
    "400": "Bad input: malformed JSON, wrong types, unknown or read-only fields, refused values.",
    "401": "No token, or a token that is unknown, revoked or expired.",
    "403": "The token's role may not do this.",
    "404": "No such object in the caller's scope.",
    "409": "The change conflicts with existing data.",
    "429": "Too many requests.",
}
WRITE_ERRORS = ("400", "401", "403", "404", "409", "429")


def _camel(name: str) -> str:
    return "".join(p.capitalize() for p in name.split("_"))


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    t = out.get("type")
    if isinstance(t, str):
        out["type"] = [t, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def field_schema(f: Field, *, output: bool) -> dict[str, Any]:
    t = f.type
    s: dict[str, Any]
    if t in (FieldType.STRING, FieldType.TEXT, FieldType.SECRET):
        s = {"type": "string"}
        if f.max_length and not output:
            s["maxLength"] = f.max_length
    elif t is FieldType.CHOICE:
        s = {"type": "string", "enum": list(f.choices)}
    elif t is FieldType.BOOLEAN:
        s = {"type": "boolean"}
    elif t is FieldType.INTEGER:
        s = {"type": "integer"}
        if not output:
            s["minimum"], s["maximum"] = int_bounds(f)
    elif t is FieldType.REFERENCE:
        s = {"type": "integer", "description": f"id of a {f.ref or 'object'}"}
        if not output:
            s.update(minimum=1, maximum=INT32_MAX)
    elif t is FieldType.REFERENCES:
        item: dict[str, Any] = {"type": "integer"}
        if not output:
            item.update(minimum=1, maximum=INT32_MAX)
        s = {"type": "array", "items": item, "description": f"ids of {f.ref or 'objects'}"}
        if not output:
            s["maxItems"] = 1000
    else:  # pragma: no cover - every FieldType is handled above
        s = {}
    label = f.label + (f": {f.help}" if f.help else "")
    s["description"] = f"{label} ({s['description']})" if "description" in s else label
    if t is FieldType.SECRET:
        s["writeOnly"] = True
    if f.read_only:
        s["readOnly"] = True
    if f.operator_only:
        s["x-operator-only"] = True
    if output or (t is FieldType.REFERENCE and not f.required):
        s = _nullable(s)
    return s


def resource_schemas(res: Resource) -> dict[str, Any]:
    name = _camel(res.name)
    out_props: dict[str, Any] = {"id": {"type": "integer", "readOnly": True}}
    in_props: dict[str, Any] = {}
    required: list[str] = []
    for f in res.fields:
        if f.type is not FieldType.SECRET:
            out_props[f.name] = field_schema(f, output=True)
        if not f.read_only:
            in_props[f.name] = field_schema(f, output=False)
            # A tenant admin's objects are in their tenant whatever they send; an operator names it.
            if f.required and f.name != "tenant_id":
                required.append(f.name)
    create: dict[str, Any] = {"type": "object", "properties": in_props, "additionalProperties": False}
    if required:
        create["required"] = required
    return {
        name: {"type": "object", "properties": out_props, "required": ["id"], "description": res.label},
        f"{name}Create": create,
        f"{name}Update": {"type": "object", "properties": in_props, "additionalProperties": False},
        f"{name}Page": _page(f"#/components/schemas/{name}"),
    }


def _page(item_ref: str) -> dict[str, Any]:
    return {"type": "object", "required": ["items", "total", "page", "per_page"], "properties": {
        "items": {"type": "array", "items": {"$ref": item_ref}}, "total": {"type": "integer"},
        "page": {"type": "integer"}, "per_page": {"type": "integer"}}}


def _json(ref_or_schema: str | dict[str, Any]) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref_or_schema}"} if isinstance(ref_or_schema, str) else ref_or_schema
    return {"application/json": {"schema": schema}}


def _op(summary: str, ok: dict[str, Any], *, errors: tuple[str, ...] = ("400", "401", "403", "404", "429"),
        body: str | dict[str, Any] | None = None, params: list[dict[str, Any]] | None = None,
        body_required: bool = True, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {**ok, **{c: {"$ref": f"#/components/responses/E{c}"}
                                                                    for c in errors}}}
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": _json(body)}
    if tags:
        op["tags"] = list(tags)
    return op


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        p["description"] = description
    return p


ID_PARAM = {"name": "id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX}}
PAGE_PARAMS = [
    _q("page", {"type": "integer", "minimum": 1, "maximum": 1_000_000}),
    _q("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
]


def _ok(code: str, description: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    r: dict[str, Any] = {"description": description}
    if content is not None:
        r["content"] = content
    return {code: r}


def admin_paths(res: Resource) -> dict[str, Any]:
    name = _camel(res.name)
    tag = (res.name,)
    list_params = [_q("search", {"type": "string", "maxLength": 100}, "free text"),
                   *PAGE_PARAMS, _q("sort", {"type": "string", "maxLength": 40}, "a column, '-' prefix: descending"),
                   _q("tenant_id", {"type": "integer", "minimum": 1, "maximum": INT32_MAX})]
    return {
        f"/api/v1/{res.name}": {
            "get": _op(f"List {res.label}", _ok("200", "One page", _json(f"{name}Page")), params=list_params,
                       tags=tag),
            "post": _op(f"Create ({res.label})", _ok("201", "Created", _json(name)), body=f"{name}Create",
                        errors=WRITE_ERRORS, tags=tag),
        },
        f"/api/v1/{res.name}/{{id}}": {
            "parameters": [ID_PARAM],
            "get": _op(f"One of {res.label}", _ok("200", "The object", _json(name)), tags=tag),
            "patch": _op(f"Change ({res.label})", _ok("200", "Changed", _json(name)), body=f"{name}Update",
                         errors=WRITE_ERRORS, tags=tag),
            "delete": _op(f"Delete ({res.label})", _ok("204", "Deleted"), errors=WRITE_ERRORS, tags=tag),
        },
    }


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
SYNC = {"type": "object", "required": ["state"], "properties": {
    "state": {"type": "string", "enum": ["applied", "pending"]}, "daemon_reachable": BOOL, "message": STR}}

END_USER_SCHEMAS: dict[str, Any] = {
    "Me": {"type": "object", "required": ["id", "email", "role", "tenant", "extensions"], "properties": {
        "id": INT, "email": STR, "first_name": STR, "last_name": STR, "department": STR, "language": STR,
        "timezone": STR, "role": {"type": "string", "enum": ["user", "tenant_admin", "operator"]},
        "tenant": {"type": "object", "properties": {"id": INT, "name": STR, "domain": STR}},
        "extensions": {"type": "array", "items": STR}}},
    "MyCallRecord": {"type": "object", "required": ["id", "started_at", "status", "call_type"], "properties": {
        "id": INT, "caller_name": STR, "caller_number": STR, "dialed_number": STR, "callee": STR,
        "started_at": {"type": "string", "format": "date-time"},
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
        "duration_seconds": INT, "billable_seconds": INT, "status": STR, "recording_status": STR,
        "call_type": STR, "cost": {"type": "string", "description": "decimal, in the tenant's currency"}}},
    "MyCallRecordPage": {"type": "object", "required": ["items", "total", "next_cursor"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/MyCallRecord"}}, "total": INT,
        "next_cursor": {"type": ["string", "null"], "description": "pass as ?cursor= for the next page"}}},
    "MyLiveCalls": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"id": STR, "started": STR, "seconds": INT, "source": STR,
                                         "destination": STR, "source_ip": STR, "destination_ip": STR}}}}},
    "MyCallSettings": {"type": "object", "required": ["dnd", "call_waiting", "sync_state"], "properties": {
        "dnd": BOOL, "call_waiting": BOOL, "forward_always": STR, "forward_busy": STR, "forward_noanswer": STR,
        "forward_noanswer_delay": INT, "followme_enabled": BOOL,
        "followme_numbers": {"type": "array", "items": STR}, "followme_confirm": BOOL, "followme_delay": INT,
        "language": STR, "sync_state": {"type": "string", "enum": ["pending", "applied", "failed"],
                                        "readOnly": True},
        "sync_error": {"type": "string", "readOnly": True}, "sync": {"$ref": "#/components/schemas/Sync"}}},
    "MyCallSettingsUpdate": {"type": "object", "additionalProperties": False, "properties": {
        "dnd": BOOL, "call_waiting": BOOL, "forward_always": {"type": "string", "maxLength": 40},
        "forward_busy": {"type": "string", "maxLength": 40}, "forward_noanswer": {"type": "string", "maxLength": 40},
        "forward_noanswer_delay": {"type": "integer", "minimum": 5, "maximum": 120}, "followme_enabled": BOOL,
        "followme_numbers": {"type": "array", "maxItems": 10, "items": {"type": "string", "maxLength": 40}},
        "followme_confirm": BOOL, "followme_delay": {"type": "integer", "minimum": 5, "maximum": 120},
        "language": {"type": "string", "enum": ["fr", "en"]}}},
    "Sync": SYNC,
    "MyQueueRow": {"type": "object", "required": ["id", "queue_id", "status"], "properties": {
        "id": {"type": "integer", "description": "the queue's id (as queue_id), for the action routes"},
        "queue_id": INT, "name": STR, "label": STR, "number": STR,
        "status": {"type": "string", "enum": ["connected", "offline", "paused"]}, "pause_reason": STR,
        "pending": BOOL, "requested": {"type": "object"}}},
    "MyQueues": {"type": "object", "required": ["items", "pause_reasons"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/MyQueueRow"}},
        "pause_reasons": {"type": "array", "items": {"type": "object", "properties": {"id": INT, "label": STR}}}}},
    "MyQueueActionResult": {"type": "object", "required": ["sync"], "properties": {
        "queue": {"oneOf": [{"$ref": "#/components/schemas/MyQueueRow"}, {"type": "null"}]},
        "sync": {"$ref": "#/components/schemas/Sync"}}},
    "MyQueueActionInput": {"type": "object", "additionalProperties": False, "properties": {
        "reason_id": {"type": "integer", "minimum": 1, "maximum": INT32_MAX}}},
    "MyVoicemail": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"id": STR, "folder": STR, "new": BOOL, "caller": STR, "received_at": STR,
                                         "duration_seconds": INT}}}}},
    "ClickToCall": {"type": "object", "required": ["number"], "additionalProperties": False, "properties": {
        "number": {"type": "string", "maxLength": 40, "examples": ["+15145550123"]}}},
    "ClickToCallResult": {"type": "object", "required": ["number", "status"], "properties": {
        "number": STR, "status": STR, "message": STR}},
    "AuditEntry": {"type": "object", "required": ["id", "at", "action", "object_type"], "properties": {
        "id": INT, "at": STR, "actor_id": {"type": ["integer", "null"]}, "actor_label": STR,
        "tenant_id": {"type": ["integer", "null"]}, "action": STR, "object_type": STR, "object_id": STR,
        "before": {"type": ["object", "null"]}, "after": {"type": ["object", "null"]}}},
    "AuditPage": _page("#/components/schemas/AuditEntry"),
    "Errors": {"type": "object", "required": ["errors"], "properties": {"errors": {
        "type": "object", "additionalProperties": {"type": "string"},
        "description": "field name (\"\" for the whole request) to an English message"}}},
}

UNAVAILABLE = ("400", "401", "403", "404", "429", "503")


def end_user_paths() -> dict[str, Any]:
    me = ("me",)
    sorts = sorted(calllog.SORTABLE)
    date = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    msg_id = {"name": "message_id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:@+-]{1,128}$"}}
    queue_id = {"name": "queue_id", "in": "path", "required": True,
                "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX}}
    paths: dict[str, Any] = {
        "/api/v1/me": {"get": _op("The token's user", _ok("200", "Who", _json("Me")), tags=me)},
        "/api/v1/me/call-records": {"get": _op("My call records (keyset pages)", _ok(
            "200", "One page", _json("MyCallRecordPage")), tags=me, params=[
            _q("start", date, "first day, in the user's time zone"), _q("end", date, "last day, included"),
            _q("q", {"type": "string", "maxLength": 100}, "search names and numbers"),
            _q("sort", {"type": "string", "enum": sorts + ["-" + s for s in sorts]}),
            _q("cursor", {"type": "string", "maxLength": 200, "pattern": "^[A-Za-z0-9_-]*$"}),
            _q("limit", {"type": "integer", "minimum": 1, "maximum": 500})])},
        "/api/v1/me/live-calls": {"get": _op("My calls in progress", _ok("200", "Calls", _json("MyLiveCalls")),
                                             tags=me)},
        "/api/v1/me/call-settings": {
            "get": _op("My call settings", _ok("200", "Settings", _json("MyCallSettings")), tags=me),
            "patch": _op("Change my call settings (pushed to the PBX; 'sync' says applied or pending)",
                         _ok("200", "Saved", _json("MyCallSettings")), body="MyCallSettingsUpdate", tags=me)},
        "/api/v1/me/queues": {"get": _op("My queues", _ok("200", "MyQueues", _json("MyQueues")), tags=me)},
        "/api/v1/me/voicemail": {"get": _op("My voice messages", _ok("200", "Messages", _json("MyVoicemail")),
                                            errors=UNAVAILABLE, tags=me)},
        "/api/v1/me/voicemail/{message_id}": {"parameters": [msg_id], "delete": _op(
            "Delete one of my voice messages", _ok("204", "Deleted"), errors=UNAVAILABLE, tags=me)},
        "/api/v1/me/voicemail/{message_id}/audio": {"parameters": [msg_id], "get": _op(
            "One of my voice messages (WAV)", _ok("200", "Audio", {"audio/wav": {"schema": {
                "type": "string", "format": "binary"}}}), errors=UNAVAILABLE, tags=me)},
        "/api/v1/me/click-to-call": {"post": _op(
            "Ring my phone, then call the number", _ok("202", "Ringing", _json("ClickToCallResult")),
            body="ClickToCall", errors=UNAVAILABLE, tags=me)},
    }
    for action in ("login", "logout", "pause", "resume"):
        paths[f"/api/v1/me/queues/{{queue_id}}/{action}"] = {"parameters": [queue_id], "post": _op(
            f"Queue {action}" + (" (reason_id: one of my pause reasons)" if action == "pause" else ""),
            _ok("200", "Saved", _json("MyQueueActionResult")), body="MyQueueActionInput", body_required=False,
            tags=me)}
    return paths


PathsAndSchemas = tuple[dict[str, Any], dict[str, Any]]
_EXTRA: list[Callable[[], PathsAndSchemas]] = []


def extra_paths(describe: Callable[[], PathsAndSchemas]) -> Callable[[], PathsAndSchemas]:
    """Register the description of routes another module adds (actions on admin objects, SMS, web
    meetings): that module imports this one, not the reverse."""
    _EXTRA.append(describe)
    return describe


def _extra_paths() -> PathsAndSchemas:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for describe in _EXTRA:
        more_paths, more_schemas = describe()
        paths.update(more_paths)
        schemas.update(more_schemas)
    return paths, schemas


def build() -> dict[str, Any]:
    schemas: dict[str, Any] = dict(END_USER_SCHEMAS)
    paths: dict[str, Any] = {}
    for res in sorted(resources(), key=lambda r: r.name):
        schemas.update(resource_schemas(res))
        paths.update(admin_paths(res))
    paths["/api/v1/audit"] = {"get": _op("The audit log (newest first)", _ok("200", "One page", _json("AuditPage")),
                                         tags=("audit",), params=[
        _q("tenant_id", {"type": "integer", "minimum": 1, "maximum": INT32_MAX}),
        _q("object_type", {"type": "string", "maxLength": 64}),
        _q("actor_id", {"type": "integer", "minimum": 1, "maximum": INT32_MAX}),
        _q("since", {"type": "string", "format": "date"}, "from (YYYY-MM-DD or an ISO date-time)"),
        _q("until", {"type": "string", "format": "date"}, "to, excluded"), *PAGE_PARAMS])}
    paths.update(end_user_paths())
    extra, extra_schemas = _extra_paths()
    paths.update(extra)
    schemas.update(extra_schemas)
    responses = {f"E{code}": {"description": text, "content": _json("Errors")}
                 for code, text in {**ERROR_STATUSES, "503": "The telephone system cannot be reached now."}.items()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ClusterPBX API", "version": "1",
                 "description": "Administration objects and end-user features. Authenticate with "
                                "`Authorization: Bearer <token>` (see docs/api.md)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "a ClusterPBX API token (cpbx_...)"}},
                       "schemas": schemas, "responses": responses},
    }


@v1.route("/openapi.json", methods=["GET"])
def openapi() -> Response:
    return json_response(build())
