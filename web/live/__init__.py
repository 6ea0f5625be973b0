"""Appels en cours: the calls in progress for the user (all the tenant's for an admin), from the
live_calls table the control daemon keeps.

The page shows the PAGE_ROWS most recent calls (with how many more, and a filter); the browser then
keeps them current through server-sent events. Under `clusterpbx web` (web/asgi.py) the stream is an
async endpoint that holds no worker thread and sends only what changed (web/live/feed.py). This Flask
view of the same URL is what plain WSGI servers get: one full list, then the connection ends and the
browser comes back after 15 s, the guide's refresh, without holding a thread in between. Browsers
without EventSource reload the page every 15 s."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from clusterpbx.control.models import Extension, LiveCall, User, utcnow

from ..db import get_db
from . import feed

bp = Blueprint("live", __name__, url_prefix="/live")
PAGE_ROWS = 100  # rows the page renders; the stream keeps the rest, the filter finds them
FALLBACK_RETRY_MS = 15000  # the guide's refresh, for the stream served by a plain WSGI server


def visible_calls(db: Any, user: User, limit: int = 5000) -> list[LiveCall]:
    """The calls a user sees, newest first (the API's /v1/me/live-calls)."""
    scope = feed.Scope.of(user)
    if not scope.admin and not scope.numbers:
        return []
    return list(db.scalars(feed.scoped(select(LiveCall), scope).order_by(LiveCall.started_at.desc()).limit(limit)))


def as_json(calls: list[LiveCall], now: dt.datetime, names: dict[str, str] | None = None,
            timezone: str = "UTC") -> list[dict[str, Any]]:
    """The API's shape of a live call (its id is the PBX's call id)."""
    names, when = names or {}, feed.WhenText(timezone)
    return [{"id": c.pbx_call_id, "started": c.started_at.replace(tzinfo=dt.UTC).isoformat(),
             "started_text": when(c.started_at), "seconds": int((now - c.started_at).total_seconds()),
             "source": feed.party(c.source_number, c.source_uri, names),
             "destination": feed.party(c.destination_number, c.destination_uri, names),
             "source_ip": c.source_ip, "destination_ip": c.destination_ip} for c in calls]


def _filter(stmt: Any, scope: feed.Scope, text: str) -> Any:
    """Calls whose number, SIP address, IP address or party's name contains `text`."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = f"%{escaped}%"
    named = (select(Extension.number).join(User, User.id == Extension.user_id)
             .where(Extension.tenant_id == scope.tenant_id,
                    or_(func.lower(User.first_name + " " + User.last_name).like(like.lower(), escape="\\"),
                        func.lower(User.email).like(like.lower(), escape="\\"))))
    cols = (LiveCall.source_number, LiveCall.destination_number, LiveCall.source_uri, LiveCall.destination_uri,
            LiveCall.source_ip, LiveCall.destination_ip)
    return stmt.where(or_(*(c.like(like, escape="\\") for c in cols), LiveCall.source_number.in_(named),
                          LiveCall.destination_number.in_(named)))


@bp.route("/")
@login_required
def index() -> Any:
    db = get_db()
    scope = feed.Scope.of(current_user.user)
    text = request.args.get("q", "").strip()[:64]
    stmt = feed.scoped(select(LiveCall), scope)
    if text:
        stmt = _filter(stmt, scope, text)
    total = db.scalar(stmt.with_only_columns(func.count()).order_by(None)) or 0
    calls = db.execute(stmt.with_only_columns(*feed.ROW_COLUMNS)
                       .order_by(LiveCall.started_at.desc(), LiveCall.id.desc()).limit(PAGE_ROWS)).all()
    names = feed.known_names(db, scope.tenant_id, {n for c in calls for n in (c.source_number,
                                                                            c.destination_number)})
    when, now = feed.WhenText(scope.timezone), utcnow()
    rows = [feed.public(feed.row_of(c, names), when, now) for c in calls]
    return render_template("live/index.html", rows=rows, total=total, shown=len(rows), query=text,
                           page_rows=PAGE_ROWS, duration_text=feed.duration_text, admin=scope.admin)


def stream_scope() -> feed.Scope | None:
    """The signed-in user's scope, read through Flask-Login exactly as for any page (session cookie,
    session version, active and approved account), or None."""
    if not current_user.is_authenticated:
        return None
    return feed.Scope.of(current_user.user)


@bp.route("/stream")
def stream() -> Response:
    """The whole list once, or only what changed since the browser's cursor (Last-Event-ID) when it
    comes back; the browser reconnects after FALLBACK_RETRY_MS (plain WSGI servers only)."""
    scope = stream_scope()
    if scope is None:
        return Response("", status=401)
    since = request.headers.get("Last-Event-ID", "")[:4096]
    data = feed.resume(get_db(), scope, since) if since else None
    if data is None:
        cursor, rows = feed.snapshot(get_db(), scope)
        when, now = feed.WhenText(scope.timezone), utcnow()
        data = feed.encode("calls", [feed.public(r, when, now) for r in rows], cursor)
    body = f"retry: {FALLBACK_RETRY_MS}\n\n".encode() + data
    return Response(body, mimetype="text/event-stream", headers={"Cache-Control": "no-store"})
