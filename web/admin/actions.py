"""The buttons beside the generic form: "Tester la connexion" for a PBX node, and for a user "reset
password", "disable" and "enable". All are POST with a CSRF token and go through the services."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, url_for
from flask_babel import gettext as _

from clusterpbx.control.admin import Invalid
from clusterpbx.control.admin.nodes import test_node as test_node_service
from clusterpbx.control.admin.users import send_password_reset as send_password_reset_service
from clusterpbx.control.commands import ControlClient
from clusterpbx.control.links import LinkPurpose, make_link_token
from clusterpbx.control.mail import MailError, send

from ..db import get_db
from ..identity import mailer
from . import ActionForm, actor, bp, call, get_resource, title_of


def _checked() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)


@bp.route("/nodes/<int:object_id>/test", methods=["POST"])
def test_node(object_id: int) -> Any:
    _checked()
    client = ControlClient.from_settings(current_app.config["CLUSTERPBX"])
    db = get_db()
    try:
        result = call(test_node_service, db, actor(), object_id, client)
    except Invalid as exc:
        db.rollback()
        flash(_("Connection test failed.") + " " + " ".join(_(m) for m in exc.errors.values()), "error")
        return redirect(url_for("admin.edit_view", name="nodes", object_id=object_id))
    db.commit()  # the test is audited
    ok, detail = _outcome(result)
    if ok:
        flash(_("Connection test succeeded.") + (f" {detail}" if detail else ""), "success")
    else:
        flash(_("Connection test failed.") + (f" {detail}" if detail else ""), "error")
    return redirect(url_for("admin.edit_view", name="nodes", object_id=object_id))


def _outcome(result: Any) -> tuple[bool, str]:
    """`test_node` reports success and a short detail; accept an object, a dict or a pair."""
    if isinstance(result, dict):
        return bool(result.get("ok")), str(result.get("detail") or result.get("message") or result.get("error") or "")
    if isinstance(result, tuple) and len(result) == 2:
        return bool(result[0]), str(result[1] or "")
    if isinstance(result, bool):
        return result, ""
    ok = bool(getattr(result, "ok", False))
    detail = getattr(result, "detail", None) or getattr(result, "message", None) or getattr(result, "error", "")
    return ok, str(detail or "")


@bp.route("/users/<int:object_id>/reset-password", methods=["POST"])
def send_password_reset(object_id: int) -> Any:
    _checked()
    db = get_db()
    res = get_resource("users")
    user = call(res.get, db, actor(), object_id)
    title = title_of(res, user)
    try:
        call(send_password_reset_service, db, actor(), object_id, send=send_reset_mail)
    except Invalid as exc:
        db.rollback()
        for message in exc.errors.values():
            flash(_(message), "error")
        return redirect(url_for("admin.edit_view", name="users", object_id=object_id))
    except MailError:
        db.rollback()
        flash(_("The e-mail could not be sent; nothing was changed. Try again later."), "error")
        return redirect(url_for("admin.edit_view", name="users", object_id=object_id))
    db.commit()
    flash(_("A password reset link was sent to %(title)s.", title=title), "success")
    return redirect(url_for("admin.edit_view", name="users", object_id=object_id))


def send_reset_mail(user: Any) -> None:
    """The very mail of "Mot de passe oublié ?" (single-use link, the user's language), sent now so
    that the administrator learns whether it left."""
    settings = current_app.config["CLUSTERPBX"]
    token = make_link_token(settings.secret_key, LinkPurpose.RESET_PASSWORD, user)
    link = mailer.absolute_url("identity.reset", token=token)
    send(settings, mailer.password_reset(user, link, settings.reset_link_minutes))


def _set_active(object_id: int, active: bool) -> Any:
    _checked()
    db = get_db()
    res = get_resource("users")
    try:
        user = call(res.update, db, actor(), object_id, {"active": active})
        db.commit()
    except Invalid as exc:
        db.rollback()
        for message in exc.errors.values():
            flash(_(message), "error")
        return redirect(url_for("admin.edit_view", name="users", object_id=object_id))
    title = title_of(res, user)
    flash(_("%(title)s is enabled.", title=title) if active else _("%(title)s is disabled.", title=title),
          "success")
    return redirect(url_for("admin.edit_view", name="users", object_id=object_id))


@bp.route("/users/<int:object_id>/disable", methods=["POST"])
def disable_user(object_id: int) -> Any:
    return _set_active(object_id, False)


@bp.route("/users/<int:object_id>/enable", methods=["POST"])
def enable_user(object_id: int) -> Any:
    return _set_active(object_id, True)
