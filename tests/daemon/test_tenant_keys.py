"""Two companies on one PBX node both have a 201: the daemon, through the real adapters against the
embedded PBX, writes each one's call settings under its own names (AstDB ``DND/<slug>-201``, mod_db
``cpbx_dnd/201@<tenant domain>``), the generated dialplan reads exactly those, and the keys written
before tenants had names on the PBX move to the new names once (control/keymigration.py)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from clusterpbx.control import keymigration
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallSettings, NodeKind, PbxNode, SyncState, User
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.dialplan import keys
from clusterpbx.dialplan.asterisk import render_asterisk
from clusterpbx.dialplan.freeswitch import render_freeswitch
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.sim.runner import SimPBX
from tests.daemon_harness import resynced_daemon
from tests.dialplan.tracer import Dialplan, Tracer

NODE_DOMAIN = "pbx.test"


def sim_node(kind: str, sim: SimPBX) -> PbxNode:
    """The node a test daemon reaches the embedded PBX's AMI or ESL server as."""
    if kind == "asterisk":
        return PbxNode(name="ast", kind=NodeKind.ASTERISK, host="127.0.0.1", port=sim.ami_port,
                       username="portal", secret="portalsecret", sip_domain=NODE_DOMAIN)
    return PbxNode(name="fs", kind=NodeKind.FREESWITCH, host="127.0.0.1", port=sim.esl_port, username="",
                   secret="ClueCon", sip_domain=NODE_DOMAIN)


def _legacy(kind: str, number: str) -> list[tuple[str, str]]:
    """The key names the daemon wrote before tenants had names on the PBX."""
    if kind == "asterisk":
        return keys.asterisk_key_names(number)
    return keys.freeswitch_key_names(number, NODE_DOMAIN)


def _store(sim: SimPBX) -> dict[str, str]:
    return sim.call_soon(lambda: dict(sim.model.db))


def _owner_of(kind: str, full_key: str) -> str:
    """The extension part of a stored key: ``acme-201`` of ``AMPUSER/acme-201/followme/ddial``,
    ``201@acme.test`` of ``cpbx_dnd/201@acme.test``."""
    if kind == "asterisk":
        return full_key.split("/")[1]
    return full_key.split("/", 1)[1]


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_tenants_with_the_same_numbers_never_share_a_key(kind: str, engine: Any, db: Any, world: Any) -> None:
    sim = (SimPBX(esl_port=None) if kind == "asterisk" else SimPBX(lab="freeswitch", ami_port=0, esl_port=0)).start()
    try:
        node = sim_node(kind, sim)
        db.add(node)
        db.flush()
        acme, beta = world.tenant("acme.test"), world.tenant("beta.test")
        acme.node_id = beta.node_id = node.id
        db.commit()
        a201 = world.user(acme, extension="201")
        b201 = world.user(beta, extension="201")
        a301 = world.user(acme, extension="301")  # a number only Acme has
        for user, values in ((a201, {"dnd": True, "forward_always": "5145550001"}),
                             (b201, {"dnd": False, "call_waiting": True}),
                             (a301, {"dnd": True})):
            cs = db.get(CallSettings, user.id)
            for k, v in values.items():
                setattr(cs, k, v)
            cs.sync_state = SyncState.PENDING
        db.commit()
        names = {t.id: PbxNames.for_tenant(db, t) for t in (acme, beta)}
        owner = {u.id: names[u.tenant_id].feature_owner(u.primary_extension.number) for u in (a201, b201, a301)}
        assert len(set(owner.values())) == 3

        # Keys of the old layout: 201 (both tenants have one: whose is it?) and 301 (only Acme's), with a
        # DND set on the phone, and a stale forward.
        legacy: dict[str, str] = {}
        for number in ("201", "301"):
            for family, key in _legacy(kind, number)[:1]:  # the key every push writes
                legacy[f"{family}/{key}"] = "EXTENSION" if kind == "asterisk" else "20"
            dnd = [fk for fk in _legacy(kind, number) if fk[0] in ("DND", "cpbx_dnd")][0]
            legacy["/".join(dnd)] = "YES" if kind == "asterisk" else "true"
        sim.call_soon(lambda: sim.model.db.update(legacy))

        sessions = make_session_factory(engine)

        async def scenario() -> tuple[int, int]:
            async with resynced_daemon(sessions, node.id) as (_d, runner):
                assert runner.keys_moved
                # Beta's 201 saves a forward; Acme's 201 is not touched.
                with sessions() as s:
                    cs = s.get(CallSettings, b201.id)
                    cs.forward_busy = "5145550002"
                    cs.sync_state = SyncState.PENDING
                    s.commit()
                await runner.pusher.push_user(runner.port, b201.id)
                plan = await runner.db.read(lambda s: keymigration.plan_moves(s, node.id))
                again = await keymigration.move_keys(runner.port, plan)
                return again, len(plan.moves)

        again, planned = asyncio.run(scenario())
        assert planned == 1 and again == 0  # 301 only; moved once, nothing left to move
        store = _store(sim)
        dnd = "DND" if kind == "asterisk" else "cpbx_dnd"
        yes = "YES" if kind == "asterisk" else "true"
        cf = "CF" if kind == "asterisk" else "cpbx_cf"
        cfb = "CFB" if kind == "asterisk" else "cpbx_cfb"
        assert store.get(f"{dnd}/{owner[a201.id]}") == yes and store.get(f"{cf}/{owner[a201.id]}") == "5145550001"
        assert f"{dnd}/{owner[b201.id]}" not in store and f"{cf}/{owner[b201.id]}" not in store
        assert store.get(f"{cfb}/{owner[b201.id]}") == "5145550002" and f"{cfb}/{owner[a201.id]}" not in store
        assert store.get(f"{dnd}/{owner[a301.id]}") == yes
        # 301's old keys are gone (moved); 201's are ambiguous and left alone, read by nothing.
        old301 = {"/".join(fk) for fk in _legacy(kind, "301")}
        old201 = {"/".join(fk) for fk in _legacy(kind, "201")}
        assert not old301 & set(store)
        assert {k for k in store if k in old201} == {k for k in legacy if k in old201}
        # Every other key the product wrote names its tenant.
        qualified = (re.compile(r"(acme|beta)-\d+") if kind == "asterisk"
                     else re.compile(r"\d+@(acme|beta)\.test"))
        written = [k for k in store if k not in legacy]
        assert written and all(qualified.fullmatch(_owner_of(kind, k)) for k in written), written

        # The generated configuration reads those very keys.
        snapshot = node_snapshot(db, db.get(PbxNode, node.id))
        if kind == "asterisk":
            plan_ = Dialplan.parse(render_asterisk(snapshot)["extensions_clusterpbx.conf"])
            ctx = {t.id: f"cpbx-{names[t.id].slug}" for t in (acme, beta)}
            # Acme's 201 is in DND (busy voicemail, no ring); Beta's 201, same number, rings.
            for callee, in_dnd in ((a201, True), (b201, False)):
                t = Tracer(plan_, astdb=dict(store), on_dial=lambda tracer, data: "ANSWER")
                t.call(ctx[callee.tenant_id], "201", endpoint=db.get(User, a301.id).primary_extension.sip_username)
                assert bool(t.find("VoiceMail")) is in_dnd and bool(t.find("Dial")) is not in_dnd
        else:
            dialplan = render_freeswitch(snapshot)
            text = "\n".join(dialplan.values())
            for t in (acme, beta):
                assert f"select/cpbx_dnd/${{cpbx_ext}}@{t.domain}" in text or f"@{t.domain})" in text
            assert f"@{NODE_DOMAIN})" not in text
    finally:
        sim.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_freeswitch_mailboxes_of_two_tenants_201_are_told_apart(db: Any, world: Any) -> None:
    node = PbxNode(name="fs", kind=NodeKind.FREESWITCH, host="127.0.0.1", port=8021, secret="ClueCon",
                   sip_domain="acme.test")
    db.add(node)
    db.flush()
    acme, beta = world.tenant("acme.test"), world.tenant("beta.test")
    acme.node_id = beta.node_id = node.id
    db.commit()
    a, b = world.user(acme, extension="201"), world.user(beta, extension="201")
    boxes = [PbxNames.for_tenant(db, u.tenant).mailbox(u.primary_extension) for u in (a, b)]
    # The box is the directory user (its SIP user name) in the tenant's domain, named as the adapter
    # names it in its events: bare in the node's own domain, box@domain in another.
    assert boxes == [a.primary_extension.sip_username, f"{b.primary_extension.sip_username}@beta.test"]
    assert boxes[0] != boxes[1]
