"""Against the real FreeSWITCH 1.10 of the lab: a call in progress carries the same id in the adapter's
events and in `show channels` (the live-call sweep, control/daemon/jobs.py job_live_sweep, removes what the
PBX no longer lists: different ids would remove real calls)."""

from __future__ import annotations

import asyncio
import time

import pytest

from clusterpbx.control.port import CallStarted, NodeAddress
from clusterpbx.esl.adapter import FreeSwitchAdapter
from tests.real.test_asterisk_events import HERE, run_sipp

pytestmark = pytest.mark.real


def test_the_channel_list_names_calls_as_the_events_do(freeswitch_lab, sipp):
    env = {**freeswitch_lab, "CPBX_LAB_AST_SIP": freeswitch_lab["CPBX_LAB_FS_SIP"]}  # run_sipp's target

    async def scenario() -> tuple[set[str], set[str]]:
        adapter = FreeSwitchAdapter(NodeAddress(host=freeswitch_lab["CPBX_LAB_ESL_HOST"],
                                                port=int(freeswitch_lab["CPBX_LAB_ESL_PORT"]),
                                                secret=freeswitch_lab["CPBX_LAB_ESL_PASSWORD"], timeout=5.0,
                                                sip_domain="127.0.0.1", extra={"context": "default"}))
        started: set[str] = set()
        adapter.subscribe(lambda e: started.add(e.call.call_id) if isinstance(e, CallStarted) else None)
        await adapter.start()
        try:
            call = asyncio.create_task(asyncio.to_thread(
                run_sipp, sipp, HERE / "uac_named.xml", env, "-s", "9196", "-d", "4000",
                "-set", "display", "Sweep test"))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not started:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            from_events = set(started)  # what the daemon's projection keys live calls by
            from_snapshot = {c.call_id for c in await adapter.live_calls()}
            result = await call
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        finally:
            await adapter.stop()
        return from_events, from_snapshot

    from_events, from_snapshot = asyncio.run(scenario())
    assert from_events and from_events == from_snapshot, (from_events, from_snapshot)
