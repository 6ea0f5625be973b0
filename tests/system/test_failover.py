"""Issue 26's proof: two control daemons and two portal servers on one PostgreSQL, against the embedded
PBX with calls flowing at 2 calls/s, users saving settings, listing voicemail and keeping live pages open
on both servers. The daemon owning the node is killed (SIGKILL) twice, the other one each time, then each
portal server in turn. This runs `bench/failover.py` itself (the real processes, `clusterpbx control` and
`clusterpbx web`), in short phases, and holds it to the targets."""

from __future__ import annotations

import argparse
import os

import pytest
from sqlalchemy import create_engine, make_url, text

from bench import failover
from tests import components


def failover_database() -> str:
    """A database of its own (the bench empties it), per xdist worker."""
    base = make_url(components.postgres_url())
    name = f"{base.database}_failover{os.environ.get('PYTEST_XDIST_WORKER', '')}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.mark.timeout(600)
def test_two_daemons_two_servers_each_killed_in_turn() -> None:
    url = failover_database()
    opts = argparse.Namespace(rate=2.0, users=6, live_pages=6, phase=5.0, runs=1, keep=False)
    result = failover.run_once(opts, url)

    kills = [s for s in result["switches"] if "taken_s" in s]
    assert len(kills) == 2
    for s in kills:
        assert s["taken_s"] < failover.TARGET_TAKEOVER_S, s
        assert s["new_owner"] is not None, s
    assert [s["what"] for s in result["switches"] if "taken_s" not in s] == ["3: SIGKILL W1", "4: SIGKILL W2"]
    # The second kill hit the daemon that took the node over the first time.
    assert kills[0]["new_owner"] != kills[1]["new_owner"]
    assert result["calls"] >= 25, "calls flowed during the run"
    assert result["lost"] == 0 and result["doubled"] == 0 and result["unexpected"] == 0, result
    assert result["ghosts"] == 0
    assert result["unapplied"] == [], "every setting saved through either server was applied"
    # The only answers >= 500 allowed are the clear 503 "try again" while no daemon owned the node.
    assert [f for f in result["failures"] if f[2] != 503] == []
    # Live pages on both servers received the changes the daemons projected.
    assert result["live"]["events"]["W1"] > 0 and result["live"]["events"]["W2"] > 0
