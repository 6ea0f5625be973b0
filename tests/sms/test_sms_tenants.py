"""SMS and tenants (issue 21: tenants are namespaces) and issue 19 item 12, with real parts only: the
portal saves the message, the real control daemon sends it through the real adapters (AMI MessageSend,
FreeSWITCH chat) to the embedded PBX (sim/), which holds the demo's two companies on one node, Démo Inc.
(its 201 is the SIP user "201") and Acme (its 201 is "201-t<id>").

- A message to "202" reaches the sender's own company's 202 (its endpoint, in its SIP domain on
  FreeSWITCH), never the other company's; the From is the sender's own endpoint in its tenant's domain.
- An extension is a valid destination (both PBXs) and goes through the same allowed-destinations rule
  as calls; a number only another company has is not one.
- A trunk given as a host with its port is accepted on save and used by both adapters.
- Malformed settings or input answer a clear refusal, never a 500.
"""

from __future__ import annotations

import html as htmllib

import pytest
from sqlalchemy import func, select

from clusterpbx.control import sms
from clusterpbx.control.admin import Actor, Invalid, resource
from clusterpbx.control.daemon.sms import cmd_sms_send
from clusterpbx.control.demo import ACME_DOMAIN, DEMO_DOMAIN, DEMO_PASSWORD
from clusterpbx.control.models import Extension, PbxNode, SmsMessage, Tenant, User
from tests.api.conftest import Api, user_token
from tests.demo_stack import demo_stack

MARIE = "marie.tremblay@demo.clusterpbx.test"  # Démo Inc., 201
CHLOE = "chloe.martin@acme.clusterpbx.test"  # Acme, 201
OPERATOR = "operateur@demo.clusterpbx.test"


@pytest.fixture
def stack(app, engine, db, tmp_path):
    def with_sms(db):
        for tenant in db.scalars(select(Tenant)):
            tenant.sms_provider, tenant.sms_config = "pbx", {"trunk": "smstrunk"}

    with demo_stack(app, engine, db, tmp_path, prepare=with_sms) as (sim, daemon, on_loop):
        yield sim, daemon, on_loop


def tenant(db, domain):
    return db.scalar(select(Tenant).where(Tenant.domain == domain))


def endpoint(db, domain, number):
    return db.scalar(select(Extension.sip_username).join(Tenant, Tenant.id == Extension.tenant_id)
                     .where(Tenant.domain == domain, Extension.number == number))


def send(client, auth, to, body):
    token = auth.csrf("/sms/")
    resp = client.post("/sms/", data={"csrf_token": token, "to": to, "body": body}, follow_redirects=True)
    assert resp.status_code in (200, 400)
    return htmllib.unescape(resp.get_data(as_text=True))


def last_message(sim):
    return sim.call_soon(lambda: sim.model.messages[-1] if sim.model.messages else None)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_asterisk_each_companys_202_gets_its_own_companys_message(stack, client, auth, db):
    sim, _daemon, _on_loop = stack
    acme_201, acme_202 = endpoint(db, ACME_DOMAIN, "201"), endpoint(db, ACME_DOMAIN, "202")
    assert acme_201 != "201" and acme_202 != "202"  # the second company's SIP users (201-t<id>)
    auth.login(CHLOE, DEMO_PASSWORD)
    text = send(client, auth, "202", "Salut Noah")
    assert "Message envoyé au 202." in text
    msg = last_message(sim)
    assert msg.to == f"pjsip:{acme_202}" and msg.from_ == f"sip:{acme_201}@{ACME_DOMAIN}"
    assert msg.body == "Salut Noah" and msg.delivered
    auth.logout()
    # Démo's 201 writing to the same number reaches Démo's 202, from Démo's 201 in Démo's domain.
    auth.login(MARIE, DEMO_PASSWORD)
    assert "Message envoyé au 202." in send(client, auth, "202", "Salut JP")
    msg = last_message(sim)
    assert msg.to == "pjsip:202" and msg.from_ == f"sip:201@{DEMO_DOMAIN}"
    db.expire_all()
    stored = db.scalars(select(SmsMessage).order_by(SmsMessage.id)).all()
    assert [(m.to_number, m.status, m.provider) for m in stored] == [("202", "sent", "pbx")] * 2
    assert [db.get(User, m.user_id).email for m in stored] == [CHLOE, MARIE]
    auth.logout()
    # A number only the other company has is no extension of Acme's: refused, nothing saved or sent.
    assert endpoint(db, DEMO_DOMAIN, "205") and not endpoint(db, ACME_DOMAIN, "205")
    auth.login(CHLOE, DEMO_PASSWORD)
    assert "205 n'est pas un numéro de téléphone valide." in send(client, auth, "205", "pour Démo?")
    assert last_message(sim).body == "Salut JP"
    assert db.scalar(select(func.count()).select_from(SmsMessage)) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_freeswitch_the_message_stays_in_the_senders_domain(stack, client, auth, db):
    sim, _daemon, _on_loop = stack
    fs = db.scalar(select(PbxNode).where(PbxNode.name == "demo-freeswitch"))
    for t in db.scalars(select(Tenant)):
        t.node_id = fs.id
    db.commit()
    acme_201, acme_202 = endpoint(db, ACME_DOMAIN, "201"), endpoint(db, ACME_DOMAIN, "202")
    auth.login(CHLOE, DEMO_PASSWORD)
    assert "Message envoyé au 202." in send(client, auth, "202", "ligne un\nligne | deux")
    msg = last_message(sim)
    assert msg.to == f"{acme_202}@{ACME_DOMAIN}" and msg.from_ == f"{acme_201}@{ACME_DOMAIN}"
    assert msg.body == "ligne un\nligne | deux" and msg.delivered
    auth.logout()
    auth.login(MARIE, DEMO_PASSWORD)
    assert "Message envoyé au 202." in send(client, auth, "202", "bonjour")
    msg = last_message(sim)
    assert msg.to == f"202@{DEMO_DOMAIN}" and msg.from_ == f"201@{DEMO_DOMAIN}"
    db.expire_all()
    assert [m.status for m in db.scalars(select(SmsMessage))] == ["sent", "sent"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_extension_goes_through_the_allowed_destinations_rule_of_calls(db, world):
    t = world.tenant("acme.test", sms_provider="pbx", sms_monthly_quota=10)
    alice = world.user(t, email="alice@acme.test", extension="301")
    world.user(t, email="bob@acme.test", extension="302")
    db.commit()
    # No destination group: internal calls only. The extension passes; an outside number does not.
    msg = sms.send_sms(db, alice, "302", "réunion")
    assert (msg.to_number, msg.status, msg.provider) == ("302", "queued", "pbx")
    with pytest.raises(sms.SmsRefused) as refused:
        sms.send_sms(db, alice, "5149079050", "dehors")
    assert refused.value.code == "internal_only"
    # A company whose SMS go out through Twilio still reaches its own phones through the PBX.
    t.sms_provider = "twilio"
    db.commit()
    assert sms.send_sms(db, alice, " 302 ", "encore").provider == "pbx"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_extension_removed_before_delivery_fails_clearly(stack, db):
    sim, daemon, on_loop = stack
    acme = tenant(db, ACME_DOMAIN)
    chloe = db.scalar(select(User).where(User.email == CHLOE))
    msg = sms.send_sms(db, chloe, "202", "trop tard")
    db.delete(db.scalar(select(Extension).where(Extension.tenant_id == acme.id, Extension.number == "202")))
    db.commit()
    before = sim.call_soon(lambda: len(sim.model.messages))
    assert on_loop(cmd_sms_send(daemon, message_id=msg.id))["status"] == "failed"
    db.expire_all()
    stored = db.get(SmsMessage, msg.id)
    assert (stored.status, stored.error_code) == ("failed", "invalid_number")
    # Never handed to another company's 202.
    assert sim.call_soon(lambda: len(sim.model.messages)) == before


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_trunk_host_with_a_port(stack, client, auth, db, kind):
    sim, _daemon, _on_loop = stack
    demo = tenant(db, DEMO_DOMAIN)
    operator = db.scalar(select(User).where(User.email == OPERATOR))
    tenants = resource("tenants")
    # Accepted on save, as the operator types it (key=value lines).
    tenants.update(db, Actor.of(operator), demo.id, {"sms_config": "trunk=trunk.example.com:5080"})
    db.commit()
    db.refresh(demo)
    assert demo.sms_config == {"trunk": "trunk.example.com:5080"}
    if kind == "freeswitch":
        demo.node_id = db.scalar(select(PbxNode.id).where(PbxNode.name == "demo-freeswitch"))
        db.commit()
    auth.login(MARIE, DEMO_PASSWORD)
    assert "Message envoyé au +15149079050." in send(client, auth, "514 907-9050", "par le trunk")
    msg = last_message(sim)
    if kind == "asterisk":  # no endpoint names the host: the sender's endpoint with the URI (endpoint/URI form)
        assert msg.to == "pjsip:201/sip:+15149079050@trunk.example.com:5080"
        assert msg.from_ == f"sip:201@{DEMO_DOMAIN}"
    else:
        assert msg.to == "internal/+15149079050@trunk.example.com:5080" and msg.from_ == f"201@{DEMO_DOMAIN}"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["trunk.example.com:99999", "trunk.example.com:", "a b", "x|y", "-x:5080",
                                   '{"host": "x"}'])
def test_a_malformed_trunk_is_refused_on_save(db, world, value):
    t = world.tenant("acme.test")
    with pytest.raises(Invalid) as err:
        resource("tenants").update(db, Actor.command_line(), t.id, {"sms_config": f"trunk={value}"})
    assert set(err.value.errors) == {"sms_config"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_malformed_settings_stored_behind_the_portals_back_fail_the_message_clearly(stack, db):
    sim, daemon, on_loop = stack
    demo = tenant(db, DEMO_DOMAIN)
    marie = db.scalar(select(User).where(User.email == MARIE))
    before = sim.call_soon(lambda: len(sim.model.messages))
    for stored in (["trunk", "x"], "trunk=x", 7, {"trunk": {"host": "x"}}, {"trunk": "a b"}):
        demo.sms_config = {"trunk": "smstrunk"}
        db.commit()
        msg = sms.send_sms(db, marie, "5149079050", "bonjour")
        demo.sms_config = stored
        db.commit()
        assert on_loop(cmd_sms_send(daemon, message_id=msg.id))["status"] == "failed", stored
        db.expire_all()
        assert db.get(SmsMessage, msg.id).error_code == "misconfigured", stored
    assert sim.call_soon(lambda: len(sim.model.messages)) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_api_answers_400_not_500_for_a_malformed_value(client, db, world):
    t = world.tenant("acme.test", sms_provider="pbx", sms_monthly_quota=10)
    alice = world.user(t, email="alice@acme.test", extension="301")
    world.user(t, email="bob@acme.test", extension="302")
    db.commit()
    api = Api(client, user_token(db, alice))
    # A lone UTF-16 surrogate is valid JSON but no character.
    raw = '{"to": "302", "body": "salut \\ud800"}'
    resp = api.request("POST", "/api/v1/me/sms", raw=raw)
    assert resp.status_code == 400 and "body" in resp.get_json()["errors"]
    resp = api.request("POST", "/api/v1/me/sms", raw='{"to": "30\\udc002", "body": "x"}')
    assert resp.status_code == 400 and "to" in resp.get_json()["errors"]
    assert db.scalar(select(SmsMessage)) is None
    resp = api.post("/api/v1/me/sms", {"to": "302", "body": "salut"})
    assert resp.status_code == 202 and resp.get_json()["to"] == "302"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_tenant_api_refuses_malformed_sms_settings_with_400(client, db, world):
    from clusterpbx.control.models import Role

    t = world.tenant("acme.test", sms_provider="pbx")
    op = world.user(t, email="ops@acme.test", extension="390", role=Role.OPERATOR)
    db.commit()
    api = Api(client, user_token(db, op))
    for bad in ({"trunk": "smstrunk"}, ["trunk=smstrunk"], "trunk=a b", "trunk=x:70000", "trunk smstrunk"):
        resp = api.patch(f"/api/v1/tenants/{t.id}", {"sms_config": bad})
        assert resp.status_code == 400 and "sms_config" in resp.get_json()["errors"], bad
    db.expire_all()
    assert db.get(Tenant, t.id).sms_config in ({}, None)
    resp = api.patch(f"/api/v1/tenants/{t.id}", {"sms_config": "trunk=trunk.example.com:5080"})
    assert resp.status_code == 200 and resp.get_json()["sms_config"] == "trunk=trunk.example.com:5080"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_xml_curl_answers_with_malformed_sms_settings_stored(client, db):
    import base64

    from clusterpbx.control.demo import seed_demo

    seed_demo(db)
    demo = tenant(db, DEMO_DOMAIN)
    demo.node_id = db.scalar(select(PbxNode.id).where(PbxNode.name == "demo-freeswitch"))
    db.commit()
    headers = {"Authorization": "Basic " + base64.b64encode(b"demo-freeswitch:ClueCon").decode()}
    for stored in (["trunk", "x"], "trunk=x", 7, {"trunk": {"host": "x"}}, {"trunk": "a b"}):
        demo.sms_config = stored
        db.commit()
        for form in ({"section": "dialplan", "Caller-Context": "cpbx-demo"},
                     {"section": "directory", "domain": DEMO_DOMAIN, "user": "201"}):
            resp = client.post("/freeswitch/xml-curl/demo-freeswitch", data=form, headers=headers)
            assert resp.status_code == 200 and b"<document" in resp.data, (stored, form)
            assert b'status="not found"' not in resp.data, (stored, form)
