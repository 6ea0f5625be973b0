"""S'enregistrer: self sign-up for an address whose domain a tenant accepts, confirmed by a signed,
expiring e-mailed link; then the tenant's approval (or none, where the tenant says so)."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import Length

from clusterpbx.control import validation
from clusterpbx.control.accounts import AccountError
from clusterpbx.control.identity import PolicyViolation, SignupOutcome, confirm_email, sign_up
from clusterpbx.control.links import LinkProblem, LinkPurpose, check_link_token, make_link_token
from clusterpbx.control.validation import InvalidValue, normalise_email

from ..db import get_db
from ..limiter import limiter
from ..settings import violation_message
from . import address_key, bp, mailer, remote_address, settings


class SignupForm(FlaskForm):
    first_name = StringField(validators=[Length(max=80)])
    last_name = StringField(validators=[Length(max=80)])
    email = EmailField(validators=[Length(max=255)])
    password = PasswordField(validators=[Length(max=256)])
    confirm_password = PasswordField(validators=[Length(max=256)])
    submit = SubmitField()


class ConfirmForm(FlaskForm):
    submit = SubmitField()


def _form_errors(form: SignupForm) -> list[str]:
    errors = []
    if not (form.first_name.data or "").strip() or not (form.last_name.data or "").strip():
        errors.append(_("Enter your first and last name."))
    else:
        try:
            validation.display_name(form.first_name.data or "", "first_name")
            validation.display_name(form.last_name.data or "", "last_name")
        except validation.InvalidValue:
            errors.append(_("Your name may not contain control characters."))
    try:
        normalise_email(form.email.data or "")
    except InvalidValue:
        errors.append(_("Enter a valid e-mail address."))
    if (form.password.data or "") != (form.confirm_password.data or ""):
        errors.append(_("The password and its confirmation do not match."))
    return errors


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CLUSTERPBX"].signup_rate_limit, methods=["POST"],
               key_func=remote_address)
@limiter.shared_limit(lambda: current_app.config["CLUSTERPBX"].mail_per_address_rate_limit,
                      scope="identity-mail-address", methods=["POST"], key_func=address_key)
def signup() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = SignupForm()
    errors: list[str] = []
    if form.validate_on_submit():
        errors = _form_errors(form)
        if not errors:
            db = get_db()
            language = str(get_locale() or "fr")
            language = language if language in ("fr", "en") else "fr"
            try:
                result = sign_up(db, form.email.data or "", form.first_name.data or "", form.last_name.data or "",
                                 form.password.data or "", language)
            except PolicyViolation as exc:
                db.rollback()
                errors = [violation_message(code, exc.policy) for code in exc.codes]
            except AccountError:
                db.rollback()
                errors = [_("These details cannot be used. Check them and try again.")]
            else:
                db.commit()
                _send(result.outcome, result.user)
                # One answer for every case (new, existing, unknown domain): the form reveals no account.
                return redirect(url_for("identity.signup_sent"))
    elif form.is_submitted():
        errors = [_("The form could not be read; please try again.")]
    return render_template("identity/signup.html", form=form, errors=errors), 400 if errors else 200


def _send(outcome: SignupOutcome, user: Any) -> None:
    if user is None or outcome is SignupOutcome.UNKNOWN_DOMAIN:
        return  # no tenant takes this domain: nothing to say to an address we do not serve
    if outcome is SignupOutcome.CREATED:
        token = make_link_token(settings().secret_key, LinkPurpose.CONFIRM_EMAIL, user)
        link = mailer.absolute_url("identity.confirm", token=token)
        mailer.deliver(mailer.signup_confirmation(user, link, settings().signup_link_hours))
    else:
        mailer.deliver(mailer.already_registered(user, mailer.absolute_url("identity.forgot"),
                                                 mailer.absolute_url("auth.login")))


@bp.route("/signup/sent")
def signup_sent() -> Any:
    return render_template("identity/message.html", title=_("Check your e-mail"), kind="info", message=_(
        "If this address can be registered, we have sent it an e-mail. Follow its link within %(hours)d hours "
        "to confirm the address. Nothing arrived? Check your spam folder, or ask your telephony administrator "
        "whether your company accepts sign-ups.", hours=settings().signup_link_hours))


def link_problem(code: str) -> Any:
    message = {
        "expired": _("This link has expired. Start again to receive a new one."),
        "used": _("This link was already used, or a newer one replaced it."),
    }.get(code, _("This link is not valid. Copy the whole link from the e-mail, or start again."))
    return render_template("identity/message.html", title=_("Link not usable"), message=message,
                           kind="error"), 400


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> Any:
    db = get_db()
    try:
        user = check_link_token(db, settings().secret_key, LinkPurpose.CONFIRM_EMAIL, token,
                                settings().signup_link_hours * 3600)
    except LinkProblem as exc:
        return link_problem(exc.code)
    form = ConfirmForm()
    # A GET only shows a button: mail scanners that open links must not consume the confirmation.
    if request.method == "POST" and form.validate_on_submit():
        can_log_in = confirm_email(user)
        db.commit()
        if can_log_in:
            message = _("Your e-mail address is confirmed. You can log in now.")
        else:
            message = _("Your e-mail address is confirmed. Your company's administrator must now approve your "
                        "account; you can log in once it is approved.")
        return render_template("identity/message.html", title=_("Address confirmed"), message=message,
                               kind="success")
    return render_template("identity/confirm.html", form=form, email=user.email)
