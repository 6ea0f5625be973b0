"""Accueil: "À propos de moi" with the user, the domain and the phone's registration status."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from clusterpbx.control.presence import phone_status

from ..db import get_db

bp = Blueprint("home", __name__)


@bp.route("/")
def root() -> Any:
    return redirect(url_for("home.index") if current_user.is_authenticated else url_for("auth.login"))


@bp.route("/home")
@login_required
def index() -> Any:
    user = current_user.user
    return render_template("home/index.html", user=user, status=phone_status(get_db(), user))
