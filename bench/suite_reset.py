"""How long the test suite's per-test PostgreSQL reset takes, alternated on the same database: the
TRUNCATE of every table it used first; then DELETEs of every table with the sequences set back and a
VACUUM, on a new connection each time (`delete_all`); and what tests/conftest.py runs now (`delete`):
the same on a connection kept for the session, for the tables that hold rows only.

    CLUSTERPBX_TEST_POSTGRES_URL=postgresql+psycopg://USER:PW@127.0.0.1/DB .venv/bin/python -m bench.suite_reset

Use a database of its own: the schema is dropped and migrated again. Each round fills a tenant, two
users and a call record first (the tests leave a few rows), then times one reset of each kind.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from sqlalchemy import create_engine, text

from clusterpbx.control import migrate
from clusterpbx.control.accounts import NewUser, create_tenant, create_user
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import Base
from tests.conftest import _delete_statements, _truncate_postgres


def fill(url: str, n: int) -> None:
    engine = make_engine(url)
    db = make_session_factory(engine)()
    tenant = create_tenant(db, f"Bench{n}", f"bench{n}.test")
    for i in range(2):
        create_user(db, tenant, NewUser(email=f"u{i}@bench{n}.test", first_name="B", last_name=str(i),
                                        password="Secret-pass1", extension=str(201 + i), language="fr"),
                    check_policy=False)
    db.commit()
    db.close()
    engine.dispose()


def fresh_engine(url: str) -> Any:
    """A new engine, as the earlier resets made each time (make_engine(url, busy_timeout=0)): SQLAlchemy's
    own, since importing tests.conftest makes make_engine share one engine per URL."""
    return create_engine(url, future=True, pool_pre_ping=True)


def end_idle_transactions(conn: Any) -> None:
    conn.execute(text(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"))


def truncate(url: str) -> None:
    """The reset before (tests/conftest.py at 6dc422a)."""
    engine = fresh_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        end_idle_transactions(conn)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


def delete_all(url: str) -> None:
    """The reset before (tests/conftest.py at 7b01a39): a new engine, DELETEs of every table, VACUUM of
    every table."""
    engine = fresh_engine(url)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        end_idle_transactions(conn)
        conn.exec_driver_sql(_delete_statements())
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(f"VACUUM {names}")
    engine.dispose()


def delete(url: str) -> None:
    """The reset the suite runs now: the reset's engine kept, DELETEs and VACUUM of the tables that hold
    rows only."""
    _truncate_postgres(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    url = os.environ["CLUSTERPBX_TEST_POSTGRES_URL"]
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(url)
    times: dict[str, list[float]] = {"truncate": [], "delete_all": [], "delete": []}
    for n in range(args.rounds):
        for name, reset in (("truncate", truncate), ("delete_all", delete_all), ("delete", delete)):
            fill(url, n)
            started = time.perf_counter()
            reset(url)
            times[name].append(time.perf_counter() - started)
    for name, values in times.items():
        print(f"{name:8} median {statistics.median(values) * 1000:7.1f} ms  (min {min(values) * 1000:.1f}, "
              f"max {max(values) * 1000:.1f}, {len(values)} rounds)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
