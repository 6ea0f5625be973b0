"""The "API tokens" page: a signed-in user creates personal tokens (shown once) and revokes them.
A session page like the other screens (Flask-Login, Flask-WTF with CSRF), unlike the API itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from clusterpbx.control import apitokens
from clusterpbx.control.models import utcnow

from ..db import get_db
from . import bp

EXPIRY = [SelectChoice("0", _l("Never")), SelectChoice("30", _l("In 30 days")),
          SelectChoice("90", _l("In 90 days")), SelectChoice("365", _l("In one year"))]

MESSAGES = {
    "Give the token a name.": _l("Give the token a name."),
    "The name must be at most 80 printable characters.": _l("The name must be at most 80 printable characters."),
    "You have too many tokens; revoke one first.": _l("You have too many tokens; revoke one first."),
}


class TokenForm(FlaskForm):
    name = StringField(validators=[Length(max=200)])
    expires = SelectField(choices=EXPIRY, default="0")


def _page(form: TokenForm, new_token: str = "", status: int = 200) -> Any:
    db = get_db()
    now = utcnow()
    tokens = apitokens.user_tokens(db, current_user.user)
    resp = render_template("api/tokens.html", form=form, tokens=tokens, new_token=new_token, now=now,
                           usable=apitokens.is_usable, revoke_form=FlaskForm())
    return resp, status, {"Cache-Control": "no-store"}


@bp.route("/api-tokens/", methods=["GET"])
@login_required
def tokens() -> Any:
    return _page(TokenForm())


@bp.route("/api-tokens/", methods=["POST"])
@login_required
def create_token() -> Any:
    form = TokenForm()
    if not form.validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
        return _page(form, status=400)
    days = int(form.expires.data or "0")
    expires = utcnow() + dt.timedelta(days=days) if days else None
    db = get_db()
    try:
        _row, secret = apitokens.create_user_token(db, current_user.user, form.name.data or "", expires)
    except apitokens.TokenRefused as exc:
        db.rollback()
        flash(str(MESSAGES.get(exc.message, exc.message)), "error")
        return _page(form, status=400)
    db.commit()
    flash(_("Token created."), "success")
    return _page(TokenForm(formdata=None), new_token=secret)


@bp.route("/api-tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int) -> Any:
    if not FlaskForm().validate_on_submit():
        flash(_("The form could not be read; please try again."), "error")
        return redirect(url_for("api.tokens"))
    if token_id >= 2**31:
        abort(404)
    db = get_db()
    try:
        apitokens.revoke_own(db, current_user.user, token_id)
    except LookupError:
        abort(404)  # another user's token looks like a missing one
    db.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("api.tokens"))
