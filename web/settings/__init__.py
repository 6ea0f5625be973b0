"""Paramètres: the "Compte" tab (web password under the tenant's policy). The other two tabs,
"Paramètres avancés" and "Messagerie Vocale", register here as their screens are built."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SubmitField
from wtforms.validators import Length

from clusterpbx.control import audit
from clusterpbx.control.passwords import PasswordPolicy, hash_password, verify_password

from ..auth import PortalUser
from ..db import get_db

bp = Blueprint("settings", __name__, url_prefix="/settings")

# (endpoint, label) of the tabs, in the guide's order; only those whose view exists are shown.
TABS = [("settings.advanced", _l("Advanced settings")), ("settings.account", _l("Account")),
        ("settings.voicemail", _l("Voicemail"))]


class PasswordForm(FlaskForm):
    current_password = PasswordField(validators=[Length(max=256)])
    new_password = PasswordField(validators=[Length(max=256)])
    confirm_password = PasswordField(validators=[Length(max=256)])
    submit = SubmitField()


def rule_lines(policy: PasswordPolicy) -> list[str]:
    """The guide's list of restrictions, one line per rule, always all of them."""
    yes, no = _("yes"), _("no")
    return [
        _("Must contain between %(min)d and %(max)d characters.", min=policy.min_length, max=policy.max_length),
        _("The password may be empty: %(v)s", v=yes if policy.may_be_empty else no),
        _("The password must be numeric: %(v)s", v=yes if policy.numeric_only else no),
        _("The password must contain a digit: %(v)s", v=yes if policy.require_digit else no),
        _("The password must contain a lowercase letter: %(v)s", v=yes if policy.require_lower else no),
        _("The password must contain an uppercase letter: %(v)s", v=yes if policy.require_upper else no),
        _("The password must contain a special character: %(v)s", v=yes if policy.require_special else no),
    ]


def violation_message(code: str, policy: PasswordPolicy) -> str:
    return {
        "empty": _("The password may not be empty."),
        "length": _("The password must contain between %(min)d and %(max)d characters.",
                    min=policy.min_length, max=policy.max_length),
        "control": _("The password may not contain control characters."),
        "numeric_only": _("The password must contain digits only."),
        "digit": _("The password must contain a digit."),
        "lower": _("The password must contain a lowercase letter."),
        "upper": _("The password must contain an uppercase letter."),
        "special": _("The password must contain a special character."),
    }[code]


def tabs() -> list[tuple[str, Any]]:
    return list(TABS)


@bp.route("/")
@login_required
def index() -> Any:
    return redirect(url_for(tabs()[0][0]))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Any:
    user = current_user.user
    policy = PasswordPolicy.for_tenant(user.tenant)
    form = PasswordForm()
    errors: list[str] = []
    if form.validate_on_submit():
        new = form.new_password.data or ""
        if not verify_password(user.password_hash, form.current_password.data or ""):
            errors.append(_("The current password is incorrect."))
        if new != (form.confirm_password.data or ""):
            errors.append(_("The new password and its confirmation do not match."))
        errors += [violation_message(code, policy) for code in policy.violations(new)]
        if not errors:
            user.password_hash = hash_password(new)
            # End every other session and remember-me cookie; keep this one signed in.
            user.session_version += 1
            audit.user_change(get_db(), user, "password", {"password": ""}, {"password": "x"}, secrets=("password",))
            get_db().commit()
            login_user(PortalUser(user))
            flash(_("Your password was changed."), "success")
            return redirect(url_for("settings.account"))
    elif form.is_submitted():
        errors.append(_("The form could not be read; please try again."))
    for e in errors:
        flash(e, "error")
    status = 400 if errors else 200
    return render_template("settings/account.html", form=form, rules=rule_lines(policy), tabs=tabs()), status


# The other two tabs register their routes on this blueprint.
from . import advanced, voicemail_tab  # noqa: E402,F401
