"""The HTTP providers as they go on the wire (a real local HTTP server stands for Twilio and for the
webhook gateway), their failures, the signed MMS image URL and the delivery-status callback."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import io
import json
from urllib.parse import parse_qs, urlparse

import pytest
from PIL import Image

from clusterpbx.control import sms, urlpolicy
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import DestinationGroup, DestinationPrefix, SmsMessage

from .gateway import gateway

SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "twilio-auth-token"


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def setup(app, db, world):
    t = world.tenant("acme.test", sms_provider="twilio")
    u = world.user(t)
    g = DestinationGroup(tenant_id=t.id, name="Local", prefixes=[DestinationPrefix(prefix="514")])
    db.add(g)
    u.destination_groups.append(g)
    db.commit()
    settings = app.config["CLUSTERPBX"]
    ctx = sms.SmsContext(lambda _t: None, settings.public_url, settings.secret_key)
    return t, u, ctx


def run(engine, message_id, ctx, now=None):
    sessions = make_session_factory(engine)
    return asyncio.run(sms.deliver(sessions, message_id, ctx, (lambda: now) if now else sms.utcnow))


def twilio_config(gw, **extra):
    return {"account_sid": SID, "auth_token": TOKEN, "from": "+15145550000", "api_base": gw.url, **extra}


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_twilio_request_on_the_wire_and_the_signed_media_url(setup, db, engine, client, app):
    tenant, user, ctx = setup
    with gateway() as gw:
        tenant.sms_config = twilio_config(gw)
        db.commit()
        msg = sms.send_sms(db, user, "514 907 9050", "Patron, on vous attend\nsalle «Etcetera»", png())
        assert run(engine, msg.id, ctx) == {"status": "sent", "error": "", "error_code": ""}
        (req,) = gw.requests
    assert req.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(req.body.decode(), strict_parsing=True)
    public = app.config["CLUSTERPBX"].public_url
    assert form["To"] == ["+15149079050"] and form["From"] == ["+15145550000"]
    assert form["Body"] == ["Patron, on vous attend\nsalle «Etcetera»"]
    assert form["StatusCallback"] == [f"{public}/sms/status/{msg.id}"]
    media = urlparse(form["MediaUrl"][0])
    assert f"{media.scheme}://{media.netloc}" == public and media.path.startswith(f"/sms/media/{msg.id}/")
    db.expire_all()
    stored = db.get(SmsMessage, msg.id)
    assert (stored.status, stored.provider_message_id) == ("sent", "SM0123456789abcdef0123456789abcdef")
    assert stored.sent_at is not None
    # The provider fetches the image without logging in...
    resp = client.get(media.path)
    assert resp.status_code == 200 and resp.mimetype == "image/jpeg" and resp.data == stored.image
    # ...but not with a tampered signature or another message's id.
    assert client.get(media.path[:-6] + "AAAA.jpg").status_code == 404
    parts = media.path.split("/")
    parts[3] = str(msg.id + 1)
    assert client.get("/".join(parts)).status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_media_url_expires(setup, db, engine, client):
    tenant, user, ctx = setup
    with gateway() as gw:
        tenant.sms_config = twilio_config(gw)
        db.commit()
        msg = sms.send_sms(db, user, "5149079050", "photo", png())
        run(engine, msg.id, ctx, now=sms.utcnow() - sms.MEDIA_TTL - dt.timedelta(minutes=1))
        media = urlparse(parse_qs(gw.requests[0].body.decode())["MediaUrl"][0]).path
    assert client.get(media).status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_twilio_messaging_service_sender(setup, db, engine):
    tenant, user, ctx = setup
    with gateway() as gw:
        tenant.sms_config = twilio_config(gw, **{"from": "MG0123456789abcdef0123456789abcdef"})
        db.commit()
        msg = sms.send_sms(db, user, "5149079050", "hi")
        run(engine, msg.id, ctx)
        form = parse_qs(gw.requests[0].body.decode())
    assert form["MessagingServiceSid"] == ["MG0123456789abcdef0123456789abcdef"] and "From" not in form
    assert "MediaUrl" not in form


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_webhook_request_on_the_wire(setup, db, engine):
    tenant, user, ctx = setup
    tenant.sms_provider = "webhook"
    db.commit()
    with gateway() as gw:
        gw.status, gw.answer = 202, {"id": "gw-42"}
        tenant.sms_config = {"url": gw.url + "/send?x=1", "bearer_token": "tok-1", "hmac_secret": "hs",
                             "from": "ACME"}
        db.commit()
        msg = sms.send_sms(db, user, "5149079050", "Bonjour à tous ✓", png())
        assert run(engine, msg.id, ctx)["status"] == "sent"
        (req,) = gw.requests
    assert req.path == "/send?x=1"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Authorization"] == "Bearer tok-1"
    assert req.headers["X-ClusterPBX-Signature"] == sms.webhook_signature("hs", req.body)
    payload = json.loads(req.body)
    assert payload["to"] == "+15149079050" and payload["body"] == "Bonjour à tous ✓" and payload["from"] == "ACME"
    assert payload["message_id"] == msg.id and payload["status_callback"].endswith(f"/sms/status/{msg.id}")
    assert f"/sms/media/{msg.id}/" in payload["media_url"]
    db.expire_all()
    assert db.get(SmsMessage, msg.id).provider_message_id == "gw-42"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize(("status", "answer", "delay", "words"), [
    (400, {"code": 21211, "message": "The 'To' number +15149079050 is not a valid phone number."}, 0,
     "HTTP 400 The 'To' number +15149079050 is not a valid phone number. (21211)"),
    (401, {"code": 20003, "message": "Authenticate"}, 0, "HTTP 401 Authenticate (20003)"),
    (503, b"<html>down</html>", 0, "HTTP 503"),
    (201, {"sid": "SMx"}, 2.0, "did not answer within 0.5 s"),
])
def test_twilio_failures_keep_the_message_as_failed(setup, db, engine, status, answer, delay, words):
    tenant, user, ctx = setup
    with gateway() as gw:
        gw.status, gw.answer, gw.delay = status, answer, delay
        tenant.sms_config = twilio_config(gw, timeout=0.5)
        db.commit()
        msg = sms.send_sms(db, user, "5149079050", "hi")
        result = run(engine, msg.id, ctx)
    assert result["status"] == "failed" and words in result["error"]
    db.expire_all()
    stored = db.get(SmsMessage, msg.id)
    assert (stored.status, stored.body) == ("failed", "hi") and words in stored.error
    # A failed message is not sent again.
    assert run(engine, msg.id, ctx)["status"] == "failed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unreachable_gateway_and_bad_configuration(setup, db, engine):
    tenant, user, ctx = setup
    with gateway() as gw:
        closed = gw.url
    tenant.sms_provider = "webhook"
    tenant.sms_config = {"url": closed}
    db.commit()
    msg = sms.send_sms(db, user, "5149079050", "hi")
    with urlpolicy.configured(urlpolicy.UrlPolicy(allow_http=True, allow_private=True)):  # a closed local port
        assert "cannot be reached" in run(engine, msg.id, ctx)["error"]
    tenant.sms_config = {"url": "file:///etc/passwd"}
    db.commit()
    msg = sms.send_sms(db, user, "5149079050", "hi")
    assert run(engine, msg.id, ctx) == {"status": "failed", "error": "SMS provider misconfigured: url",
                                        "error_code": "misconfigured"}
    tenant.sms_provider, tenant.sms_config = "twilio", {"account_sid": SID, "auth_token": "a\r\nX-Evil: 1",
                                                        "from": "+15145550000"}
    db.commit()
    msg = sms.send_sms(db, user, "5149079050", "hi")
    assert run(engine, msg.id, ctx)["error"] == "SMS provider misconfigured: auth_token"


def _sent(db, engine, setup, gw):
    tenant, user, ctx = setup
    tenant.sms_config = twilio_config(gw)
    db.commit()
    msg = sms.send_sms(db, user, "5149079050", "hi")
    run(engine, msg.id, ctx)
    db.expire_all()
    return db.get(SmsMessage, msg.id)


def _twilio_post(client, app, msg, fields, token=TOKEN, url=None):
    url = url or app.config["CLUSTERPBX"].public_url + f"/sms/status/{msg.id}"
    sig = sms.twilio_signature(token, url, {k: [v] for k, v in fields.items()})
    return client.post(f"/sms/status/{msg.id}", data=fields, headers={"X-Twilio-Signature": sig})


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_twilio_status_callback(setup, db, engine, client, app):
    with gateway() as gw:
        msg = _sent(db, engine, setup, gw)
    fields = {"MessageSid": msg.provider_message_id, "MessageStatus": "delivered", "AccountSid": SID,
              "To": "+15149079050"}
    # Refused: no signature, a wrong token, another URL, a changed field, another message's sid.
    assert client.post(f"/sms/status/{msg.id}", data=fields).status_code == 403
    assert _twilio_post(client, app, msg, fields, token="wrong").status_code == 403
    assert _twilio_post(client, app, msg, fields, url="https://evil.example/sms/status/1").status_code == 403
    sig = sms.twilio_signature(TOKEN, app.config["CLUSTERPBX"].public_url + f"/sms/status/{msg.id}",
                               {k: [v] for k, v in fields.items()})
    tampered = {**fields, "MessageStatus": "failed"}
    assert client.post(f"/sms/status/{msg.id}", data=tampered, headers={"X-Twilio-Signature": sig}).status_code == 403
    assert _twilio_post(client, app, msg, {**fields, "MessageSid": "SMother"}).status_code == 403
    assert client.post("/sms/status/999999", data=fields).status_code == 404
    db.expire_all()
    assert db.get(SmsMessage, msg.id).status == "sent"
    # Accepted: delivered; a late "sent" does not undo it.
    assert _twilio_post(client, app, msg, fields).status_code == 204
    assert _twilio_post(client, app, msg, {**fields, "MessageStatus": "sent"}).status_code == 204
    db.expire_all()
    stored = db.get(SmsMessage, msg.id)
    assert stored.status == "delivered" and stored.status_at is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_twilio_undelivered_report_marks_failed(setup, db, engine, client, app):
    with gateway() as gw:
        msg = _sent(db, engine, setup, gw)
    fields = {"MessageSid": msg.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert _twilio_post(client, app, msg, fields).status_code == 204
    db.expire_all()
    stored = db.get(SmsMessage, msg.id)
    assert (stored.status, stored.error) == ("failed", "Twilio error 30003")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_webhook_status_callback(setup, db, engine, client):
    tenant, user, ctx = setup
    tenant.sms_provider = "webhook"
    db.commit()
    with gateway() as gw:
        gw.answer = {"id": "gw-7"}
        tenant.sms_config = {"url": gw.url, "hmac_secret": "hs"}
        db.commit()
        msg = sms.send_sms(db, user, "5149079050", "hi")
        run(engine, msg.id, ctx)
    body = json.dumps({"id": "gw-7", "status": "delivered"}).encode()
    headers = {"Content-Type": "application/json"}
    bad = client.post(f"/sms/status/{msg.id}", data=body,
                      headers={**headers, "X-ClusterPBX-Signature": sms.webhook_signature("nope", body)})
    assert bad.status_code == 403
    ok = client.post(f"/sms/status/{msg.id}", data=body,
                     headers={**headers, "X-ClusterPBX-Signature": sms.webhook_signature("hs", body)})
    assert ok.status_code == 204
    db.expire_all()
    assert db.get(SmsMessage, msg.id).status == "delivered"
