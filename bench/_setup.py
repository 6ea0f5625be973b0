"""What the benchmarks share: a fresh, migrated database; the bench company ("Bench Inc.",
bench.example.com) on one Asterisk node; its live calls; percentiles; the command line and the database
it names."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from clusterpbx.control import migrate
from clusterpbx.control.accounts import create_tenant
from clusterpbx.control.db import make_engine, make_session_factory
from clusterpbx.control.models import NodeKind, PbxNode, Tenant


def fresh_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    """The database at `url` emptied (PostgreSQL: its public schema dropped) and migrated."""
    engine = make_engine(url)
    if url.startswith("postgresql"):
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    migrate.upgrade(url)
    return engine, make_session_factory(engine)


def bench_company(db: Session) -> tuple[PbxNode, Tenant]:
    """The bench node and company, flushed (ids known), not committed."""
    node = PbxNode(name="bench", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = create_tenant(db, "Bench Inc.", "bench.example.com", node)
    tenant.timezone = "America/Montreal"
    db.flush()
    return node, tenant


def live_call_rows(node_id: int, tenant_id: int, count: int, users: int) -> list[dict[str, Any]]:
    """`count` answered calls from extensions 10000 to 10000 + users - 1 to outside numbers, started one
    second apart up to now (rows for insert(LiveCall.__table__))."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return [{"node_id": node_id, "tenant_id": tenant_id, "pbx_call_id": f"l{i}",
             "started_at": now - dt.timedelta(seconds=i), "answered_at": None, "state": "answered",
             "source_number": str(10000 + i % users), "destination_number": f"1514{i:07d}",
             "source_uri": f"sip:{10000 + i % users}@bench.example.com",
             "destination_uri": f"sip:1514{i:07d}@bench.example.com", "source_ip": "10.0.0.1",
             "destination_ip": "10.0.0.2"} for i in range(count)]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_args(doc: str | None, **options: int) -> argparse.Namespace:
    """The command line: --backend sqlite|postgresql, then one integer option per keyword, its default
    the value (export_runs=3 is --export-runs 3)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    for name, default in options.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=default)
    return parser.parse_args()


def database_url(backend: str, workdir: str | Path) -> str:
    """A SQLite file in `workdir`, or CLUSTERPBX_TEST_POSTGRES_URL (exits with a word when unset)."""
    if backend == "sqlite":
        return f"sqlite:///{Path(workdir) / 'bench.db'}"
    url = os.environ.get("CLUSTERPBX_TEST_POSTGRES_URL", "")
    if not url:
        print("set CLUSTERPBX_TEST_POSTGRES_URL (bash .ci/run shows how)", file=sys.stderr)
        raise SystemExit(2)
    return url
