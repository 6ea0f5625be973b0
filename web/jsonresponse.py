"""JSON answers of the REST API, and of the portal's own error handlers when the request was for /api/
(a lower module than web/api/, which imports the app factory's extensions: the factory and
web/uploads.py use it at the top of their modules)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import json
from typing import Any

from flask import Response


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return str(value)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(jsonable(data), ensure_ascii=False, separators=(",", ":"))
    resp = Response(body, status=status, mimetype="application/json", headers=headers or {})
    resp.headers["Cache-Control"] = "no-store"
    return resp


def error_response(status: int, errors: dict[str, str], headers: dict[str, str] | None = None) -> Response:
    return json_response({"errors": errors}, status, headers)
