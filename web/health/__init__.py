"""Health page for operators and tenant admins: each PBX node as the control daemon last reported it
(connected, since when, last event, lag) and the changes still pending."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from clusterpbx.control.models import (
    CallSettings,
    NodeHealth,
    PbxNode,
    QueueMembership,
    Role,
    SyncState,
    Tenant,
    User,
    VoicemailSettings,
    utcnow,
)

from ..db import get_db

bp = Blueprint("health", __name__, url_prefix="/health")


@bp.route("/")
@login_required
def index() -> Any:
    user = current_user.user
    if user.role not in (Role.OPERATOR, Role.TENANT_ADMIN):
        abort(404)
    db = get_db()
    nodes = db.scalars(select(PbxNode).order_by(PbxNode.name)).all()
    if user.role is Role.TENANT_ADMIN:
        nodes = [n for n in nodes if n.id == user.tenant.node_id]
    now = utcnow()
    rows = []
    for n in nodes:
        h = db.get(NodeHealth, n.id)
        pending = 0
        for model in (CallSettings, VoicemailSettings, QueueMembership):
            stmt = (select(func.count()).select_from(model).join(User, User.id == model.user_id)
                    .join(Tenant, Tenant.id == User.tenant_id)
                    .where(Tenant.node_id == n.id, model.sync_state == SyncState.PENDING))
            if user.role is Role.TENANT_ADMIN:
                stmt = stmt.where(Tenant.id == user.tenant_id)
            pending += db.scalar(stmt) or 0
        rows.append({"node": n, "health": h, "pending": pending,
                     "lag": (now - h.last_event_at).total_seconds() if h and h.last_event_at else None})
    return render_template("health/index.html", rows=rows)
