"""Against the real FreeSWITCH 1.10 of the lab: the `event` action the generated dialplan runs for *76
(issue 19 item 2) fires a CUSTOM cpbx::feature event that the adapter's subscription receives and turns
into FeatureChanged with the company's owner name (<number>@<tenant domain>). The action is taken from
the generated XML and run on a loopback call (the lab does not load the generated directory)."""

from __future__ import annotations

import asyncio
import re

import pytest

from clusterpbx.control.port import FeatureChanged, NodeAddress
from clusterpbx.dialplan.render import render_node
from clusterpbx.esl.adapter import FreeSwitchAdapter
from tests.dialplan.sample import acme

pytestmark = pytest.mark.real


def test_the_generated_star76_event_reaches_the_adapter(freeswitch_lab):
    xml = render_node(acme("freeswitch"))["dialplan_clusterpbx.xml"]
    actions = re.findall(r'application="event" data="([^"]*feature=dnd,value=on)"', xml)
    beta = next(a for a in actions if "@beta.example.com" in a)
    data = beta.replace("${cpbx_ext}", "101")  # set by the directory on a real phone's call

    async def scenario() -> list[FeatureChanged]:
        adapter = FreeSwitchAdapter(NodeAddress(host=freeswitch_lab["CPBX_LAB_ESL_HOST"],
                                                port=int(freeswitch_lab["CPBX_LAB_ESL_PORT"]),
                                                secret=freeswitch_lab["CPBX_LAB_ESL_PASSWORD"], timeout=5.0,
                                                sip_domain="127.0.0.1", extra={"context": "default"}))
        events: list[FeatureChanged] = []
        adapter.subscribe(lambda e: events.append(e) if isinstance(e, FeatureChanged) else None)
        await adapter.start()
        try:
            await adapter.api(f"originate loopback/9196/default &event({data})")
            for _ in range(50):
                if events:
                    break
                await asyncio.sleep(0.1)
            return events
        finally:
            await adapter.stop()

    events = asyncio.run(scenario())
    assert [(e.owner, e.feature, e.value) for e in events] == [("101@beta.example.com", "dnd", "on")], data
