"""The user guide and the voicemail guide, as pages of the portal in both languages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import login_required

from .. import select_locale

bp = Blueprint("guide", __name__, url_prefix="/guide")

PAGES = {"user", "voicemail"}


@bp.route("/<name>")
@login_required
def page(name: str) -> Any:
    if name not in PAGES:
        abort(404)
    lang = select_locale()
    return render_template(f"guide/{name}_{lang}.html")
