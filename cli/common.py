"""What the command modules (`cli/cmd_*.py`, `provisioning/cli.py`) share: a session that commits at the
end, objects made through the administration services, and errors worded for the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from clusterpbx.control.admin import Actor, Invalid, resource
from clusterpbx.control.config import Settings
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import Tenant


@contextmanager
def session(settings: Settings) -> Iterator[Session]:
    """One session on a new engine: committed if the block ends normally, rolled back otherwise."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    db = factory()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()
        engine.dispose()


def invalid(exc: Invalid) -> click.ClickException:
    """A service's field errors as one line."""
    return click.ClickException("; ".join(f"{k}: {v}" if k else v for k, v in exc.errors.items()))


def create(db: Session, name: str, data: dict[str, Any]) -> Any:
    """One object made by the administration service `name`, acting as the command line; its field
    errors as the command's error."""
    try:
        return resource(name).create(db, Actor.command_line(), data)
    except Invalid as exc:
        raise invalid(exc) from None


def tenant_by_domain(db: Session, domain: str) -> Tenant:
    """The tenant of a domain, or the command's error."""
    tenant = db.scalar(select(Tenant).where(Tenant.domain == domain.lower()))
    if tenant is None:
        raise click.ClickException(f"no tenant with domain {domain!r}")
    return tenant


