"""Codes dialled on a phone reach the portal (issue 19): the generated dialplan's *76 / *45 run against the
embedded PBX (its key-value store, its queues), their event goes through the real adapter (AMI event
filter, ESL subscription) to the control daemon, which makes the phone's change the user's desired
state: the portal shows it, the next re-assertion keeps it, and the other tenant's 201 is untouched.

The embedded PBX does not interpret dialplans, so each code is played here from the generated
configuration itself: Asterisk's by the dialplan tracer against the PBX's AstDB, FreeSWITCH's XML
actions one by one (``db``, ``callcenter_config`` through the event socket, ``event`` published as the
PBX publishes it)."""

from __future__ import annotations

import asyncio
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from clusterpbx.control.daemon import NodeRunner
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import (
    AuditEntry,
    CallSettings,
    PbxNode,
    Queue,
    QueueMembership,
    SyncState,
    User,
)
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.dialplan.asterisk import render_asterisk
from clusterpbx.dialplan.freeswitch import render_freeswitch
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.sim.runner import SimPBX
from tests.daemon.test_tenant_keys import sim_node as _node
from tests.daemon_harness import resynced_daemon
from tests.dialplan.tracer import Dialplan, Tracer


def _sim(kind: str) -> SimPBX:
    return (SimPBX(esl_port=None) if kind == "asterisk" else SimPBX(lab="freeswitch", ami_port=0, esl_port=0)).start()


def _store(sim: SimPBX) -> dict[str, str]:
    return sim.call_soon(lambda: dict(sim.model.db))


def _write_back(sim: SimPBX, before: dict[str, str], after: dict[str, str]) -> None:
    def apply() -> None:
        for k in set(before) - set(after):
            sim.model.db.pop(k, None)
        for k, v in after.items():
            if before.get(k) != v:
                sim.model.db[k] = v

    sim.call_soon(apply)


async def dial_asterisk(sim: SimPBX, db: Any, node_id: int, user: User, code: str) -> None:
    """Run the generated dialplan for ``code`` dialled on ``user``'s phone against the PBX's AstDB, then
    publish its UserEvents as Asterisk does (class user, through each session's event filter)."""
    snapshot = node_snapshot(db, db.get(PbxNode, node_id))
    plan = Dialplan.parse(render_asterisk(snapshot)["extensions_clusterpbx.conf"])
    names = PbxNames.for_tenant(db, user.tenant)
    before = _store(sim)
    after = dict(before)
    t = Tracer(plan, astdb=after)
    t.call(f"cpbx-{names.slug}", code, endpoint=user.primary_extension.sip_username)
    _write_back(sim, before, after)
    for e in t.find("UserEvent"):
        name, *fields = e.data.split(",")
        pairs = [("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", name)]
        pairs += [(k.strip(), v.strip()) for k, _, v in (f.partition(":") for f in fields)]
        sim.call_soon(lambda p=pairs: sim.ami.broadcast("user", p))


def _matches(field: str, expression: str, code: str, ext: str, store: dict[str, str]) -> bool:
    if field == "destination_number":
        value = code
    else:
        value = field.replace("${cpbx_ext}", ext)
        value = re.sub(r"\$\{db\(select/([^)]*)\)\}", lambda m: store.get(m.group(1), ""), value)
    return re.search(expression, value) is not None


async def dial_freeswitch(sim: SimPBX, db: Any, node_id: int, user: User, code: str, runner: NodeRunner) -> None:
    """Hunt ``code`` in the tenant's generated XML context as FreeSWITCH does (first extension whose
    conditions all match) and run its actions: ``db`` on mod_db, ``set`` of callcenter_config through
    the event socket, ``event`` fired as mod_dptools fires it (CUSTOM with its subclass)."""
    snapshot = node_snapshot(db, db.get(PbxNode, node_id))
    # our own generated document
    root = ET.fromstring(render_freeswitch(snapshot)["dialplan_clusterpbx.xml"])  # noqa: S314
    names = PbxNames.for_tenant(db, user.tenant)
    ext = user.primary_extension.number
    context = root.find(f"./context[@name='cpbx-{names.slug}']")
    assert context is not None
    store = _store(sim)
    chosen = next(x for x in context if x.get("continue") != "true" and all(
        _matches(c.get("field", ""), c.get("expression", ""), code, ext, store) for c in x.iter("condition")))
    for action in chosen.iter("action"):
        app, data = action.get("application"), action.get("data", "").replace("${cpbx_ext}", ext)
        if app == "db":
            op, realm, key, *value = data.split("/", 3)
            if op == "insert":
                sim.call_soon(lambda k=f"{realm}/{key}", v=value[0]: sim.model.db.__setitem__(k, v))
            else:
                sim.call_soon(lambda k=f"{realm}/{key}": sim.model.db.pop(k, None))
        elif app == "set" and "${callcenter_config(" in data:
            command = data.split("${callcenter_config(", 1)[1].rsplit(")}", 1)[0]
            await runner.port.api(f"callcenter_config {command}", ok=("-ERR",))  # type: ignore[attr-defined]
        elif app == "event":
            headers = [(k.strip(), v.strip()) for k, _, v in (p.partition("=") for p in data.split(","))]
            subclass = dict(headers).get("Event-Subclass")
            rest = [(k, v) for k, v in headers if k not in ("Event-Name", "Event-Subclass")]
            ev = sim.esl.factory.make(dict(headers)["Event-Name"], rest, subclass=subclass)
            sim.esl.fire(ev)


async def wait_for(check: Callable[[], bool], timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError("the portal never showed the phone's change")
        await asyncio.sleep(0.05)


def _setup(kind: str, db: Any, world: Any, sim: SimPBX) -> tuple[PbxNode, User, User]:
    node = _node(kind, sim)
    db.add(node)
    db.flush()
    acme, demo = world.tenant("acme.test"), world.tenant("demo.test")
    demo.name = "Démo"
    acme.node_id = demo.node_id = node.id
    db.commit()
    return node, world.user(acme, extension="201"), world.user(demo, extension="201")


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_dnd_dialled_on_the_phone_reaches_the_portal_and_survives_the_next_resync(
        kind: str, engine: Any, db: Any, world: Any, auth: Any, client: Any) -> None:
    sim = _sim(kind)
    try:
        node, a201, d201 = _setup(kind, db, world, sim)
        names = {u.id: PbxNames.for_tenant(db, u.tenant) for u in (a201, d201)}
        owner = {u.id: names[u.id].feature_owner("201") for u in (a201, d201)}
        dnd_key = {u.id: ("DND/" if kind == "asterisk" else "cpbx_dnd/") + owner[u.id] for u in (a201, d201)}
        sessions = make_session_factory(engine)

        def settings(user: User) -> CallSettings:
            with sessions() as s:
                cs = s.get(CallSettings, user.id)
                assert cs is not None
                s.expunge(cs)
                return cs

        async def scenario() -> None:
            async with resynced_daemon(sessions, node.id) as (_d, runner):
                assert dnd_key[a201.id] not in _store(sim)
                with sessions() as s:
                    if kind == "asterisk":
                        await dial_asterisk(sim, s, node.id, s.get(User, a201.id), "*76")
                    else:
                        await dial_freeswitch(sim, s, node.id, s.get(User, a201.id), "*76", runner)
                assert dnd_key[a201.id] in _store(sim)  # what the dialplan wrote
                await wait_for(lambda: settings(a201).dnd)
                cs = settings(a201)
                assert cs.sync_state is SyncState.APPLIED  # the PBX already has it: nothing to push
                # Démo's 201, the same number in another tenant, is untouched.
                assert not settings(d201).dnd and dnd_key[d201.id] not in _store(sim)
                # The next resync re-asserts the portal's state, which now is the phone's.
                await runner.pusher.reassert_node(runner.port, node.id)
                assert dnd_key[a201.id] in _store(sim) and dnd_key[d201.id] not in _store(sim)
                assert settings(a201).dnd

        asyncio.run(scenario())
        with sessions() as s:
            entries = s.scalars(select(AuditEntry).where(AuditEntry.object_type == "call_settings")).all()
            assert [(e.actor_id, e.tenant_id, e.after) for e in entries] == [(a201.id, a201.tenant_id, {"dnd": True})]
            assert "phone" in entries[0].actor_label and "*76" in entries[0].actor_label
        # The portal of Acme's 201 shows DND on; Démo's 201 still off.
        for user, on in ((a201, True), (d201, False)):
            assert auth.login(user.email).status_code == 302
            html = client.get("/settings/advanced").get_data(as_text=True)
            box = re.search(r'<input[^>]*id="dnd"[^>]*>', html)
            assert box is not None and ("checked" in box.group(0)) is on, user.email
            auth.logout()
    finally:
        sim.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_freeswitch_star45_after_a_portal_logout_puts_the_agent_back_in_its_queue(
        engine: Any, db: Any, world: Any) -> None:
    sim = _sim("freeswitch")
    try:
        node, a201, _d201 = _setup("freeswitch", db, world, sim)
        queue = Queue(tenant_id=a201.tenant_id, name="support", label="Support", number="700")
        db.add(queue)
        db.flush()
        membership = QueueMembership(queue_id=queue.id, user_id=a201.id, logged_in=True,
                                     sync_state=SyncState.PENDING)
        db.add(membership)
        db.commit()
        sim.call_soon(lambda: sim.model.add_queue("cpbx-acme-support"))
        sessions = make_session_factory(engine)

        def logged_in() -> bool:
            with sessions() as s:
                return bool(s.get(QueueMembership, membership.id).logged_in)  # type: ignore[union-attr]

        async def tiers(runner: NodeRunner) -> set[tuple[str, str]]:
            text = await runner.port.api("callcenter_config tier list")  # type: ignore[attr-defined]
            return {tuple(line.split("|")[:2]) for line in text.splitlines()[1:] if "|" in line}  # type: ignore[misc]

        async def scenario() -> None:
            async with resynced_daemon(sessions, node.id) as (_d, runner):
                assert ("cpbx-acme-support", "acme-201") in await tiers(runner)
                # The user logs out in the portal: the adapter deletes the tier.
                with sessions() as s:
                    m = s.get(QueueMembership, membership.id)
                    m.logged_in, m.sync_state = False, SyncState.PENDING
                    s.commit()
                await runner.pusher.push_user(runner.port, a201.id)
                assert ("cpbx-acme-support", "acme-201") not in await tiers(runner)
                # Then dials *45 on the phone: back in the queue, and the portal says so.
                with sessions() as s:
                    await dial_freeswitch(sim, s, node.id, s.get(User, a201.id), "*45", runner)
                assert ("cpbx-acme-support", "acme-201") in await tiers(runner)
                await wait_for(logged_in)
                await runner.pusher.reassert_node(runner.port, node.id)
                assert logged_in() and ("cpbx-acme-support", "acme-201") in await tiers(runner)
                # *46 logs out again, and that too reaches the portal.
                with sessions() as s:
                    await dial_freeswitch(sim, s, node.id, s.get(User, a201.id), "*46", runner)
                await wait_for(lambda: not logged_in())

        asyncio.run(scenario())
    finally:
        sim.stop()
