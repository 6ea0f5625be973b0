"""The SMS daemon under the outbound URL policy: a webhook or Twilio base on loopback is not contacted
unless the operator allows private targets, and a name that resolves to loopback when the message is sent
is refused at connection time (nothing reaches the server)."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

import pytest

from clusterpbx.control import sms, urlpolicy
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import DestinationGroup, DestinationPrefix

from .gateway import _gateway

local_gateway = contextmanager(_gateway)  # the gateway without the permissive policy of gateway()


@pytest.fixture
def setup(app, db, world):
    t = world.tenant("acme.test", sms_provider="webhook")
    u = world.user(t)
    g = DestinationGroup(tenant_id=t.id, name="Local", prefixes=[DestinationPrefix(prefix="514")])
    db.add(g)
    u.destination_groups.append(g)
    db.commit()
    settings = app.config["CLUSTERPBX"]
    return t, u, sms.SmsContext(lambda _t: None, settings.public_url, settings.secret_key)


def deliver(engine, message_id, ctx):
    return asyncio.run(sms.deliver(make_session_factory(engine), message_id, ctx))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("provider, key", [("webhook", "url"), ("twilio", "api_base")])
def test_loopback_gateway_not_contacted_by_default(setup, db, engine, provider, key):
    tenant, user, ctx = setup
    with local_gateway() as gw, urlpolicy.configured(urlpolicy.UrlPolicy(allow_http=True)):
        tenant.sms_provider = provider
        tenant.sms_config = {key: gw.url, "account_sid": "AC1", "auth_token": "t", "from": "+15145550000"}
        db.commit()
        msg = sms.send_sms(db, user, "514 907 9050", "hi")
        out = deliver(engine, msg.id, ctx)
        assert (out["status"], out["error"]) == ("failed", f"SMS provider misconfigured: {key}")
        assert gw.requests == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_name_resolving_to_loopback_refused_when_sending(setup, db, engine):
    tenant, user, ctx = setup
    policy = urlpolicy.UrlPolicy(allow_http=True, resolver=lambda host, port: ["127.0.0.1"])
    with local_gateway() as gw, urlpolicy.configured(policy):
        port = gw.url.rsplit(":", 1)[1]
        tenant.sms_config = {"url": f"http://sms-gateway.example.com:{port}"}
        db.commit()
        msg = sms.send_sms(db, user, "514 907 9050", "hi")
        out = deliver(engine, msg.id, ctx)
        assert out["status"] == "failed" and "address not allowed" in out["error"]
        assert gw.requests == []
    # With private targets allowed by the operator, the same name reaches the (loopback) gateway.
    with local_gateway() as gw, urlpolicy.configured(urlpolicy.UrlPolicy(
            allow_http=True, allow_private=True, resolver=lambda host, port: ["127.0.0.1"])):
        port = gw.url.rsplit(":", 1)[1]
        gw.answer = {"id": "gw-1"}
        tenant.sms_config = {"url": f"http://sms-gateway.example.com:{port}"}
        db.commit()
        msg = sms.send_sms(db, user, "514 907 9050", "hi")
        out = deliver(engine, msg.id, ctx)
        assert (out["status"], out["error"]) == ("sent", "")
        assert [r.headers["Host"] for r in gw.requests] == [f"sms-gateway.example.com:{port}"]
