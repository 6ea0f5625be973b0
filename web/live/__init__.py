"""Appels en cours: the calls in progress for the user (all the tenant's for an admin), from the
live_calls table the control daemon keeps; refreshed every 15 s, live through server-sent events."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, stream_with_context
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clusterpbx.control.models import Extension, LiveCall, Role, User, utcnow

from ..db import get_db

bp = Blueprint("live", __name__, url_prefix="/live")
MAX_ROWS = 5000
WHEN_STRFTIME = "%Y-%m-%d %H:%M:%S"  # the portal's date format (web/calls: WHEN_FORMAT)
STREAM_SECONDS = 60  # the browser reconnects by itself (retry: 3000); a worker thread is held a minute at most


def visible_calls(db: Session, user: User) -> list[LiveCall]:
    stmt = select(LiveCall).where(LiveCall.tenant_id == user.tenant_id)
    if user.role not in (Role.TENANT_ADMIN, Role.OPERATOR):
        mine = [e.number for e in user.extensions] + [e.sip_username for e in user.extensions]
        if not mine:
            return []
        stmt = stmt.where(or_(LiveCall.source_number.in_(mine), LiveCall.destination_number.in_(mine)))
    return list(db.scalars(stmt.order_by(LiveCall.started_at.desc()).limit(MAX_ROWS)))


def duration_text(seconds: int) -> str:
    """The guide's format: 0h0m53s."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60}m{seconds % 60}s"


def known_names(db: Session, tenant_id: int | None, calls: list[LiveCall]) -> dict[str, str]:
    """Extension or SIP user name -> the user's name, for the numbers of these calls in their company."""
    numbers = {n for c in calls for n in (c.source_number, c.destination_number) if n}
    if not numbers or tenant_id is None:
        return {}
    rows = db.execute(select(Extension.number, Extension.sip_username, User.first_name, User.last_name, User.email)
                      .join(User, User.id == Extension.user_id)
                      .where(Extension.tenant_id == tenant_id,
                             or_(Extension.number.in_(numbers), Extension.sip_username.in_(numbers)))).all()
    names: dict[str, str] = {}
    for number, sip_user, first, last, email in rows:
        name = f"{first} {last}".strip() or email
        names[number] = f"{name} ({number})"
        names[sip_user] = f"{name} ({number})"
    return names


def party(number: str, uri: str, names: dict[str, str]) -> str:
    """A side of a call as people read it: the name when the number is a colleague's, else the number;
    the SIP address only when the PBX gave no number."""
    return names.get(number) or number or uri


def when_text(started: dt.datetime, timezone: str) -> str:
    """The start time in the user's zone, in the portal's one date format (as the page renders it)."""
    return started.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).strftime(WHEN_STRFTIME)


def as_json(calls: list[LiveCall], now: dt.datetime, names: dict[str, str] | None = None,
            timezone: str = "UTC") -> list[dict[str, Any]]:
    names = names or {}
    return [{"id": c.pbx_call_id, "started": c.started_at.replace(tzinfo=dt.UTC).isoformat(),
             "started_text": when_text(c.started_at, timezone),
             "seconds": int((now - c.started_at).total_seconds()),
             "source": party(c.source_number, c.source_uri, names),
             "destination": party(c.destination_number, c.destination_uri, names), "source_ip": c.source_ip,
             "destination_ip": c.destination_ip} for c in calls]


@bp.route("/")
@login_required
def index() -> Any:
    calls = visible_calls(get_db(), current_user.user)
    names = known_names(get_db(), current_user.user.tenant_id, calls)
    return render_template("live/index.html", calls=calls, now=utcnow(), duration_text=duration_text,
                           party=lambda number, uri: party(number, uri, names),
                           admin=current_user.user.role in (Role.TENANT_ADMIN, Role.OPERATOR))


@bp.route("/stream")
@login_required
def stream() -> Response:
    user_id = current_user.user.id
    timezone = current_user.user.timezone or current_user.user.tenant.timezone
    sessions = current_app.extensions["clusterpbx.sessions"]

    def events() -> Iterator[str]:
        deadline = time.monotonic() + STREAM_SECONDS
        last = None
        yield "retry: 3000\n\n"
        while time.monotonic() < deadline:
            with sessions() as db:
                user = db.get(User, user_id)
                if user is None or not user.active:
                    return
                calls = visible_calls(db, user)
                payload = json.dumps(as_json(calls, utcnow(), known_names(db, user.tenant_id, calls), timezone))
            if payload != last:
                yield f"event: calls\ndata: {payload}\n\n"
                last = payload
            else:
                yield ": keep-alive\n\n"
            time.sleep(2)

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
