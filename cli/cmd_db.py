"""`clusterpbx db upgrade`: the Alembic migrations."""

from __future__ import annotations

from pathlib import Path

import click

from clusterpbx.control import migrate
from clusterpbx.control.config import load_settings


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations."""
    settings = load_settings()
    Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    click.echo("database is up to date")
