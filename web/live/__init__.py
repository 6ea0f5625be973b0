"""Appels en cours: the calls in progress for the user (all the tenant's for an admin), from the
live_calls table the control daemon keeps; refreshed every 15 s, live through server-sent events."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, render_template, stream_with_context
from flask_login import current_user, login_required
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from clusterpbx.control.models import LiveCall, Role, User, utcnow

from ..db import get_db

bp = Blueprint("live", __name__, url_prefix="/live")
MAX_ROWS = 5000
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


def as_json(calls: list[LiveCall], now: dt.datetime) -> list[dict[str, Any]]:
    return [{"id": c.pbx_call_id, "started": c.started_at.replace(tzinfo=dt.UTC).isoformat(),
             "seconds": int((now - c.started_at).total_seconds()), "source": c.source_uri or c.source_number,
             "destination": c.destination_uri or c.destination_number, "source_ip": c.source_ip,
             "destination_ip": c.destination_ip} for c in calls]


@bp.route("/")
@login_required
def index() -> Any:
    calls = visible_calls(get_db(), current_user.user)
    return render_template("live/index.html", calls=calls, now=utcnow(), duration_text=duration_text,
                           admin=current_user.user.role in (Role.TENANT_ADMIN, Role.OPERATOR))


@bp.route("/stream")
@login_required
def stream() -> Response:
    user_id = current_user.user.id
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
                payload = json.dumps(as_json(visible_calls(db, user), utcnow()))
            if payload != last:
                yield f"event: calls\ndata: {payload}\n\n"
                last = payload
            else:
                yield ": keep-alive\n\n"
            time.sleep(2)

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
