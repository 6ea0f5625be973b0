"""The end-user routes (`/api/v1/me...`): the same services as the portal's own screens, for the user
a personal token belongs to. Anything that needs the PBX goes through the control daemon; when it
cannot be reached, reads answer 503 and saved changes stay pending (the answer says so)."""

from __future__ import annotations

import base64
import re
from typing import Any

from flask import Response, current_app, request
from flask_babel import force_locale
from sqlalchemy import select

from clusterpbx.control import calllog, validation
from clusterpbx.control.callsettings import (
    CallSettingsInput,
    SettingRefused,
    SettingsRefused,
    check_click_to_call,
    save_call_settings,
)
from clusterpbx.control.commands import CommandError, ControlClient, DaemonUnavailable, apply_wait
from clusterpbx.control.models import CallRecord, CallSettings, QueueMembership, SyncState, User, utcnow
from clusterpbx.control.queues import QueueAction, QueueRefused, agent_rows, pause_reasons, set_state

from ..db import get_db
from ..live import as_json as live_json
from ..live import visible_calls
from ..settings.messages import refusal_text
from . import ApiError, date_arg, fail, int_arg, json_body, json_response, me, safe_text, v1

UNAVAILABLE = "The telephone system cannot be reached right now; try again in a moment."
MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:@+-]{1,128}")


def client() -> ControlClient:
    return ControlClient.from_settings(current_app.config["CLUSTERPBX"])


def unavailable(exc: CommandError) -> ApiError:
    del exc
    return ApiError(503, {"": UNAVAILABLE}, {"Retry-After": "30"})


def apply_user(user: User) -> dict[str, Any]:
    """Ask the daemon to push the user's desired state now; say whether the PBX took it."""
    try:
        result = client().call("apply_user", user_id=user.id, wait=apply_wait(current_app.config["CLUSTERPBX"]))
    except DaemonUnavailable:
        return {"state": SyncState.PENDING.value, "daemon_reachable": False,
                "message": "Saved. The telephone system cannot be reached right now: the change is pending "
                           "and will be applied automatically as soon as it is back."}
    except CommandError as exc:
        return {"state": SyncState.PENDING.value, "daemon_reachable": True,
                "message": f"Saved; not applied yet ({exc.kind}): the change is pending."}
    if result.get("in_progress"):
        return {"state": SyncState.PENDING.value, "daemon_reachable": True,
                "message": "Saved. It is being applied on the telephone system now."}
    if result.get("pending"):
        return {"state": SyncState.PENDING.value, "daemon_reachable": True,
                "message": "Saved. The telephone system did not accept the change yet: it is pending and will "
                           "be applied automatically."}
    return {"state": SyncState.APPLIED.value, "daemon_reachable": True,
            "message": "Saved and applied on the telephone system."}


# ---- who am I -------------------------------------------------------------------------------

@v1.route("/v1/me", methods=["GET"])
def whoami() -> Response:
    user = me()
    t = user.tenant
    return json_response({
        "id": user.id, "email": user.email, "first_name": user.first_name, "last_name": user.last_name,
        "department": user.department, "language": user.language,
        "timezone": user.timezone or t.timezone, "role": user.role.value,
        "tenant": {"id": t.id, "name": t.name, "domain": t.domain},
        "extensions": [e.number for e in user.extensions]})


# ---- call records ---------------------------------------------------------------------------

def record_json(r: CallRecord) -> dict[str, Any]:
    return {"id": r.id, "caller_name": r.caller_name, "caller_number": r.caller_number,
            "dialed_number": r.dialed_number, "callee": r.callee, "started_at": r.started_at,
            "answered_at": r.answered_at, "duration_seconds": r.duration_seconds,
            "billable_seconds": r.billable_seconds, "status": r.status, "recording_status": r.recording_status,
            "call_type": r.call_type, "cost": f"{r.cost or 0:.4f}"}


SORTS = sorted(calllog.SORTABLE)


@v1.route("/v1/me/call-records", methods=["GET"])
def call_records() -> Response:
    user = me()
    sort = request.args.get("sort", "-started_at") or "-started_at"
    descending = sort.startswith("-")
    if sort.lstrip("-") not in calllog.SORTABLE:
        fail(400, "Sort on one of: " + ", ".join(SORTS) + " (prefix - for descending).", "sort")
    start, end = date_arg("start"), date_arg("end")
    if start and end and end < start:
        fail(400, "The end date is before the start date.", "end")
    cursor = request.args.get("cursor", "")
    if len(cursor) > 200 or not re.fullmatch(r"[A-Za-z0-9_-]*", cursor):
        fail(400, "This cursor is not valid.", "cursor")
    q = calllog.CallQuery(user_id=user.id, tenant_id=user.tenant_id, timezone=user.timezone or user.tenant.timezone,
                          start=start, end=end, search=safe_text(request.args.get("q", ""), "q", 100),
                          sort=sort.lstrip("-"), descending=descending, cursor=cursor,
                          page_size=int_arg("limit", 50, 1, 500) or 50)
    try:
        page = calllog.page(get_db(), q)
    except calllog.InvalidQuery:
        fail(400, "This cursor is not valid.", "cursor")
    return json_response({"items": [record_json(r) for r in page.rows], "total": page.total,
                          "next_cursor": page.next_cursor or None})


# ---- live calls -----------------------------------------------------------------------------

@v1.route("/v1/me/live-calls", methods=["GET"])
def live_calls() -> Response:
    return json_response({"items": live_json(visible_calls(get_db(), me()), utcnow())})


# ---- call settings --------------------------------------------------------------------------

BOOL_SETTINGS = ("dnd", "call_waiting", "followme_enabled", "followme_confirm")
NUMBER_SETTINGS = ("forward_always", "forward_busy", "forward_noanswer")
DELAY_SETTINGS = ("forward_noanswer_delay", "followme_delay")
SETTINGS_FIELDS = (*BOOL_SETTINGS, *NUMBER_SETTINGS, *DELAY_SETTINGS, "followme_numbers", "language")


def refusal(exc: SettingRefused) -> str:
    """The screens' wording of the refusal (web/settings/messages.py), in English as the whole API."""
    with force_locale("en"):
        return refusal_text(exc)


def settings_json(user: User, cs: CallSettings) -> dict[str, Any]:
    return {"dnd": bool(cs.dnd), "call_waiting": cs.call_waiting is not False,
            "forward_always": cs.forward_always or "", "forward_busy": cs.forward_busy or "",
            "forward_noanswer": cs.forward_noanswer or "", "forward_noanswer_delay": cs.forward_noanswer_delay or 20,
            "followme_enabled": bool(cs.followme_enabled),
            "followme_numbers": [n for n in (cs.followme_numbers or "").split(",") if n],
            "followme_confirm": bool(cs.followme_confirm), "followme_delay": cs.followme_delay or 20,
            "language": user.language,
            "sync_state": (cs.sync_state or SyncState.PENDING).value, "sync_error": cs.sync_error or ""}


@v1.route("/v1/me/call-settings", methods=["GET"])
def get_call_settings() -> Response:
    user = me()
    cs = get_db().get(CallSettings, user.id) or CallSettings(user_id=user.id, sync_state=SyncState.APPLIED)
    return json_response(settings_json(user, cs))


def _settings_input(data: dict[str, Any], current: dict[str, Any]) -> CallSettingsInput:
    errors: dict[str, str] = {}
    for key in data:
        if key not in SETTINGS_FIELDS:
            errors[key[:100]] = "Unknown field." if key not in ("sync_state", "sync_error") else \
                "This field is read-only."
    merged = dict(current)
    for key in BOOL_SETTINGS:
        if key in data:
            if not isinstance(data[key], bool):
                errors[key] = "Enter true or false."
            else:
                merged[key] = data[key]
    for key in NUMBER_SETTINGS:
        if key in data:
            if not isinstance(data[key], str) or len(data[key]) > 40:
                errors[key] = "Enter a phone number (or an empty string for none)."
            else:
                merged[key] = data[key]
    for key in DELAY_SETTINGS:
        if key in data:
            v = data[key]
            if isinstance(v, bool) or not isinstance(v, int) or not 5 <= v <= 120:
                errors[key] = refusal(SettingRefused(key, "delay_range"))
            else:
                merged[key] = v
    if "followme_numbers" in data:
        v = data["followme_numbers"]
        if not isinstance(v, list) or len(v) > 10 or any(not isinstance(n, str) or len(n) > 40 for n in v):
            errors["followme_numbers"] = "Enter a list of at most 10 phone numbers."
        else:
            merged["followme_numbers"] = v
    if "language" in data:
        if data["language"] not in ("fr", "en"):
            errors["language"] = refusal(SettingRefused("language", "invalid_language"))
        else:
            merged["language"] = data["language"]
    if errors:
        raise ApiError(400, errors)
    return CallSettingsInput(
        call_waiting=merged["call_waiting"], dnd=merged["dnd"], followme_enabled=merged["followme_enabled"],
        followme_numbers=list(merged["followme_numbers"]), followme_confirm=merged["followme_confirm"],
        followme_delay=merged["followme_delay"], forward_always=merged["forward_always"],
        forward_busy=merged["forward_busy"], forward_noanswer=merged["forward_noanswer"],
        forward_noanswer_delay=merged["forward_noanswer_delay"], language=merged["language"])


@v1.route("/v1/me/call-settings", methods=["PATCH"])
def patch_call_settings() -> Response:
    user = me()
    db = get_db()
    cs = db.get(CallSettings, user.id) or CallSettings(user_id=user.id)
    data = _settings_input(json_body(), settings_json(user, cs))
    try:
        save_call_settings(db, user, data)
    except SettingsRefused as refused:
        db.rollback()
        errors: dict[str, str] = {}
        for exc in refused.errors:
            errors.setdefault(exc.field, refusal(exc))
        raise ApiError(400, errors) from None
    sync = apply_user(user)
    db.expire_all()
    cs = db.get(CallSettings, user.id) or cs
    out = settings_json(user, cs)
    out["sync"] = sync
    return json_response(out)


# ---- queues ---------------------------------------------------------------------------------

def queue_rows(user: User) -> list[dict[str, Any]]:
    return [{"id": r.queue.id, "queue_id": r.queue.id, "name": r.queue.name, "label": r.label, "number": r.queue.number,
             "status": r.status.value, "pause_reason": r.pause_reason, "pending": r.pending,
             "requested": {"logged_in": r.membership.logged_in, "paused": r.membership.paused,
                           "pause_reason": r.membership.pause_reason}}
            for r in agent_rows(get_db(), user)]


@v1.route("/v1/me/queues", methods=["GET"])
def my_queues() -> Response:
    user = me()
    return json_response({"items": queue_rows(user),
                          "pause_reasons": [{"id": r.id, "label": r.label} for r in pause_reasons(get_db(), user)]})


@v1.route("/v1/me/queues/<int:queue_id>/<action>", methods=["POST"])
def queue_action(queue_id: int, action: str) -> Response:
    user = me()
    try:
        what = QueueAction(action)
    except ValueError:
        fail(404, "Not found.")
    db = get_db()
    membership = db.scalar(select(QueueMembership).where(QueueMembership.queue_id == queue_id,
                                                         QueueMembership.user_id == user.id)) \
        if 1 <= queue_id <= 2**31 - 1 else None
    if membership is None:
        fail(404, "Not found.")  # not one of the user's queues
    body = json_body(allow_empty=True)
    unknown = [k for k in body if k != "reason_id"]
    if unknown:
        raise ApiError(400, {k[:100]: "Unknown field." for k in unknown})
    reason_id = body.get("reason_id")
    if reason_id is not None and (isinstance(reason_id, bool) or not isinstance(reason_id, int)
                                  or not 1 <= reason_id <= 2**31 - 1):
        fail(400, "Enter the id of one of your pause reasons.", "reason_id")
    try:
        set_state(db, user, membership.id, what, reason_id)
    except LookupError:
        fail(404, "Not found.")
    except QueueRefused:
        fail(400, "Choose a pause reason (reason_id).", "reason_id")
    sync = apply_user(user)
    db.expire_all()
    row = next((r for r in queue_rows(user) if r["queue_id"] == queue_id), None)
    return json_response({"queue": row, "sync": sync})


# ---- voicemail ------------------------------------------------------------------------------

@v1.route("/v1/me/voicemail", methods=["GET"])
def voicemail_list() -> Response:
    user = me()
    try:
        messages = client().call("voicemail_list", user_id=user.id)["messages"]
    except CommandError as exc:
        raise unavailable(exc) from None
    items = [{"id": m["id"], "folder": m["folder"], "new": m["folder"] == "INBOX", "caller": m["caller"],
              "received_at": m["received_at"], "duration_seconds": m["duration"]} for m in messages]
    items.sort(key=lambda m: m["received_at"], reverse=True)
    return json_response({"items": items})


def _message_id(message_id: str) -> str:
    if not MESSAGE_ID.fullmatch(message_id):
        fail(404, "Not found.")
    return message_id


@v1.route("/v1/me/voicemail/<message_id>", methods=["DELETE"])
def voicemail_delete(message_id: str) -> Response:
    user = me()
    mid = _message_id(message_id)
    try:
        client().call("voicemail_delete", user_id=user.id, message_ids=[mid])
    except CommandError as exc:
        if exc.kind == "invalid":
            fail(404, "Not found.")
        raise unavailable(exc) from None
    return Response(status=204)


@v1.route("/v1/me/voicemail/<message_id>/audio", methods=["GET"])
def voicemail_audio(message_id: str) -> Response:
    user = me()
    mid = _message_id(message_id)
    try:
        data = base64.b64decode(client().call("voicemail_audio", user_id=user.id, message_id=mid)["audio"])
    except CommandError as exc:
        if exc.kind == "invalid":
            fail(404, "Not found.")
        raise unavailable(exc) from None
    return Response(data, mimetype="audio/wav", headers={
        "Content-Disposition": f'attachment; filename="voicemail-{mid}.wav"', "Cache-Control": "private, no-store"})


# ---- click to call --------------------------------------------------------------------------

@v1.route("/v1/me/click-to-call", methods=["POST"])
def click_to_call() -> Response:
    user = me()
    body = json_body()
    unknown = [k for k in body if k != "number"]
    if unknown:
        raise ApiError(400, {k[:100]: "Unknown field." for k in unknown})
    raw = body.get("number")
    if not isinstance(raw, str) or len(raw) > 40:
        fail(400, "Enter a phone number.", "number")
    try:
        number = validation.phone_number(raw)
    except validation.InvalidValue:
        fail(400, "This is not a valid phone number.", "number")
    try:
        number = check_click_to_call(get_db(), user, number)
    except SettingRefused as exc:
        fail(400, refusal(exc), "number")
    try:
        client().call("click_to_call", user_id=user.id, number=number)
    except CommandError as exc:
        if exc.kind == "invalid":
            fail(400, "This number cannot be called.", "number")
        raise unavailable(exc) from None
    return json_response({"number": number, "status": "ringing",
                          "message": "Your phone is ringing: pick it up to place the call."}, 202)
