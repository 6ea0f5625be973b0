"""Call records are never lost or duplicated and no ghost live call remains, while the embedded PBX's
connections are dropped and it restarts mid-call, over many cycles: the real Asterisk adapter, the real
daemon, and the catch-up path reading the PBX's own Master.csv."""

from __future__ import annotations

import asyncio
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from clusterpbx.ami.cdr import read_csv_since
from clusterpbx.control import callrecords
from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.demo import seed_demo
from clusterpbx.control.models import CallRecord, LiveCall, PbxNode
from clusterpbx.demo_runtime import demo_model
from clusterpbx.sim import faults
from clusterpbx.sim.runner import SimPBX


def wait(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s")


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_no_record_lost_or_duplicated_no_ghost_calls(engine, db, tmp_path):
    seed_demo(db, spool_path=str(tmp_path / "spool"))
    db.commit()
    csv_path = tmp_path / "Master.csv"
    sim = SimPBX(model=demo_model(db, "demo-asterisk", str(tmp_path / "spool")), ami_port=0, esl_port=None)
    sim.ami.cdr_csv = csv_path
    sim.start()
    node = db.scalar(select(PbxNode).where(PbxNode.name == "demo-asterisk"))
    node.port = sim.ami_port
    node.options = {"cdr_csv": str(csv_path), "timezone": "UTC"}
    db.scalar(select(PbxNode).where(PbxNode.name == "demo-freeswitch")).enabled = False
    db.commit()
    loop = asyncio.new_event_loop()
    daemon = ControlDaemon(make_session_factory(engine), "s3cret", port=0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(daemon.start(), loop).result(30)
    runner = daemon.nodes[node.id]
    try:
        # Calls overlap (paced), and the link is cut or the PBX restarted while they are up.
        sim.start_scenario(rate=8.0, seed=21, count=80, talk_seconds=(0.3, 1.2), ring_seconds=0.2,
                           mix={"internal_answered": 4, "internal_voicemail": 2, "inbound": 2, "outbound": 2})
        for cycle in range(8):
            time.sleep(0.8)
            if cycle % 3 == 2:
                faults.restart(sim, down_for=0.3)
            else:
                faults.drop_connections(sim)
        wait(lambda: sim.call_soon(lambda: sim.scenario.stats.total) >= 80, what="the scenario finished")
        wait(lambda: sim.call_soon(lambda: len(sim.model.channels)) == 0, what="every call ended on the PBX")
        wait(lambda: runner.port.connected, what="the daemon reconnected")
        # One more reconnect makes the daemon catch up and reconcile after the last cut.
        resyncs = runner.resyncs
        faults.drop_connections(sim)
        wait(lambda: runner.resyncs > resyncs, what="a final resync")
        time.sleep(0.5)

        reports, _pos = read_csv_since(str(csv_path), 0, ZoneInfo("UTC"))
        with make_session_factory(engine)() as s:
            directory = callrecords.Directory.load(s, node.id)
        expected = {(row["pbx_call_id"], row["user_id"]) for r in reports
                    for row in callrecords.rows_for(r, node.id, directory)}
        assert len(reports) >= 60, "the scenario made calls"

        def stored():
            db.expire_all()
            return {(r.pbx_call_id, r.user_id) for r in db.scalars(select(CallRecord))}

        wait(lambda: stored() == expected, timeout=20, what="every expected record stored")
        assert db.scalar(select(func.count()).select_from(CallRecord)) == len(expected)  # no duplicates
        assert db.scalar(select(func.count()).select_from(LiveCall)) == 0  # no ghosts
        assert runner.resyncs >= 6
    finally:
        asyncio.run_coroutine_threadsafe(daemon.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        sim.stop()
