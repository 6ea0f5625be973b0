"""The PBX path end to end with real parts only: the portal saves the message, the real control daemon
sends it through the real adapters (AMI MessageSend, FreeSWITCH chat) to the embedded PBX (sim/), and
queued messages go out with the retry job once the daemon or the PBX is back."""

from __future__ import annotations

import asyncio
import html as htmllib
import pathlib
import threading
import time

import pytest
from sqlalchemy import select

from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.demo import DEMO_DOMAIN, DEMO_PASSWORD, seed_demo
from clusterpbx.control.models import PbxNode, SmsMessage, Tenant, User
from clusterpbx.demo_runtime import demo_model
from clusterpbx.sim.runner import SimPBX

MARIE = "marie.tremblay@demo.clusterpbx.test"


def wait(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s")


@pytest.fixture
def stack(app, engine, db, tmp_path):
    seed_demo(db, spool_path=str(tmp_path / "spool"))
    db.commit()
    sim = SimPBX(model=demo_model(db, "demo-asterisk", str(tmp_path / "spool")), ami_port=0, esl_port=0)
    sim.start()
    for name, port in (("demo-asterisk", sim.ami_port), ("demo-freeswitch", sim.esl_port)):
        db.scalar(select(PbxNode).where(PbxNode.name == name)).port = port
    tenant = db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN))
    tenant.sms_config = {"trunk": "smstrunk"}
    db.commit()
    loop = asyncio.new_event_loop()
    daemon = ControlDaemon(make_session_factory(engine), "s3cret", port=0)
    daemon.settings = app.config["CLUSTERPBX"]
    loop.run_until_complete(daemon.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    settings = app.config["CLUSTERPBX"]
    settings.control_url = f"http://127.0.0.1:{daemon.port}"
    pathlib.Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
    (pathlib.Path(settings.instance_path) / "control_secret").write_text("s3cret")
    wait(lambda: all(r.port.connected and r.resynced.is_set() for r in daemon.nodes.values()), timeout=60,
         what="daemon connected and resynced")

    def on_loop(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    try:
        yield sim, daemon, on_loop, tenant
    finally:
        on_loop(daemon.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        sim.stop()


def send(client, auth, to, body):
    token = auth.csrf("/sms/")
    resp = client.post("/sms/", data={"csrf_token": token, "to": to, "body": body}, follow_redirects=True)
    return htmllib.unescape(resp.get_data(as_text=True))


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_sms_through_asterisk_messagesend(stack, client, auth, db):
    sim, _daemon, _on_loop, _tenant = stack
    marie = db.scalar(select(User).where(User.email == MARIE))
    endpoint = marie.primary_extension.sip_username
    auth.login(MARIE, DEMO_PASSWORD)
    text = send(client, auth, "514 907-9050", "Patron, on vous attend dans la salle \"Etcetera\"\nà tout de suite")
    assert "Message envoyé au +15149079050." in text and "Envoyé" in text
    msg = sim.call_soon(lambda: sim.model.messages[-1])
    assert msg.to == "pjsip:PJSIP/+15149079050@smstrunk"
    assert msg.from_ == f"sip:{endpoint}@{DEMO_DOMAIN}"
    assert msg.body == "Patron, on vous attend dans la salle \"Etcetera\"\nà tout de suite"  # Base64Body: intact
    db.expire_all()
    stored = db.scalar(select(SmsMessage))
    assert (stored.status, stored.provider, stored.attempts) == ("sent", "pbx", 1) and stored.sent_at


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sms_through_freeswitch_chat(stack, client, auth, db):
    sim, _daemon, _on_loop, tenant = stack
    tenant.node_id = db.scalar(select(PbxNode.id).where(PbxNode.name == "demo-freeswitch"))
    tenant.sms_config = {"trunk": "sms.example.net"}
    db.commit()
    marie = db.scalar(select(User).where(User.email == MARIE))
    endpoint = marie.primary_extension.sip_username
    auth.login(MARIE, DEMO_PASSWORD)
    text = send(client, auth, "5149079050", "ligne un\r\nligne deux | trois")
    assert "Message envoyé au +15149079050." in text
    msg = sim.call_soon(lambda: sim.model.messages[-1])
    assert msg.to == "internal/+15149079050@sms.example.net" and msg.from_.startswith(f"{endpoint}@")
    assert msg.body == "ligne un\nligne deux | trois"  # escaped on the command line, intact at the PBX
    assert msg.variables["content_type"] == "text/plain"
    db.expire_all()
    assert db.scalar(select(SmsMessage)).body == "ligne un\nligne deux | trois"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_queued_while_away_then_sent_by_the_retry_job(stack, client, auth, db, app):
    sim, daemon, on_loop, tenant = stack
    auth.login(MARIE, DEMO_PASSWORD)
    before = sim.call_soon(lambda: len(sim.model.messages))
    # 1. The daemon does not answer: saved, queued, and the page says so.
    settings = app.config["CLUSTERPBX"]
    real_url, settings.control_url = settings.control_url, "http://127.0.0.1:9"
    text = send(client, auth, "5149079050", "premier")
    assert "Le message est enregistré mais pas encore envoyé" in text and "En attente" in text
    settings.control_url = real_url
    # 2. The tenant's PBX is not there: the daemon keeps it queued too.
    node_id, tenant.node_id = tenant.node_id, None
    db.commit()
    text = send(client, auth, "5149079050", "deuxième")
    assert "Le message est enregistré mais pas encore envoyé" in text
    assert sim.call_soon(lambda: len(sim.model.messages)) == before
    db.expire_all()
    assert [m.status for m in db.scalars(select(SmsMessage).order_by(SmsMessage.id))] == ["queued", "queued"]
    # 3. Back: the job sends both, once.
    tenant.node_id = node_id
    db.commit()
    assert on_loop(daemon.job_sms_retry()) == 2
    assert on_loop(daemon.job_sms_retry()) == 0
    bodies = sim.call_soon(lambda: [m.body for m in sim.model.messages[before:]])
    assert bodies == ["premier", "deuxième"]
    db.expire_all()
    assert [m.status for m in db.scalars(select(SmsMessage).order_by(SmsMessage.id))] == ["sent", "sent"]
    _resp = client.get("/sms/")
    assert _resp.get_data(as_text=True).count("sms-status-sent") == 2
