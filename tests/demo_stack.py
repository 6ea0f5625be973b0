"""The demo's whole stack for system tests, as `clusterpbx run` assembles it with real parts only: the
seeded demo company, the embedded PBX (sim/) on ephemeral AMI and ESL ports, and a real control daemon
on its own event loop thread (tests/daemon_harness.py), wired to the test app's command channel."""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.demo import seed_demo
from clusterpbx.control.models import PbxNode
from clusterpbx.demo_runtime import demo_model
from clusterpbx.sim.runner import SimPBX
from tests.daemon_harness import running_daemon

SECRET = "s3cret"  # noqa: S105 - the test daemon's command-channel secret


def wait(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s")


@contextmanager
def demo_stack(app: Any, engine: Any, db: Any, tmp_path: pathlib.Path,
               prepare: Callable[[Any], None] | None = None, connect_timeout: float = 60.0,
               ) -> Iterator[tuple[SimPBX, ControlDaemon, Callable[[Coroutine[Any, Any, Any]], Any]]]:
    """Yield (sim, daemon, on_loop) once every node is connected and resynced; `prepare(db)` may
    change the seeded data before the daemon starts."""
    seed_demo(db, spool_path=str(tmp_path / "spool"))
    db.commit()
    sim = SimPBX(model=demo_model(db, "demo-asterisk", str(tmp_path / "spool")), ami_port=0, esl_port=0)
    sim.start()
    for name, port in (("demo-asterisk", sim.ami_port), ("demo-freeswitch", sim.esl_port)):
        db.scalar(select(PbxNode).where(PbxNode.name == name)).port = port
    if prepare is not None:
        prepare(db)
    db.commit()
    try:
        with running_daemon(app, engine, SECRET) as (daemon, on_loop):
            # The daemon connects and resyncs in the background; tests start once every node is in step.
            wait(lambda: all(r.port.connected and r.resynced.is_set() for r in daemon.nodes.values()),
                 timeout=connect_timeout, what="daemon connected and resynced")
            yield sim, daemon, on_loop
    finally:
        sim.stop()
