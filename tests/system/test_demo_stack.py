"""The whole stack as `clusterpbx run` assembles it, with real parts only: the embedded PBX speaking
AMI and ESL on loopback, the real adapters (panoramisk, greenswitch), the control daemon projecting into
the database, and the portal reading it."""

from __future__ import annotations

import html as htmllib
import time

import pytest
from sqlalchemy import func, select

from clusterpbx.control.demo import DEMO_PASSWORD
from clusterpbx.control.models import CallRecord, CallSettings, Registration, SyncState, User
from tests.demo_stack import demo_stack, wait


@pytest.fixture
def stack(app, engine, db, tmp_path):
    with demo_stack(app, engine, db, tmp_path) as (sim, daemon, _on_loop):
        yield sim, daemon


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_calls_flow_from_sim_to_portal(stack, client, auth, db):
    sim, _daemon = stack
    wait(lambda: db.scalar(select(func.count()).select_from(Registration).where(Registration.registered)) >= 10,
         what="registrations projected")
    # Calls that end (no conference: its participants stay in the room).
    sim.start_scenario(rate=None, seed=4, count=40, mix={"internal_answered": 3, "internal_voicemail": 1,
                                                          "inbound": 1, "outbound": 1})

    def stored():
        db.expire_all()
        return db.scalar(select(func.count()).select_from(CallRecord)) or 0

    wait(lambda: stored() >= 20, what="call records stored")
    wait(lambda: sim.call_soon(lambda: sim.scenario.stats.total) >= 40
         and sim.call_soon(lambda: len(sim.model.channels)) == 0, what="every call over")
    last = {"n": -1}

    def settled():  # no new record over one flush cycle and more
        n, last["n"] = last["n"], stored()
        time.sleep(0.5)
        return n == last["n"]

    wait(settled, what="the records settled")
    # Log in as the demo user with the most calls and see exactly their rows.
    user_id, mine = db.execute(select(CallRecord.user_id, func.count()).group_by(CallRecord.user_id)
                               .order_by(func.count().desc()).limit(1)).one()
    user = db.get(User, user_id)
    auth.login(user.email, DEMO_PASSWORD, language="fr")  # whichever the busiest user's own language is
    home = htmllib.unescape(client.get("/home").get_data(as_text=True))
    assert "Poste connecté" in home
    calls = htmllib.unescape(client.get("/calls/").get_data(as_text=True))
    assert f"{mine} appel" in calls


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_settings_reach_the_pbx_through_the_real_adapter(stack, client, auth, db):
    sim, _daemon = stack
    user = db.scalar(select(User).where(User.email == "marie.tremblay@demo.clusterpbx.test"))
    auth.login(user.email, DEMO_PASSWORD)
    token = auth.csrf("/settings/advanced")
    resp = client.post("/settings/advanced", data={
        "csrf_token": token, "dnd": "y", "call_waiting": "y", "forward_busy": "5149079050",
        "followme_delay": "20", "forward_noanswer_delay": "25", "language": "fr"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED
    # The AstDB keys the generated dialplan reads are on the PBX now (dialplan/keys.py).
    # The keys are the tenant's (DND/demo-201): another company's 201 on the node has its own.
    astdb = sim.call_soon(lambda: dict(sim.model.db))
    assert astdb["DND/demo-201"] == "YES" and astdb["CFB/demo-201"] == "5149079050"
    assert astdb["CW/demo-201"] == "ENABLED" and astdb["AMPUSER/demo-201/cfringtimer"] == "25"
    assert not any(k.split("/")[1] == "201" for k in astdb), "a bare key: no tenant in it"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_setting_saved_while_the_pbx_is_down_reaches_it_when_it_returns(stack, client, auth, db):
    from clusterpbx.sim import faults

    sim, daemon = stack
    user = db.scalar(select(User).where(User.email == "jp.vallee@demo.clusterpbx.test"))
    wait(lambda: all(r.port.connected for r in daemon.nodes.values()), what="daemon connected")
    faults.stop(sim)  # 'core stop now': Shutdown, sockets closed, nothing listens
    asterisk = next(r for r in daemon.nodes.values() if r.name == "demo-asterisk")
    wait(lambda: not asterisk.port.connected, what="the daemon notices the PBX is gone")
    auth.login(user.email, DEMO_PASSWORD)
    token = auth.csrf("/settings/advanced")
    resp = client.post("/settings/advanced", data={
        "csrf_token": token, "dnd": "y", "call_waiting": "y", "followme_delay": "20",
        "forward_noanswer_delay": "20", "language": "fr"})
    assert resp.status_code == 302
    assert "en attente" in htmllib.unescape(client.get("/settings/advanced").get_data(as_text=True))
    db.expire_all()
    assert db.get(CallSettings, user.id).sync_state is SyncState.PENDING
    assert "DND/demo-202" not in sim.call_soon(lambda: dict(sim.model.db))
    sim.run(sim.ami.start())  # the PBX is back, on the same port
    wait(lambda: sim.call_soon(lambda: sim.model.db.get("DND/demo-202")) == "YES", timeout=30,
         what="DND written after the PBX came back")

    def applied():
        db.expire_all()
        return db.get(CallSettings, user.id).sync_state is SyncState.APPLIED

    wait(applied, timeout=15, what="the setting marked applied")
