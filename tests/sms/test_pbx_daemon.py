"""The PBX path end to end with real parts only: the portal saves the message, the real control daemon
sends it through the real adapters (AMI MessageSend, FreeSWITCH chat) to the embedded PBX (sim/), and
queued messages go out with the retry job once the daemon or the PBX is back."""

from __future__ import annotations

import html as htmllib

import pytest
from sqlalchemy import select

from clusterpbx.control.daemon.sms import job_sms_retry
from clusterpbx.control.demo import DEMO_DOMAIN, DEMO_PASSWORD
from clusterpbx.control.models import PbxNode, SmsMessage, Tenant, User
from tests.demo_stack import demo_stack

MARIE = "marie.tremblay@demo.clusterpbx.test"


@pytest.fixture
def stack(app, engine, db, tmp_path):
    tenants = []

    def with_sms_trunk(db):
        tenant = db.scalar(select(Tenant).where(Tenant.domain == DEMO_DOMAIN))
        tenant.sms_config = {"trunk": "smstrunk"}
        tenants.append(tenant)

    with demo_stack(app, engine, db, tmp_path, prepare=with_sms_trunk) as (sim, daemon, on_loop):
        yield sim, daemon, on_loop, tenants[0]


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
    assert on_loop(job_sms_retry(daemon)) == 2
    assert on_loop(job_sms_retry(daemon)) == 0
    bodies = sim.call_soon(lambda: [m.body for m in sim.model.messages[before:]])
    assert bodies == ["premier", "deuxième"]
    db.expire_all()
    assert [m.status for m in db.scalars(select(SmsMessage).order_by(SmsMessage.id))] == ["sent", "sent"]
    _resp = client.get("/sms/")
    assert _resp.get_data(as_text=True).count("sms-status-sent") == 2
