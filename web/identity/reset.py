"""Mot de passe oublié ?: an e-mailed, signed, expiring, single-use link to choose a new password under
the tenant's policy; using it ends every session of the account."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import Length

from clusterpbx.control.identity import find_user_by_email, set_password_from_link
from clusterpbx.control.links import LinkProblem, LinkPurpose, check_link_token, make_link_token
from clusterpbx.control.passwords import PasswordPolicy
from clusterpbx.control.validation import InvalidValue, normalise_email

from ..db import get_db
from ..limiter import limiter
from ..settings import rule_lines, violation_message
from . import address_key, bp, mailer, remote_address, settings
from .signup import link_problem


class ForgotForm(FlaskForm):
    email = EmailField(validators=[Length(max=255)])
    submit = SubmitField()


class ResetForm(FlaskForm):
    new_password = PasswordField(validators=[Length(max=256)])
    confirm_password = PasswordField(validators=[Length(max=256)])
    submit = SubmitField()


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CLUSTERPBX"].forgot_rate_limit, methods=["POST"],
               key_func=remote_address)
@limiter.shared_limit(lambda: current_app.config["CLUSTERPBX"].mail_per_address_rate_limit,
                      scope="identity-mail-address", methods=["POST"], key_func=address_key)
def forgot() -> Any:
    form = ForgotForm()
    errors: list[str] = []
    if form.validate_on_submit():
        try:
            email = normalise_email(form.email.data or "")
        except InvalidValue:
            errors.append(_("Enter a valid e-mail address."))
        else:
            user = find_user_by_email(get_db(), email)
            if user is not None and user.active and user.tenant.allow_password_login:
                token = make_link_token(settings().secret_key, LinkPurpose.RESET_PASSWORD, user)
                link = mailer.absolute_url("identity.reset", token=token)
                mailer.deliver(mailer.password_reset(user, link, settings().reset_link_minutes))
            # The same answer whether or not the address has an account.
            return redirect(url_for("identity.forgot_sent"))
    elif form.is_submitted():
        errors.append(_("The form could not be read; please try again."))
    return render_template("identity/forgot.html", form=form, errors=errors), 400 if errors else 200


@bp.route("/password/forgot/sent")
def forgot_sent() -> Any:
    return render_template("identity/message.html", title=_("Check your e-mail"), kind="info", message=_(
        "If an account uses this address, we have sent it a link to choose a new password. The link works "
        "once, within %(minutes)d minutes. Nothing arrived? Check your spam folder.",
        minutes=settings().reset_link_minutes))


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset(token: str) -> Any:
    db = get_db()
    try:
        user = check_link_token(db, settings().secret_key, LinkPurpose.RESET_PASSWORD, token,
                                settings().reset_link_minutes * 60)
    except LinkProblem as exc:
        return link_problem(exc.code)
    policy = PasswordPolicy.for_tenant(user.tenant)
    form = ResetForm()
    errors: list[str] = []
    if request.method == "POST" and form.validate_on_submit():
        new = form.new_password.data or ""
        if new != (form.confirm_password.data or ""):
            errors.append(_("The new password and its confirmation do not match."))
        else:
            errors = [violation_message(code, policy) for code in set_password_from_link(user, new)]
        if not errors:
            db.commit()  # the session version changed: every session of the account ends
            flash(_("Your password was changed. Log in with your new password."), "success")
            return redirect(url_for("auth.login"))
        db.rollback()
    elif request.method == "POST":
        errors.append(_("The form could not be read; please try again."))
    return render_template("identity/reset.html", form=form, errors=errors, rules=rule_lines(policy),
                           email=user.email), 400 if errors else 200
