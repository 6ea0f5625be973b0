"""Mon téléphone: the guide's table of buttons (#, action, value, label) with "Ajouter bouton",
"Supprimer bouton", reordering and saving as desired state, and "Resynchroniser le téléphone" through the
control daemon after a confirmation page (no inline script: the CSP forbids it)."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select

from clusterpbx.control.commands import CommandError, ControlClient
from clusterpbx.control.models import PhoneKey, SyncState
from clusterpbx.provisioning.keys import KeyRefused, KeyRow, mark_applied, phone_of, save_rows, validate_rows

from .. import id_arg
from ..db import get_db
from ..settings.messages import refusal_message

bp = Blueprint("phone", __name__, url_prefix="/phone")

KINDS = [("line", _l("Main line")), ("line2", _l("Secondary line")), ("blf", _l("Presence / pickup")),
         ("speed", _l("Speed dial"))]
MAX_POSTED_ROWS = 200


def kinds_for(user: Any, rows: list[KeyRow]) -> list[tuple[str, Any]]:
    # BLF only for users the administrator granted it (the guide); an existing BLF row stays visible.
    allowed = user.can_use_blf or any(r.kind == "blf" for r in rows)
    return [(k, label) for k, label in KINDS if k != "blf" or allowed]


def key_message(err: KeyRefused) -> str:
    where = _("Button #%(n)d", n=err.position) if err.position else _("My phone")
    if err.refusal is not None:
        err.refusal.field = where
        return refusal_message(err.refusal)
    p = err.params
    text = {
        "too_many": _("Your phone has %(max)s buttons: remove some before saving.", max=p.get("max", "")),
        "invalid_kind": _("Choose an action."),
        "not_own_line": _("%(number)s is not one of your lines.", number=p.get("number", "")),
        "blf_not_allowed": _("Presence / pickup is not enabled for you: ask your telephony administrator."),
        "value_required": _("Enter a value."),
        "not_extension": _("%(number)s is not an extension of your company.", number=p.get("number", "")),
        "label_too_long": _("The label is too long (40 characters at most)."),
        "label_control_characters": _("The label contains characters that are not allowed."),
    }.get(err.code, _("This value cannot be used."))
    return f"{where}: {text}"


def posted_rows() -> list[KeyRow]:
    kinds = request.form.getlist("kind")[:MAX_POSTED_ROWS]
    values = request.form.getlist("value")
    labels = request.form.getlist("label")
    return [KeyRow(k, values[i] if i < len(values) else "", labels[i] if i < len(labels) else "")
            for i, k in enumerate(kinds)]


def selected_indexes() -> set[int]:
    out = set()
    for raw in request.form.getlist("selected"):
        index = id_arg(raw) if raw != "0" else 0
        if index is not None:
            out.add(index)
    return out


@bp.route("/", methods=["GET", "POST"])
@login_required
def index() -> Any:
    user = current_user.user
    db = get_db()
    info = phone_of(db, user)
    form = FlaskForm()
    status = 200
    saved = db.scalars(select(PhoneKey).where(PhoneKey.user_id == user.id).order_by(PhoneKey.position)).all()
    pending = any(k.sync_state != SyncState.APPLIED for k in saved)
    rows = [KeyRow(k.kind, k.value, k.label) for k in saved]
    dirty = False
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form could not be read; please try again."), "error")
            return redirect(url_for("phone.index"))
        rows = posted_rows()
        action = request.form.get("action", "save")
        dirty = True
        if action == "add":
            if len(rows) >= info.capacity:
                flash(_("Your phone has %(max)s buttons: remove some before saving.", max=info.capacity), "error")
            else:
                own = user.primary_extension.number if user.primary_extension else ""
                rows.append(KeyRow("speed" if rows else "line", "" if rows else own, ""))
        elif action == "delete":
            chosen = selected_indexes()
            if not chosen:
                flash(_("Tick the buttons to delete first."), "warning")
            rows = [r for i, r in enumerate(rows) if i not in chosen]
        elif action.startswith(("up-", "down-")) and re.fullmatch(r"[0-9]{1,4}", action.split("-", 1)[1]):
            i = int(action.split("-", 1)[1])
            j = i - 1 if action.startswith("up-") else i + 1
            if 0 <= i < len(rows) and 0 <= j < len(rows):
                rows[i], rows[j] = rows[j], rows[i]
        else:
            cleaned, errors = validate_rows(db, user, rows, info.capacity)
            if errors:
                for err in errors:
                    flash(key_message(err), "error")
                status = 400
            else:
                save_rows(db, user, cleaned)
                flash(_("Saved. Use \"Resynchronize the phone\" so that your phone takes the change."), "success")
                return redirect(url_for("phone.index"))
    return render_template("phone/index.html", form=form, rows=rows, kinds=kinds_for(user, rows), info=info,
                           pending=pending, dirty=dirty, can_use_blf=user.can_use_blf), status


@bp.route("/resync", methods=["GET", "POST"])
@login_required
def resync() -> Any:
    """GET: the guide's warning (unsaved changes are lost) and a confirm button; POST: do it."""
    user = current_user.user
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("The form could not be read; please try again."), "error")
            return redirect(url_for("phone.index"))
        client = ControlClient.from_settings(current_app.config["CLUSTERPBX"])
        try:
            client.call("resync_phone", user_id=user.id)
        except CommandError:
            flash(_("The telephone system cannot be reached right now: your phone was not asked to "
                    "resynchronize. Your saved buttons are kept; try again in a few minutes."), "error")
        else:
            mark_applied(get_db(), user)
            flash(_("Your phone was asked to reload its configuration; this takes up to a minute."), "success")
        return redirect(url_for("phone.index"))
    return render_template("phone/resync.html", form=form)
