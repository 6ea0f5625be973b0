"""Login screen ("Connexion"), logout ("Déconnexion") and the pre-login language choice."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from clusterpbx.control import logins
from clusterpbx.control.models import User, utcnow
from clusterpbx.control.passwords import hash_password, needs_rehash, verify_password

from .. import LANGUAGES, login_manager
from ..db import get_db
from ..limiter import limiter
from ..redirects import safe_redirect_target

bp = Blueprint("auth", __name__)


class PortalUser(UserMixin):
    """Flask-Login's view of a User. The id carries the session version so that bumping it
    (password change or reset) ends every other session and remember-me cookie."""

    def __init__(self, user: User):
        self.user = user

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"

    @property
    def is_active(self) -> bool:
        return bool(self.user.active and self.user.approved)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.user, name)


@login_manager.user_loader
def load_user(user_id: str) -> PortalUser | None:
    try:
        ident, version = (int(x) for x in user_id.split(":", 1))
    except ValueError:
        return None
    user = get_db().get(User, ident)
    if user is None or user.session_version != version or not (user.active and user.approved):
        return None
    return PortalUser(user)


class LoginForm(FlaskForm):
    # No language field: the login page's language buttons change the session's language only, and
    # logging in keeps the language the user saved (a French browser must not switch an English user).
    email = EmailField(validators=[DataRequired(), Length(max=255)])
    password = PasswordField(validators=[Length(max=256)])
    remember = BooleanField()
    submit = SubmitField()


def _login_key() -> str:
    return request.remote_addr or "unknown"


def _refused(form: LoginForm, refusal: logins.Refusal) -> Any:
    """429 with Retry-After; the same words whether or not an account uses the address."""
    minutes = math.ceil(refusal.retry_after / 60)
    if refusal.scope == logins.ACCOUNT:
        flash(_("Too many failed attempts on this address. Try again in %(minutes)d minutes, or use \"Forgot "
                "your password?\" to choose a new password: that lifts the lock at once.", minutes=minutes),
              "error")
    elif refusal.retry_after < 60:
        flash(_("Too many failed attempts. Try again in %(seconds)d seconds.", seconds=refusal.retry_after),
              "error")
    else:
        flash(_("Too many failed attempts. Try again in %(minutes)d minutes.", minutes=minutes), "error")
    return render_template("auth/login.html", form=form), 429, {"Retry-After": str(refusal.retry_after)}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CLUSTERPBX"].login_rate_limit, methods=["POST"], key_func=_login_key)
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        settings = current_app.config["CLUSTERPBX"]
        db = get_db()
        email = (form.email.data or "").strip().lower()
        now = utcnow()
        client = logins.client_key(request.remote_addr)
        # A blocked attempt is refused before the password is looked at (docs/deploy.md, "Login throttling").
        refusal = logins.check(db, email, client, now)
        if refusal is not None:
            return _refused(form, refusal)
        user = db.scalar(select(User).where(func.lower(User.email) == email))
        password = form.password.data or ""
        ok = verify_password(user.password_hash if user else "", password)
        # A self sign-up logs in only once its address is confirmed (and the tenant approved it).
        if (user is not None and ok and user.tenant.allow_password_login and user.active and user.approved
                and user.email_confirmed):
            logins.record_success(db, email, client)
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            user.last_login_at = now
            db.commit()
            session.clear()  # a fresh session id at login (no fixation)
            session["lang"] = user.language
            login_user(PortalUser(user), remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")))
        logins.record_failure(db, email, client, now, logins.ThrottlePolicy.from_settings(settings))
        db.commit()
        # One message whatever went wrong, so the form does not tell which e-mails exist.
        flash(_("Incorrect e-mail or password."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an open redirect after login is a phishing gift.
    return safe_redirect_target(target, url_for("home.index"))


@bp.route("/language/<code>", methods=["POST"])
def set_language(code: str) -> Any:
    if code in LANGUAGES:
        session["lang"] = code
        if current_user.is_authenticated:
            current_user.user.language = code
            get_db().commit()
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))
