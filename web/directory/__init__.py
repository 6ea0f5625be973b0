"""Répertoire: the company directory on the left (search by name or department, accents ignored), the
user's personal directory on the right (colleagues picked from the left, external contacts), and a
button asking the desk phone to download it again."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length

from clusterpbx.control.commands import CommandError, ControlClient
from clusterpbx.control.directory import (
    ContactRefused,
    add_colleague,
    add_external,
    company_page,
    personal_contacts,
    remove,
)

from .. import id_arg
from ..db import get_db

bp = Blueprint("directory", __name__, url_prefix="/directory")


class ExternalForm(FlaskForm):
    name = StringField(validators=[Length(max=200)])
    number = StringField(validators=[Length(max=60)])


def _search_args() -> dict[str, Any]:
    """Keep the search and the page across the buttons' round trips."""
    q = (request.args.get("q") or "")[:80]
    page = request.args.get("page", "1")
    number = id_arg(page)
    return {"q": q or None, "page": number if number and number != 1 and number < 100_000 else None}


def refusal_message(exc: ContactRefused) -> str:
    field = {"name": _("Name"), "number": _("Number"), "contacts": _("Personal directory")}.get(exc.field, exc.field)
    text = {
        "control_characters": _("contains characters that are not allowed."),
        "invalid_number": _("is not a valid phone number."),
        "too_long": _("is too long."),
        "required": _("is required."),
        "too_many": _("is full (500 entries at most)."),
    }.get(exc.code, _("This value cannot be used."))
    return f"{field}: {text}"


@bp.route("/")
@login_required
def index() -> Any:
    db = get_db()
    user = current_user.user
    args = _search_args()
    result = company_page(db, user.tenant_id, user.tenant.node_id, args["q"] or "", args["page"] or 1)
    contacts = personal_contacts(db, user)
    picked = {c.ref_user_id for c in contacts if c.ref_user_id}
    return render_template("directory/index.html", result=result, contacts=contacts, picked=picked,
                           q=args["q"] or "", form=ExternalForm(), args=args)


@bp.route("/add/<int:ref_user_id>", methods=["POST"])
@login_required
def add(ref_user_id: int) -> Any:
    if not FlaskForm().validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
    else:
        try:
            add_colleague(get_db(), current_user.user, ref_user_id)
        except LookupError:
            abort(404)
        except ContactRefused as exc:
            flash(refusal_message(exc), "error")
        else:
            flash(_("Added to your personal directory. Resynchronize the phone to see it there."), "success")
    return redirect(url_for("directory.index", **_search_args()))


@bp.route("/external", methods=["POST"])
@login_required
def external() -> Any:
    form = ExternalForm()
    if not form.validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
    else:
        try:
            add_external(get_db(), current_user.user, form.name.data or "", form.number.data or "")
        except ContactRefused as exc:
            flash(refusal_message(exc), "error")
        else:
            flash(_("Added to your personal directory. Resynchronize the phone to see it there."), "success")
    return redirect(url_for("directory.index", **_search_args()))


@bp.route("/remove/<int:contact_id>", methods=["POST"])
@login_required
def remove_contact(contact_id: int) -> Any:
    if not FlaskForm().validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
    else:
        try:
            remove(get_db(), current_user.user, contact_id)
        except LookupError:
            abort(404)  # not one of the user's own entries
        flash(_("Removed from your personal directory."), "success")
    return redirect(url_for("directory.index", **_search_args()))


@bp.route("/resync", methods=["POST"])
@login_required
def resync() -> Any:
    if not FlaskForm().validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("directory.index"))
    client = ControlClient.from_settings(current_app.config["CLUSTERPBX"])
    try:
        client.call("resync_phone", user_id=current_user.user.id)
    except CommandError:
        flash(_("The telephone system cannot be reached right now: your phone was not asked to download "
                "your directory. Your entries are kept; try again in a few minutes."), "error")
    else:
        flash(_("Your phone was asked to reload its configuration; this takes up to a minute."), "success")
    return redirect(url_for("directory.index", **_search_args()))
