"""SMS and web meetings on the API: the same services as the screens, own history only, refusals as
JSON in English, queued when the telephone system does not answer."""

from __future__ import annotations

from clusterpbx.control.models import DestinationGroup, DestinationPrefix, Role, SmsMessage
from tests.api.conftest import integration_token, user_token

MOBILE = "+1 514 555 0199"


def allow_local(db, user):
    group = DestinationGroup(tenant_id=user.tenant_id, name="Local")
    db.add(group)
    db.flush()
    db.add(DestinationPrefix(group_id=group.id, prefix="514"))
    user.destination_groups.append(group)
    db.commit()


def test_sms_send_queued_when_daemon_down_and_history_is_own(api, db, world):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    other = world.user(tenant, email="other@acme.test", extension="202")
    allow_local(db, me)
    mine = api.as_(user_token(db, me))
    resp = mine.post("/api/v1/me/sms", {"to": MOBILE, "body": "Hello from the API"})
    assert resp.status_code == 202, resp.data
    sent = resp.get_json()
    assert sent["status"] == "queued" and sent["to"] == "+15145550199" and sent["body"] == "Hello from the API"
    stored = db.get(SmsMessage, sent["id"])
    assert stored is not None and stored.user_id == me.id and stored.status == "queued"
    theirs = api.as_(user_token(db, other))
    assert theirs.get("/api/v1/me/sms").get_json()["items"] == []
    assert [m["id"] for m in mine.get("/api/v1/me/sms").get_json()["items"]] == [sent["id"]]


def test_sms_refusals_are_400_json(api, db, world):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    allow_local(db, me)
    mine = api.as_(user_token(db, me))
    for body, field in (({"to": "", "body": "x"}, "to"), ({"to": MOBILE, "body": ""}, "body"),
                        ({"to": 202, "body": "x"}, "to"), ({"to": MOBILE, "body": "x", "cc": "1"}, "cc"),
                        ({"to": MOBILE, "body": "x", "image_base64": "%%%"}, "image_base64"),
                        ({"to": MOBILE, "body": "x\u0007"}, "body"),
                        ({"to": "+33123456789", "body": "x"}, "to")):
        resp = mine.post("/api/v1/me/sms", body)
        assert resp.status_code == 400, (body, resp.data)
        assert field in resp.get_json()["errors"], (body, resp.get_json())
    outside = mine.post("/api/v1/me/sms", {"to": "+33123456789", "body": "x"}).get_json()["errors"]["to"]
    assert "allowed destinations" in outside or "outside your company" in outside  # English, not French
    assert db.query(SmsMessage).count() == 0


def test_web_meeting_is_the_users_own_and_reused(api, db, world):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    mine = api.as_(user_token(db, me))
    first = mine.post("/api/v1/me/web-meeting")
    assert first.status_code == 200, first.data
    body = first.get_json()
    assert body["provider"] == "jitsi" and body["host_url"].startswith("https://")
    again = mine.post("/api/v1/me/web-meeting").get_json()
    assert again["meeting_id"] == body["meeting_id"]


def test_integration_token_has_no_sms_or_meeting(api, db, world):
    tenant = world.tenant("acme.test")
    integ = api.as_(integration_token(db, Role.TENANT_ADMIN, tenant))
    assert integ.post("/api/v1/me/sms", {"to": MOBILE, "body": "x"}).status_code == 403
    assert integ.post("/api/v1/me/web-meeting").status_code == 403


def test_sms_sent_through_the_daemon(api, db, world, app, engine):
    from clusterpbx.control.models import NodeKind, PbxNode
    from tests.daemon_harness import daemon_for_app
    from tests.fakes import FakePbx

    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.commit()
    tenant = world.tenant("acme.test")
    tenant.node_id = node.id
    tenant.sms_config = {"trunk": "smstrunk"}  # numbers outside the company go out through the SMS trunk
    db.commit()
    me = world.user(tenant, email="me@acme.test", extension="201")
    allow_local(db, me)
    fake = FakePbx()
    with daemon_for_app(app, engine, fake):
        resp = api.as_(user_token(db, me)).post("/api/v1/me/sms", {"to": MOBILE, "body": "Bonjour"})
    assert resp.status_code == 202 and resp.get_json()["status"] == "sent", resp.data


def test_sms_rate_limit_is_per_user_whatever_the_number_of_tokens(api, db, world):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    other = world.user(tenant, email="other@acme.test", extension="202")
    allow_local(db, me)
    other.destination_groups.extend(me.destination_groups)
    db.commit()
    first, second = api.as_(user_token(db, me, "one")), api.as_(user_token(db, me, "two"))
    codes = [(first if i % 2 else second).post("/api/v1/me/sms", {"to": MOBILE, "body": f"n{i}"}).status_code
             for i in range(21)]
    assert codes == [202] * 20 + [429]
    # Another user has their own allowance.
    assert api.as_(user_token(db, other)).post("/api/v1/me/sms", {"to": MOBILE, "body": "x"}).status_code == 202
