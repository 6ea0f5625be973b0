"""Mes files d'attente: log in, log out, pause (with a reason) and resume for each queue the user is an
agent of; the status shown is what the PBX reports (projected), so changes made from the phone show."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from clusterpbx.control.queues import QueueAction, QueueRefused, agent_rows, pause_reasons, set_state

from .. import id_arg
from ..db import get_db
from ..settings.apply import apply_now

bp = Blueprint("queues", __name__, url_prefix="/queues")


@bp.route("/")
@login_required
def index() -> Any:
    db = get_db()
    user = current_user.user
    descending = request.args.get("dir") == "desc"
    return render_template("queues/index.html", rows=agent_rows(db, user, descending=descending),
                           reasons=pause_reasons(db, user), descending=descending, form=FlaskForm())


@bp.route("/<int:membership_id>/<action>", methods=["POST"])
@login_required
def act(membership_id: int, action: str) -> Any:
    try:
        what = QueueAction(action)
    except ValueError:
        abort(404)
    if not FlaskForm().validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("queues.index"))
    user = current_user.user
    raw_reason = request.form.get("reason", "")
    reason_id = id_arg(raw_reason)
    try:
        set_state(get_db(), user, membership_id, what, reason_id)
    except LookupError:
        abort(404)  # not one of the user's own queues
    except QueueRefused:
        flash(_("Choose a pause reason."), "error")
        return redirect(url_for("queues.index"))
    apply_now(user.id)
    return redirect(url_for("queues.index", dir=request.args.get("dir") or None))
