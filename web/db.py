"""Request-scoped database session for the portal."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, g
from sqlalchemy.orm import Session


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["clusterpbx.sessions"]()
    db: Session = g.db
    return db


def get_or_404(model: type[Any], ident: Any) -> Any:
    obj = get_db().get(model, ident)
    if obj is None:
        abort(404)
    return obj
