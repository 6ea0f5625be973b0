"""Identity screens next to the login page: "S'enregistrer" (self sign-up), "Mot de passe oublié ?"
(password reset by e-mail) and "Connexion avec Gmail" (OpenID Connect), as one blueprint."""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask_babel import gettext as _

from ..limiter import limiter

bp = Blueprint("identity", __name__)


def remote_address() -> str:
    return request.remote_addr or "unknown"


def address_key() -> str:
    # Keyed by the address typed, whether or not an account has it: the limit on the mail one address
    # receives reveals nothing about which addresses exist.
    return "mail:" + (request.form.get("email") or "").strip().lower()[:255]


def settings() -> Any:
    return current_app.config["CLUSTERPBX"]


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    mailer.init_app(app)
    google.init_app(app)


@bp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"google_login_enabled": google.google_enabled(current_app)}


@bp.errorhandler(429)
def _throttled(_e: Any) -> Any:
    limit = limiter.current_limit
    minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60)) if limit is not None else 60
    message = _("Too many requests for this form from your connection or for this e-mail address. "
                "Try again in %(minutes)d minutes.", minutes=minutes)
    return render_template("identity/message.html", title=_("Too many attempts"), message=message,
                           kind="error"), 429


# Last: these modules import bp from here, and their views attach themselves to it.
from . import google, mailer, reset, signup  # noqa: E402,F401
