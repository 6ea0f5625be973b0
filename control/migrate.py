"""Apply the Alembic migrations shipped in clusterpbx.migrations to a database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import clusterpbx.migrations


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(clusterpbx.migrations.__file__).parent))
    # ConfigParser interpolation would eat a '%' in a password.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def revision(database_url: str, message: str) -> None:
    """Developer helper: autogenerate a new migration from the models."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)
