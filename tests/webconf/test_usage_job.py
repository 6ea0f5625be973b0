"""The control daemon's webconf_usage job: the leader asks Zoom for the minutes of its users' meetings."""

from __future__ import annotations

import asyncio

from clusterpbx.control.daemon import JOB_INTERVALS, ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.webconf import open_meeting, usage
from tests.fakes import FakePbx


def test_usage_job_runs_on_the_leader(engine, db, world, zoom, tmp_path):
    assert JOB_INTERVALS["webconf_usage"] == 900
    user = world.user(world.tenant(webconf_provider="zoom", webconf_config=zoom.config()))
    meeting = open_meeting(db, user)
    zoom.state.instances[meeting.meeting_id] = [{"uuid": "u1==", "start_time": "2026-11-27T14:00:00Z"}]
    zoom.state.past["u1=="] = {"uuid": "u1==", "start_time": "2026-11-27T14:00:00Z",
                               "end_time": "2026-11-27T14:33:00Z", "duration": 33}

    async def scenario():
        d = ControlDaemon(make_session_factory(engine), "s" * 32, port=0, port_factory=lambda n, a: FakePbx())
        await d.start()
        try:
            for _ in range(1500):  # up to 30 s on a busy machine; it is leader within milliseconds
                if d.is_leader:
                    break
                await asyncio.sleep(0.02)
            assert d.is_leader
            assert await d.run_job("webconf_usage") == 1
            assert await d.run_job("webconf_usage") == 0  # nothing counted twice
        finally:
            await d.stop()

    asyncio.run(scenario())
    import datetime as dt

    db.expire_all()
    assert usage(db, user, since=dt.datetime(2026, 11, 1)).minutes == 33
