"""A request body over the upload limit (413): back to the form the file came from, with the reason in
the user's language, inside the portal; JSON under /api. Registered by create_app()."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import MethodNotAllowed, NotFound

from .jsonresponse import error_response
from .redirects import safe_redirect_target


def _form_page() -> str | None:
    """The page that showed the form: the referring page on this site, else the same path if it can be
    fetched, else the screen's own index."""
    referrer = safe_redirect_target(request.referrer, "")
    if referrer:
        return referrer
    adapter = current_app.url_map.bind("")
    try:
        adapter.match(request.path, method="GET")
        return request.path
    except (NotFound, MethodNotAllowed):
        pass
    if request.blueprint and f"{request.blueprint}.index" in current_app.view_functions:
        return url_for(f"{request.blueprint}.index")
    return None


def too_large(_exc: Any) -> Any:
    limit_mb = max(1, current_app.config["CLUSTERPBX"].max_upload_bytes // (1024 * 1024))
    if request.path.startswith("/api/"):
        return error_response(413, {"": f"The request is too large ({limit_mb} MB at most)."})
    message = _("The file is too large (%(mb)d MB at most). Nothing was saved: choose a smaller file.",
                mb=limit_mb)
    back = _form_page() if current_user.is_authenticated and request.method == "POST" else None
    if back:
        flash(message, "error")
        return redirect(back, 303)
    return render_template("error.html", code=413, kind="too_large", message=message), 413
