"""Request-scoped database session for the portal.

A request's transaction (docs/transactions.md) starts at its first statement and ends at the handler's
commit, at the latest when the request ends (teardown closes the session, rolling back what was not
committed). It never stays open across a round trip to the control daemon: `end_transaction()` runs
before each one (control/commands.py BEFORE_CALL).
"""

from __future__ import annotations

import logging

from flask import current_app, g, has_app_context
from sqlalchemy.orm import Session

log = logging.getLogger("clusterpbx.web")


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["clusterpbx.sessions"]()
    db: Session = g.db
    return db


def end_transaction() -> None:
    """Commit the request's open transaction, if any, before the daemon is called. What the handler
    saved is committed (saved first, then pushed); a session with nothing written only ends its read.
    Objects stay usable (expire_on_commit=False)."""
    if not has_app_context():
        return
    db: Session | None = g.get("db")
    if db is None or not db.in_transaction():
        return
    if db.new or db.dirty or db.deleted:
        log.warning("uncommitted changes before a call to the control daemon; committed first")
    db.commit()


def reset_session() -> None:
    """After a database error: roll the request's session back so that it can be used again (to render
    the error page, for instance) instead of raising PendingRollbackError."""
    db: Session | None = g.get("db") if has_app_context() else None
    if db is not None:
        try:
            db.rollback()
        except Exception:  # the connection itself is gone: start over with a new session
            log.warning("rollback failed; the session is replaced", exc_info=True)
            db.close()
            g.pop("db", None)
