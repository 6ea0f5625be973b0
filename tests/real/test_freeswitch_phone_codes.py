"""Against the real FreeSWITCH 1.10 of the lab: the `event` action the generated dialplan runs for *76
(issue 19 item 2) fires a CUSTOM cpbx::feature event that the adapter's subscription receives and turns
into FeatureChanged with the company's owner name (<number>@<tenant domain>). The action is taken from
the generated XML and run on a loopback call (the lab does not load the generated directory)."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from clusterpbx.control.port import FeatureChanged, NodeAddress, PbxEvent, QueueMemberChanged
from clusterpbx.dialplan.render import render_node, write_files
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


LOCAL_PORT = 25541  # the SIPp phone (below the ephemeral range, apart from the other real tests' phones)
UAC_XML = Path(__file__).resolve().parent / "uac_named.xml"


def test_star45_and_star46_on_a_real_phone_reach_the_adapter(freeswitch_lab, sipp, tmp_path):
    """With the generated directory, dialplan and queues loaded, a SIPp phone of the company (acme102 in
    acme.example.com) dials *45 then *46: the agent acme-102 is logged in then out of the company's queue
    (mod_callcenter status), and each code's CUSTOM cpbx::feature event reaches the adapter as
    FeatureChanged 102@acme.example.com queue login/logout (what the daemon adopts)."""
    snapshot = acme("freeswitch")
    phone = next(e for t in snapshot.tenants if t.slug == "acme" for e in t.extensions if e.number == "102")
    host, port = freeswitch_lab["CPBX_LAB_FS_SIP"].split(":")

    def dial(code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sipp, "-sf", str(UAC_XML), "-m", "1", "-i", host, "-p", str(LOCAL_PORT),
                               "-au", phone.sip_username, "-ap", phone.sip_password, "-set", "caller",
                               phone.sip_username, "-set", "display", "Bob", "-set", "domain", "acme.example.com",
                               "-s", code, "-d", "1500", "-nostdin", "-timeout", "20s", f"{host}:{port}"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)

    async def scenario() -> tuple[list[PbxEvent], list[bool], str]:
        adapter = FreeSwitchAdapter(NodeAddress(host=freeswitch_lab["CPBX_LAB_ESL_HOST"],
                                                port=int(freeswitch_lab["CPBX_LAB_ESL_PORT"]),
                                                secret=freeswitch_lab["CPBX_LAB_ESL_PASSWORD"], timeout=5.0,
                                                sip_domain="127.0.0.1"))
        events: list[PbxEvent] = []
        adapter.subscribe(lambda e: events.append(e) if isinstance(e, (FeatureChanged, QueueMemberChanged)) else None)
        await adapter.start()
        logged_in: list[bool] = []
        output = ""
        try:
            changed = [p.name for p in write_files(render_node(snapshot), freeswitch_lab["CPBX_LAB_FS_CONFIG_DIR"])]
            await adapter.reload_configuration(changed)
            for code, value in (("*45", "login"), ("*46", "logout")):
                result = await asyncio.to_thread(dial, code)
                output += result.stdout[-800:] + result.stderr[-800:]
                for _ in range(50):
                    if any(isinstance(e, FeatureChanged) and e.value == value for e in events):
                        break
                    await asyncio.sleep(0.1)
                members = await adapter.queue_members("cpbx-acme-support")
                logged_in.append(any(m.interface == "acme-102" and m.logged_in for m in members))
            return events, logged_in, output
        finally:
            await adapter.stop()

    events, logged_in, output = asyncio.run(scenario())
    assert logged_in == [True, False], (events, output)
    features = [(e.owner, e.feature, e.value) for e in events if isinstance(e, FeatureChanged)]
    assert features == [("102@acme.example.com", "queue", "login"), ("102@acme.example.com", "queue", "logout")], (
        events, output)
