"""The JSON REST API (`/api/v1/...`, described at `/api/openapi.json`) and the "API tokens" page.

Authentication is `Authorization: Bearer <token>` only: the session cookie is never consulted, so
the API is exempt from CSRF. Every answer is JSON, errors included (`{"errors": {field: message}}`,
"" for the whole request): 400 bad input, 401 no or bad token, 403 a role that may not, 404 anything
outside the caller's scope, 405, 413, 429, 503 when the telephone system cannot be reached.

Two blueprints: `api` (registered by the app; holds the token page) and its child `api.v1` (every
token-authenticated route under /api)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, NoReturn

from flask import Blueprint, Response, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from clusterpbx.control import apitokens
from clusterpbx.control.admin import Actor
from clusterpbx.control.models import User

from .. import csrf
from ..db import get_db
from ..jsonresponse import error_response
from ..jsonresponse import json_response as json_response  # the API modules take it from here
from ..limiter import limiter

bp = Blueprint("api", __name__)
v1 = Blueprint("v1", __name__, url_prefix="/api")

MAX_JSON_BYTES = 1 << 20
INT32_MAX = 2**31 - 1
DEFAULT_RATE_LIMIT = "600/minute"


class ApiError(Exception):
    def __init__(self, status: int, errors: dict[str, str], headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
        self.headers = headers or {}


def fail(status: int, message: str, field: str = "") -> NoReturn:
    raise ApiError(status, {field: message})


HTTP_MESSAGES = {
    400: "The request could not be read.",
    401: "Authentication required: send Authorization: Bearer <token>.",
    403: "Your role may not do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    413: "The request body is too large.",
    415: "Send a JSON body with Content-Type: application/json.",
    429: "Too many requests; slow down and try again in a moment.",
    503: "The telephone system cannot be reached right now; try again in a moment.",
}


def http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    headers: dict[str, str] = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="clusterpbx"'
    if code == 429 and exc.response is not None and exc.response.headers.get("Retry-After"):
        headers["Retry-After"] = exc.response.headers["Retry-After"]
    return error_response(code, {"": HTTP_MESSAGES.get(code, exc.description or "Error.")}, headers)


@v1.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    headers = dict(exc.headers)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="clusterpbx"'
    return error_response(exc.status, exc.errors, headers)


@v1.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return http_error(exc)


# The app's own handlers are registered per status code, which Flask prefers to a class handler: the
# API's statuses get theirs too, so they answer JSON.
for _code in (400, 401, 403, 404, 405, 413, 415, 429):
    v1.register_error_handler(_code, _http_error)


@v1.errorhandler(500)
def _server_error(_exc: Any) -> Response:
    return error_response(500, {"": "Internal error."})


@bp.before_app_request
def _api_routing_errors() -> Response | None:
    """Unknown /api paths and wrong methods answer JSON too (routing errors are not raised inside
    the blueprint, so its error handlers would not see them)."""
    exc = request.routing_exception
    if exc is not None and request.path.startswith("/api/") and isinstance(exc, NotFound | MethodNotAllowed):
        return http_error(exc)
    return None


def _rate_limit() -> str:
    return str(current_app.config.get("API_RATE_LIMIT", DEFAULT_RATE_LIMIT))


limiter.limit(_rate_limit)(v1)
csrf.exempt(v1)


@v1.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        fail(401, HTTP_MESSAGES[401])
    resolved = apitokens.resolve(get_db(), presented)
    if resolved is None:
        fail(401, "This token is not valid (unknown, revoked or expired).")
    g.api = resolved


PUBLIC_ENDPOINTS = {"api.v1.openapi"}


def actor() -> Actor:
    resolved: apitokens.Resolved = g.api
    return resolved.actor


def me() -> User:
    """The user a per-user token acts as; an integration token has none (403)."""
    resolved: apitokens.Resolved = g.api
    if resolved.user is None:
        fail(403, "This route needs a personal token: an integration token acts for no user.")
    return resolved.user


# ---- input helpers --------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def safe_text(value: str, field: str, max_length: int, multiline: bool = False) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail(400, "This text contains characters that are not allowed.", field)
    if _CONTROL.search(value) or (not multiline and ("\n" in value or "\r" in value)):
        fail(400, "This text contains characters that are not allowed.", field)
    if len(value) > max_length:
        fail(400, f"At most {max_length} characters.", field)
    return value


def json_body(allow_empty: bool = False) -> dict[str, Any]:
    """The request's JSON object (400 for anything else)."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        fail(413, HTTP_MESSAGES[413])
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        fail(413, HTTP_MESSAGES[413])
    if not raw.strip():
        if allow_empty:
            return {}
        fail(400, "Send a JSON object.")
    if request.mimetype != "application/json":
        fail(400, HTTP_MESSAGES[415])
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        fail(400, "The body is not valid JSON.")
    if not isinstance(data, dict):
        fail(400, "Send a JSON object.")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def int_arg(name: str, default: int | None, lo: int = 1, hi: int = INT32_MAX) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?[0-9]{1,10}", raw) or not lo <= int(raw) <= hi:
        fail(400, f"Enter a whole number from {lo} to {hi}.", name)
    return int(raw)


def text_arg(name: str, max_length: int = 100) -> str:
    return safe_text(request.args.get(name, ""), name, max_length)


def date_arg(name: str) -> dt.date | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
        fail(400, "Dates are written YYYY-MM-DD.", name)
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        fail(400, "Dates are written YYYY-MM-DD.", name)
    if not 1900 <= value.year <= 2999:  # time zone arithmetic near year 1 or 9999 would overflow
        fail(400, "This date is out of range.", name)
    return value


from . import admin, comms, extras, me_routes, openapi, pages  # noqa: E402,F401

bp.register_blueprint(v1)
