"""Each test starts from an empty database whose ids start again at 1 (tests/conftest.py: database_url;
on PostgreSQL the per-worker database is emptied with DELETEs and its sequences set back). The tests of
the pair run in file order; the second fails if what the first wrote survived."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from clusterpbx.control.models import Base
from tests.conftest import World

WROTE: list[str] = []


def test_a_test_fills_the_database(world: World, database_url: str) -> None:
    tenant = world.tenant("first.test")
    world.user(tenant)
    world.user(tenant)
    assert tenant.id == 1
    WROTE.append(database_url.split(":")[0])


def test_the_next_test_finds_every_table_empty_and_ids_from_1(world: World, db: Any, database_url: str) -> None:
    if database_url.split(":")[0] not in WROTE:
        pytest.skip("meaningful after the test above only (run alone or in another order)")
    for table in Base.metadata.sorted_tables:
        assert db.scalar(select(func.count()).select_from(table)) == 0, table.name
    tenant = world.tenant("second.test")
    user = world.user(tenant)
    assert (tenant.id, user.id) == (1, 1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_postgres_reset_knows_every_table_and_commits_without_waiting_for_the_disk(
        db: Any, _sqlite_template: Path) -> None:
    """The deletes name every table the migrations create (a table they miss would keep its rows), and
    the per-worker database does not wait for the disk at each commit (_no_commit_flush). Tables made
    at run time by a library (APScheduler's job store) were never emptied between tests, by TRUNCATE
    either."""
    from tests.conftest import _delete_statements, _used_tables_query

    statements = _delete_statements()
    used = _used_tables_query()  # which tables hold rows: a table it misses would be skipped
    migrated = create_engine(f"sqlite:///{_sqlite_template}")
    tables = set(inspect(migrated).get_table_names()) - {"alembic_version"}
    migrated.dispose()
    assert "users" in tables
    assert {t for t in tables if f'DELETE FROM "{t}"' not in statements} == set()  # noqa: S608 (not run)
    assert {t for t in tables if f'SELECT 1 FROM "{t}"' not in used} == set()  # noqa: S608 (not run)
    assert db.execute(text(used)).scalars().all() == []  # an empty database: nothing to delete
    if db.scalar(text("SELECT pg_catalog.pg_get_userbyid(datdba) = current_user FROM pg_database "
                      "WHERE datname = current_database()")):
        assert db.scalar(text("SHOW synchronous_commit")) == "off"
