"""Accueil: "À propos de moi" with the user, the domain and the phone's registration status."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from clusterpbx.control.calllog import CallQuery, filters
from clusterpbx.control.models import CallRecord, MailboxState
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.control.presence import phone_status

from ..db import get_db

bp = Blueprint("home", __name__)


@bp.route("/")
def root() -> Any:
    return redirect(url_for("home.index") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/home")
@login_required
def index() -> Any:
    user = current_user.user
    db = get_db()
    return render_template("home/index.html", user=user, status=phone_status(db, user), today=today_summary(db, user))


def today_summary(db: Any, user: Any) -> dict[str, Any]:
    """Today's calls and missed calls (in the user's zone) and new voice messages (projected MWI)."""
    q = CallQuery(user_id=user.id, tenant_id=user.tenant_id, timezone=user.timezone or user.tenant.timezone)
    q.start = q.end = dt.datetime.now(ZoneInfo(q.timezone)).date()
    conds = filters(q)
    calls = db.scalar(select(func.count()).select_from(CallRecord).where(*conds)) or 0
    q.missed = True  # the same filter as the list the tile opens
    missed = db.scalar(select(func.count()).select_from(CallRecord).where(*filters(q))) or 0
    boxes = [e.mailbox for e in user.extensions if e.mailbox]
    new = 0
    if boxes and user.tenant.node_id:
        # The PBX reports a box outside its adapter's default context as box@context (the tenant's).
        names = PbxNames.for_tenant(db, user.tenant)
        boxes += [names.mailbox(e) for e in user.extensions if e.mailbox]
        new = db.scalar(select(func.coalesce(func.sum(MailboxState.new_messages), 0)).where(
            MailboxState.node_id == user.tenant.node_id, MailboxState.mailbox.in_(boxes))) or 0
    return {"calls": int(calls), "missed": int(missed), "voicemail": int(new), "day": q.start.isoformat()}
