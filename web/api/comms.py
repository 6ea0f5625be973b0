"""End-user SMS and web meetings on the API: the same services as the "SMS" and "Conférence en ligne"
screens (`control.sms`, `control.webconf`), with their messages in English."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Response, current_app, g
from flask_babel import force_locale

from clusterpbx.control import sms, webconf
from clusterpbx.control.commands import CommandError, ControlClient, DaemonUnavailable
from clusterpbx.control.images import ImageRejected

from ..db import get_db
from ..limiter import MEETINGS_PER_USER, SMS_PER_USER, limiter, user_key
from ..sms import delivery_error_message, image_message, refusal_message
from ..webconf import error_message
from . import ApiError, fail, json_body, json_response, me, v1
from .openapi import _json, _ok, _op, extra_paths


def _per_user(scope: str) -> Any:
    def key() -> str:
        resolved = getattr(g, "api", None)
        if resolved is None:
            return f"api-{scope}:anonymous"
        # Per user, not per token, and the same allowance as the screen's: more tokens, or the API beside
        # the screen, must not mean more messages.
        if resolved.user is not None:
            return user_key(scope, resolved.user.id)
        return f"api-{scope}:token-{resolved.token.id}"
    return key


def sms_json(m: Any) -> dict[str, Any]:
    """`error` is why it failed, worded for a person (English); `error_code` the same as a code
    (control.sms.ERROR_CODES). The provider's own words stay with the operator."""
    error = ""
    if m.status == "failed":
        with force_locale("en"):
            error = str(delivery_error_message(m.error_code or "failed"))
    return {"id": m.id, "to": m.to_number, "body": m.body, "status": m.status, "error": error,
            "error_code": (m.error_code or "failed") if m.status == "failed" else "",
            "has_image": m.image is not None, "created_at": m.created_at}


@v1.route("/v1/me/sms", methods=["GET"])
def sms_history() -> Response:
    return json_response({"items": [sms_json(m) for m in sms.history(get_db(), me())]})


@v1.route("/v1/me/sms", methods=["POST"])
@limiter.shared_limit(SMS_PER_USER, scope="sms", key_func=_per_user("sms"))
def sms_send() -> Response:
    user = me()
    body = json_body()
    unknown = [k for k in body if k not in ("to", "body", "image_base64")]
    if unknown:
        raise ApiError(400, {k[:100]: "Unknown field." for k in unknown})
    to, text = body.get("to", ""), body.get("body", "")
    if not isinstance(to, str) or len(to) > 40:
        fail(400, "Enter a phone number.", "to")
    if not isinstance(text, str) or len(text) > 5000:
        fail(400, "Enter the message text.", "body")
    image: bytes | None = None
    raw_image = body.get("image_base64")
    if raw_image is not None:
        if not isinstance(raw_image, str) or len(raw_image) > 8 << 20:
            fail(400, "Send the image as base64 text.", "image_base64")
        try:
            image = base64.b64decode(raw_image, validate=True) or None
        except (binascii.Error, ValueError):
            fail(400, "Send the image as base64 text.", "image_base64")
    settings = current_app.config["CLUSTERPBX"]
    db = get_db()
    try:
        msg = sms.send_sms(db, user, to, text, image, max_image_bytes=settings.max_upload_bytes)
    except sms.SmsRefused as exc:
        db.rollback()
        with force_locale("en"):
            raise ApiError(400, {exc.field: refusal_message(exc)}) from None
    except ImageRejected as exc:
        db.rollback()
        with force_locale("en"):
            raise ApiError(400, {"image_base64": image_message(exc.code)}) from None
    try:
        result = ControlClient.from_settings(settings).call("sms_send", message_id=msg.id)
    except DaemonUnavailable:
        result = {"status": "queued"}
    except CommandError as exc:
        result = {"status": "queued", "error": str(exc)[:300]}
    db.expire_all()
    out = sms_json(db.get(type(msg), msg.id) or msg)
    out["status"] = str(result.get("status") or out["status"])
    return json_response(out, 202)


@v1.route("/v1/me/web-meeting", methods=["POST"])
@limiter.shared_limit(MEETINGS_PER_USER, scope="webconf-open", key_func=_per_user("webconf-open"))
def web_meeting() -> Response:
    user = me()
    db = get_db()
    json_body(allow_empty=True)
    try:
        meeting = webconf.open_meeting(db, user)
    except webconf.WebconfError as exc:
        db.rollback()
        with force_locale("en"):
            message = error_message(exc)
        if exc.code == "not_configured":
            raise ApiError(409, {"": message}) from None
        if exc.code == "rate_limited":
            raise ApiError(429, {"": message}, {"Retry-After": str(exc.retry_after or 60)}) from None
        raise ApiError(503, {"": message}) from None
    return json_response({"provider": meeting.provider, "meeting_id": meeting.meeting_id,
                          "host_url": meeting.host_url, "invite_url": meeting.invite_url,
                          "password": meeting.password, "expires_at": meeting.expires_at})


@extra_paths
def openapi_paths() -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    str_ = {"type": "string"}
    schemas["MySms"] = {"type": "object", "required": ["id", "to", "status"], "properties": {
        "id": {"type": "integer"}, "to": str_, "body": str_,
        "status": {"type": "string", "enum": ["queued", "sent", "delivered", "failed"]}, "error": str_,
        "error_code": {"type": "string", "enum": ["", *sms.ERROR_CODES]},
        "has_image": {"type": "boolean"}, "created_at": str_}}
    schemas["MySmsList"] = {"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/MySms"}}}}
    schemas["MySmsSend"] = {"type": "object", "required": ["to", "body"], "additionalProperties": False,
                            "properties": {"to": {"type": "string", "maxLength": 40},
                                           "body": {"type": "string", "maxLength": 1000},
                                           "image_base64": {"type": "string", "description": "an MMS image"}}}
    paths["/api/v1/me/sms"] = {
        "get": _op("My sent SMS, newest first", _ok("200", "Messages", _json("MySmsList")), tags=("me",)),
        "post": _op("Send an SMS (saved first; 'status' says sent, or queued when the PBX is down)",
                    _ok("202", "Accepted", _json("MySms")), body="MySmsSend", tags=("me",)),
    }
    schemas["MyWebMeeting"] = {"type": "object", "required": ["provider", "host_url"], "properties": {
        "provider": str_, "meeting_id": str_, "host_url": str_, "invite_url": str_, "password": str_,
        "expires_at": {"type": ["string", "null"]}}}
    paths["/api/v1/me/web-meeting"] = {"post": _op(
        "Open my web meeting (created the first time, the same one after)",
        _ok("200", "The meeting", _json("MyWebMeeting")),
        errors=("400", "401", "403", "404", "409", "429", "503"), tags=("me",))}
    return paths, schemas
