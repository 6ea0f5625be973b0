"""Two tenants on one PBX with the same extension numbers (issue 21: tenants are namespaces): each
tenant's endpoints live in its own context (Asterisk) or domain (FreeSWITCH), so a number dialled by
one tenant's phone reaches that tenant's extension, never the other's, whether the call is placed by a
phone, by click-to-call through the real adapters, or by an Originate into a Local channel."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from clusterpbx.control.port import NodeAddress
from clusterpbx.sim import model as M
from clusterpbx.sim.runner import SimPBX
from clusterpbx.sim.scenario import ScenarioDriver

# (tenant slug, SIP domain, [(SIP user, number, name)]): as the demo registers them (cli/demo_runtime.py),
# the second tenant's SIP users carry the "-t<id>" suffix the administration gives a number already taken.
TENANTS = [
    ("demo", "demo.example", [("201", "201", "Marie Demo"), ("202", "202", "JP Demo"), ("203", "203", "Lea Demo")]),
    ("acme", "acme.example", [("201-t2", "201", "Chloe Acme"), ("202-t2", "202", "Noah Acme")]),
]
OF = {user: slug for slug, _d, users in TENANTS for user, _n, _name in users}


def two_tenants(flavor: str = "asterisk", spool: Path | None = None) -> M.PBXModel:
    m = M.PBXModel(flavor=flavor, spool_dir=spool, seed=3, domain="pbx.example")
    m.credentials["portal"] = "portalsecret"
    for i, (slug, domain, users) in enumerate(TENANTS):
        vm_context = f"cpbx-{slug}" if flavor == "asterisk" else domain
        for user, number, name in users:
            m.add_endpoint(user, name=name, context=f"cpbx-{slug}", number=number, domain=domain,
                           mailbox=f"{number}@{vm_context}")
            m.add_mailbox(number, context=vm_context, fullname=name)
            m.register(user, f"sip:{user}@127.0.0.1:{5100 + 1000 * i + int(number)}")
    return m


def rung(events: list[M.ModelEvent]) -> list[str]:
    """The endpoints the PBX dialled (DialBegin's callee), in order."""
    return [e.callee.endpoint or "" for e in events if isinstance(e, M.DialBegin)]


def test_same_number_rings_the_callers_own_tenant() -> None:
    m = two_tenants()
    events: list[M.ModelEvent] = []
    m.subscribe(events.append)
    acme = m.place_call("201-t2", "202")
    demo = m.place_call("201", "202")
    assert rung(events) == ["202-t2", "202"]
    assert acme.callee is not None and acme.callee.endpoint == "202-t2"
    assert demo.callee is not None and demo.callee.endpoint == "202"
    # What each side sees is its own numbering: Acme's 201 calls 202, shown as 201 -> 202.
    rec = acme.records[0]
    assert (rec.src, rec.dst, rec.dcontext, rec.disposition) == ("201", "202", "cpbx-acme", "ANSWERED")
    assert rec.dstchannel.startswith("PJSIP/202-t2-") and rec.lastdata == "PJSIP/202-t2,15"
    # A number only the other tenant has is not reachable: Acme has no 203.
    events.clear()
    miss = m.place_call("201-t2", "203", to_voicemail=False)
    assert miss.callee is None and rung(events) == []


def test_unanswered_call_lands_in_the_callers_tenants_mailbox(tmp_path: Path) -> None:
    m = two_tenants(spool=tmp_path)
    call = m.place_call("201-t2", "202", answer=False, message_seconds=2)
    assert call.voicemail is not None and (call.voicemail.context, call.voicemail.mailbox) == ("cpbx-acme", "202")
    assert m.mailbox_counts("202", "cpbx-acme") == (0, 1, 0)
    assert m.mailbox_counts("202", "cpbx-demo") == (0, 0, 0)
    assert m.voicemail_box("202", "cpbx-acme") is m.mailboxes["202@cpbx-acme"]
    assert m.voicemail_box("202", "cpbx-demo") is m.mailboxes["202@cpbx-demo"]
    assert m.voicemail_box("203", "cpbx-acme") is None


def test_routing_by_context_and_domain() -> None:
    m = two_tenants()
    assert m.route("202", "cpbx-acme") == "202-t2" and m.route("202", "cpbx-demo") == "202"
    # The generated dialplan's other contexts of a tenant (cpbx-acme-leg) are the tenant's namespace.
    assert m.route("202", "cpbx-acme-leg") == "202-t2"
    assert m.route("203", "cpbx-acme") is None and m.route("202-t2", "cpbx-demo") is None
    fs = two_tenants("freeswitch")
    found = fs.find_user("201", "acme.example")
    assert found is not None and found.ext == "201-t2"
    demo_user = fs.find_user("201", "demo.example")
    assert demo_user is not None and demo_user.ext == "201"
    assert fs.find_user("201-t2", "demo.example") is None


def test_forward_and_dnd_keys_stay_in_the_tenant() -> None:
    m = two_tenants()
    m.endpoints["202-t2"].feature_key = "acme-202"
    m.endpoints["202"].feature_key = "demo-202"
    m.db_put("DND", "demo-202", "YES")  # Démo's 202 does not want calls; Acme's 202 does
    events: list[M.ModelEvent] = []
    m.subscribe(events.append)
    call = m.place_call("201-t2", "202")
    assert call.voicemail is None and rung(events) == ["202-t2"]
    m.db_put("CF", "acme-202", "201")  # Acme's 202 forwards to 201: Acme's 201, the caller's colleague
    events.clear()
    fwd = m.place_call("202", "202")  # Démo's 202 is on DND: straight to its box, nothing rings
    assert rung(events) == [] and fwd.voicemail is not None and fwd.voicemail.context == "cpbx-demo"


def test_scenario_calls_never_cross_tenants() -> None:
    m = two_tenants()
    m.add_queue("cpbx-demo-support")
    m.queue_add("cpbx-demo-support", "PJSIP/203", name="Lea Demo")
    pairs: list[tuple[str, str]] = []

    def watch(e: M.ModelEvent) -> None:
        if isinstance(e, M.DialBegin) and e.caller is not None and e.caller.endpoint and e.callee.endpoint:
            pairs.append((e.caller.endpoint, e.callee.endpoint))

    m.subscribe(watch)
    ScenarioDriver(m, seed=5, mix={"internal_answered": 3, "internal_voicemail": 1, "queue": 1}).generate(150)
    assert len({OF[a] for a, _b in pairs}) == 2, pairs  # both tenants called
    crossed = [(a, b) for a, b in pairs if OF[a] != OF[b]]
    assert crossed == [] and len(pairs) > 50


def test_local_channel_originate_rings_the_contexts_number() -> None:
    sim = SimPBX(model=two_tenants(), esl_port=None).start()
    try:
        async def go() -> list[str]:
            r, w = await asyncio.open_connection("127.0.0.1", sim.ami_port)
            await r.readline()
            w.write(b"Action: Login\r\nUsername: portal\r\nSecret: portalsecret\r\n\r\n"
                    b"Action: Originate\r\nChannel: Local/202@cpbx-acme-leg/n\r\nApplication: Playback\r\n"
                    b"Data: hello\r\n\r\n")
            await w.drain()
            lines: list[str] = []
            while not any(line.startswith("Message: Originate") for line in lines):
                lines.append((await asyncio.wait_for(r.readline(), 5)).decode().strip())
            w.close()
            return lines

        lines = asyncio.run(go())
        assert "Message: Originate successfully queued" in lines, lines[-3:]
        owners = sim.call_soon(lambda: [c.endpoint for c in sim.model.channels.values()])
        assert owners == ["202-t2"]
    finally:
        sim.stop()


def _run(sim: SimPBX, make: Callable[[], object], endpoint: str, number: str) -> list[str]:
    """Click-to-call through a real adapter; returns the endpoints whose channels exist once the
    number rings."""
    async def go() -> list[str]:
        port = make()
        await port.start()  # type: ignore[attr-defined]
        try:
            await port.click_to_call(endpoint, number)  # type: ignore[attr-defined]
            for _ in range(500):
                owners = sim.call_soon(lambda: sorted(c.endpoint or "" for c in sim.model.channels.values()))
                if len(owners) >= 2:
                    return owners
                await asyncio.sleep(0.01)
            return owners
        finally:
            await port.stop()  # type: ignore[attr-defined]

    return asyncio.run(asyncio.wait_for(go(), 20))


@pytest.mark.parametrize("caller, expected", [("201-t2", ["201-t2", "202-t2"]), ("201", ["201", "202"])])
def test_click_to_call_through_ami_stays_in_the_tenant(caller: str, expected: list[str]) -> None:
    from clusterpbx.ami.adapter import AsteriskAdapter

    sim = SimPBX(model=two_tenants(), esl_port=None).start()
    try:
        address = NodeAddress(host="127.0.0.1", port=sim.ami_port, username="portal", secret="portalsecret",
                              sip_domain="pbx.example", timeout=2.0)
        # The adapter asks the PBX for the endpoint's context (PJSIPShowEndpoint) and originates there.
        assert _run(sim, lambda: AsteriskAdapter(address, backoff_initial=0.05), caller, "202") == expected
    finally:
        sim.stop()


@pytest.mark.parametrize("tenant, user, expected", [("acme", "201", ["201-t2", "202-t2"]),
                                                     ("demo", "201", ["201", "202"])])
def test_click_to_call_through_esl_stays_in_the_domain(tenant: str, user: str, expected: list[str]) -> None:
    from clusterpbx.esl.adapter import FreeSwitchAdapter

    sim = SimPBX(model=two_tenants("freeswitch"), ami_port=0, esl_port=0).start()
    try:
        address = NodeAddress(host="127.0.0.1", port=sim.esl_port or 0, secret="ClueCon",
                              sip_domain=f"{tenant}.example", timeout=2.0, extra={"tenant": tenant})
        # originate user/201@<tenant domain> 202 XML cpbx-<tenant>
        assert _run(sim, lambda: FreeSwitchAdapter(address, backoff_initial=0.05), user, "202") == expected
    finally:
        sim.stop()
