"""Tenants are namespaces on FreeSWITCH (issue 21): each tenant of a node is a SIP directory domain of its
own with its own dialplan context ``cpbx-<slug>``. The real FreeSwitchAdapter against the embedded PBX
sees the phones of every tenant's domain registered, rings a user's own phone in the user's domain for
click-to-call and sends the call into that tenant's context; the daemon passes both from the tenant."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from clusterpbx.control.daemon.calls import cmd_click_to_call
from clusterpbx.control.daemon.settings import cmd_resync_phone
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import NodeKind, PbxNode, Registration
from clusterpbx.control.port import PbxEvent, PbxRefused, PhoneVendor, RegistrationChanged
from clusterpbx.control.validation import InvalidValue
from clusterpbx.dialplan.freeswitch import render_freeswitch
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.esl.adapter import FreeSwitchAdapter
from clusterpbx.sim.runner import SimPBX
from tests.daemon_harness import resynced_daemon

from .conftest import DOMAIN, eventually, run
from .test_operations import with_adapter

# Two tenants besides the lab's own users (1000-1019, in the node's domain DOMAIN): the same numbers 201
# and 202 in both, each a directory user (unique user id) of its tenant's domain and context.
TENANTS = {"acme": "acme.example", "beta": "beta.example"}
PHONES = {  # user id -> (tenant, number)
    "201": ("acme", "201"), "202": ("acme", "202"),
    "201-t2": ("beta", "201"), "202-t2": ("beta", "202"),
}


def add_tenants(sim: SimPBX) -> None:
    def setup() -> None:
        for i, (user, (tenant, number)) in enumerate(PHONES.items()):
            sim.model.add_endpoint(user, name=f"{tenant} {number}", context=f"cpbx-{tenant}",
                                   domain=TENANTS[tenant], number=number)
            sim.model.register(user, f"sip:{user}@127.0.0.1:{6000 + i}", f"Phone of {tenant} {number}")

    sim.call_soon(setup)


def channels_of(sim: SimPBX, user: str) -> list[Any]:
    return sim.call_soon(lambda: [c for c in sim.model.channels.values() if c.endpoint == user])


def test_registrations_of_every_tenant_domain_are_seen(sim: SimPBX) -> None:
    add_tenants(sim)

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        regs = {r.endpoint: r for r in await a.registrations()}
        # the node's own domain and both tenants' domains
        assert {"1001", "201", "202", "201-t2", "202-t2"} <= set(regs)
        assert regs["201-t2"].registered and regs["201-t2"].user_agent == "Phone of beta 201"
        assert regs["201"].user_agent == "Phone of acme 201"
        text = await a.api(f"sofia status profile {a.profile} reg")
        assert "User:       \t201-t2@beta.example" in text  # the sim lists it in its own domain

        # events of a phone in another tenant's domain
        sim.call_soon(sim.model.unregister, "202-t2")
        assert await eventually(lambda: any(isinstance(e, RegistrationChanged) and e.state.endpoint == "202-t2"
                                            for e in events))
        assert "202-t2" not in {r.endpoint for r in await a.registrations()}
        sim.call_soon(sim.model.register, "202-t2", "sip:202-t2@127.0.0.1:6222", "Snom D785")
        assert await eventually(lambda: any(isinstance(e, RegistrationChanged) and e.state.endpoint == "202-t2"
                                            and e.state.registered for e in events))
        back = {r.endpoint: r for r in await a.registrations()}["202-t2"]
        assert back.contact == "sip:202-t2@127.0.0.1:6222" and back.user_agent == "Snom D785"

    with_adapter(sim, scenario)


def test_click_to_call_rings_the_users_phone_in_its_domain_and_dials_in_its_tenants_context(sim: SimPBX) -> None:
    add_tenants(sim)

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        await a.click_to_call("201-t2@beta.example", "202", context="cpbx-beta")
        # Beta's 201 rang (and answered), then 202 was dialled in Beta's context: Beta's 202, not Acme's.
        assert await eventually(lambda: bool(channels_of(sim, "202-t2")))
        (first,) = channels_of(sim, "201-t2")
        assert first.direction == "outbound" and first.context == "cpbx-beta"
        assert channels_of(sim, "202") == [] and channels_of(sim, "201") == []

    with_adapter(sim, scenario)


def test_click_to_call_in_another_domain_than_the_users_is_refused(sim: SimPBX) -> None:
    add_tenants(sim)

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        # Beta's directory user is not in Acme's domain, nor in the node's own
        for endpoint in ("201-t2@acme.example", "201-t2"):
            with pytest.raises(PbxRefused):
                await a.click_to_call(endpoint, "202", context="cpbx-beta")
        assert channels_of(sim, "201-t2") == []
        for endpoint, context in (("201-t2@beta example", "cpbx-beta"), ("201-t2@beta.example\napi x", "cpbx-beta"),
                                  ("201-t2@beta.example", "cpbx-beta XML x"), ("201-t2@", "cpbx-beta")):
            with pytest.raises(InvalidValue):
                await a.click_to_call(endpoint, "202", context=context)
        assert a.connected

    with_adapter(sim, scenario)


def test_resync_phone_in_its_tenants_domain(sim: SimPBX) -> None:
    add_tenants(sim)

    async def scenario(a: FreeSwitchAdapter, events: list[PbxEvent]) -> None:
        await a.resync_phone("201-t2", PhoneVendor.OTHER)  # the node's domain has no such phone
        assert sim.call_soon(lambda: list(sim.model.notifies)) == []
        await a.resync_phone("201-t2@beta.example", PhoneVendor.OTHER)
        notify = sim.call_soon(lambda: sim.model.notifies[-1])
        assert notify.endpoint == "201-t2" and notify.event == "check-sync"

    with_adapter(sim, scenario)


def _directory_users(files: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """user id -> (domain, user_context, number) of the generated FreeSWITCH directory."""
    root = ET.fromstring(files["directory_clusterpbx.xml"])
    out = {}
    for dom in root.iter("domain"):
        for user in dom.iter("user"):
            variables = {v.get("name", ""): v.get("value", "") for v in user.iter("variable")}
            out[user.get("id", "")] = (dom.get("name", ""), variables["user_context"], variables["cpbx_ext"])
    return out


def test_the_daemon_clicks_to_call_and_sees_registrations_in_each_tenants_namespace(
        sim: SimPBX, engine: Any, db: Any, world: Any) -> None:
    node = PbxNode(name="fs", kind=NodeKind.FREESWITCH, host="127.0.0.1", port=sim.esl_port, username="",
                   secret="ClueCon", sip_domain=DOMAIN)
    db.add(node)
    db.flush()
    acme, beta = world.tenant("acme.example"), world.tenant("beta.example")
    acme.node_id = beta.node_id = node.id
    db.commit()
    users = {(t.domain, n): world.user(t, extension=n) for t in (acme, beta) for n in ("201", "202")}
    sip = {key: u.primary_extension.sip_username for key, u in users.items()}
    b201 = users[("beta.example", "201")]
    assert sip[("beta.example", "201")] != "201"  # Acme's 201 keeps the plain user id

    # The embedded PBX holds the generated directory: each user in its tenant's domain and context.
    directory = _directory_users(render_freeswitch(node_snapshot(db, db.get(PbxNode, node.id))))
    assert {directory[s][0] for s in sip.values()} == set(TENANTS.values())

    def setup() -> None:
        for i, s in enumerate(sip.values()):
            domain, context, number = directory[s]
            sim.model.add_endpoint(s, context=context, domain=domain, number=number)
            sim.model.register(s, f"sip:{s}@127.0.0.1:{6100 + i}", "Yealink SIP-T46S")

    sim.call_soon(setup)
    sessions = make_session_factory(engine)

    async def scenario() -> None:
        async with resynced_daemon(sessions, node.id) as (d, runner):

            def registered() -> set[str]:
                with sessions() as s:
                    return {r.endpoint for r in s.query(Registration).filter_by(node_id=node.id, registered=True)}

            assert await eventually(lambda: set(sip.values()) <= registered())

            result = await cmd_click_to_call(d, b201.id, "202")
            assert result["endpoint"] == f"{sip[('beta.example', '201')]}@beta.example"
            assert await eventually(lambda: bool(channels_of(sim, sip[("beta.example", "202")])))
            (first,) = channels_of(sim, sip[("beta.example", "201")])
            assert first.context == directory[sip[("beta.example", "201")]][1]  # the phone's own context
            assert channels_of(sim, sip[("acme.example", "202")]) == []

            await cmd_resync_phone(d, b201.id)
            notify = sim.call_soon(lambda: sim.model.notifies[-1])
            assert notify.endpoint == sip[("beta.example", "201")]

    run(scenario())
