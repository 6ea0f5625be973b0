"""The end-user routes against a real control daemon on a fake PBX, and with the daemon or the PBX
down: own data only (another user's voicemail or record is not found), settings applied or pending."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from clusterpbx.control.models import (
    CallRecord,
    CallSettings,
    DestinationGroup,
    DestinationPrefix,
    LiveCall,
    NodeKind,
    PauseReason,
    PbxNode,
    Queue,
    QueueMembership,
    SyncState,
)
from clusterpbx.control.port import MailboxFolder, VoicemailMessage
from tests.api.conftest import user_token
from tests.daemon_harness import daemon_for_app
from tests.fakes import FakePbx

MINE, THEIRS = "201@cpbx-acme", "202@cpbx-acme"


def vm(mid, box, minute=0, folder=MailboxFolder.INBOX):
    return VoicemailMessage(mid, box, folder, '"Caller" <5145550000>', dt.datetime(2026, 5, 15, 15, 45 + minute), 9)


@pytest.fixture
def people(db, world):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.commit()
    tenant = world.tenant("acme.test", timezone="America/Montreal")
    tenant.node_id = node.id
    db.commit()
    me = world.user(tenant, email="me@acme.test", extension="201")
    other = world.user(tenant, email="other@acme.test", extension="202")
    # Montréal numbers are among my allowed destinations (click-to-call checks them).
    local = DestinationGroup(tenant_id=tenant.id, name="Montréal")
    db.add(local)
    db.flush()
    db.add(DestinationPrefix(group_id=local.id, prefix="514"))
    me.destination_groups.append(local)
    db.commit()
    return tenant, node, me, other


@pytest.fixture
def fake(app, engine, people):
    pbx = FakePbx()
    pbx.mailboxes[MINE] = [vm("a1", MINE), vm("a2", MINE, 1, MailboxFolder.OLD)]
    pbx.mailboxes[THEIRS] = [vm("b1", THEIRS)]
    for mid in ("a1", "a2", "b1"):
        pbx.audio[mid] = b"RIFF" + mid.encode() + b"WAVE"
    with daemon_for_app(app, engine, pbx):
        yield pbx


def test_voicemail_own_messages_only(api, db, people, fake):
    _t, _n, me, _other = people
    mine = api.as_(user_token(db, me))
    items = mine.get("/api/v1/me/voicemail").get_json()["items"]
    assert [(m["id"], m["new"]) for m in items] == [("a2", False), ("a1", True)]
    audio = mine.get("/api/v1/me/voicemail/a1/audio")
    assert audio.status_code == 200 and audio.data == b"RIFFa1WAVE" and audio.mimetype == "audio/wav"
    # Another user's message id: not found, and untouched.
    assert mine.get("/api/v1/me/voicemail/b1/audio").status_code == 404
    assert mine.delete("/api/v1/me/voicemail/b1").status_code == 404
    assert mine.get("/api/v1/me/voicemail/..%2F..%2Fetc/audio").status_code == 404
    assert [m.message_id for m in fake.mailboxes[THEIRS]] == ["b1"]
    assert mine.delete("/api/v1/me/voicemail/a1").status_code == 204
    assert [m.message_id for m in fake.mailboxes[MINE]] == ["a2"]
    assert MINE in fake.refreshed  # the phone's message-waiting light


def test_voicemail_daemon_or_pbx_down_is_503(api, db, people, app, engine):
    _t, _n, me, _other = people
    mine = api.as_(user_token(db, me))
    resp = mine.get("/api/v1/me/voicemail")  # no daemon at all
    assert resp.status_code == 503 and resp.is_json
    assert "cannot be reached" in resp.get_json()["errors"][""]
    assert mine.get("/api/v1/me/voicemail/a1/audio").status_code == 503
    assert mine.post("/api/v1/me/click-to-call", {"number": "5145550123"}).status_code == 503
    pbx = FakePbx()
    with daemon_for_app(app, engine, pbx):
        pbx.go_down()
        resp = mine.get("/api/v1/me/voicemail")
        assert resp.status_code == 503 and resp.is_json


def test_call_settings_applied_through_the_daemon(api, db, people, fake):
    _t, _n, me, _other = people
    mine = api.as_(user_token(db, me))
    before = mine.get("/api/v1/me/call-settings").get_json()
    assert before["dnd"] is False and before["call_waiting"] is True
    resp = mine.patch("/api/v1/me/call-settings", {"dnd": True, "forward_noanswer": "202",
                                                   "forward_noanswer_delay": 25})
    assert resp.status_code == 200, resp.data
    body = resp.get_json()
    assert body["dnd"] is True and body["forward_noanswer"] == "202" and body["forward_noanswer_delay"] == 25
    assert body["sync"]["state"] == "applied" and body["sync_state"] == "applied"
    assert fake.features["acme-201"].dnd and fake.features["acme-201"].forward_noanswer == "202"
    # Unchanged fields stay as they were (PATCH).
    assert body["call_waiting"] is True


def test_call_settings_pending_when_pbx_or_daemon_down(api, db, people, app, engine):
    _t, _n, me, _other = people
    mine = api.as_(user_token(db, me))
    resp = mine.patch("/api/v1/me/call-settings", {"dnd": True})  # no daemon
    body = resp.get_json()
    assert resp.status_code == 200 and body["sync"]["state"] == "pending"
    assert body["sync"]["daemon_reachable"] is False and body["sync_state"] == "pending"
    db.expire_all()
    assert db.get(CallSettings, me.id).dnd is True
    pbx = FakePbx()
    with daemon_for_app(app, engine, pbx):
        pbx.go_down()
        body = mine.patch("/api/v1/me/call-settings", {"call_waiting": False}).get_json()
        assert body["sync"]["state"] == "pending" and body["sync"]["daemon_reachable"] is True
    db.expire_all()
    assert db.get(CallSettings, me.id).sync_state is SyncState.PENDING


def test_call_settings_refusals(api, db, people):
    _t, _n, me, _other = people
    mine = api.as_(user_token(db, me))
    cases = [({"dnd": "yes"}, "dnd"), ({"forward_always": "+33 1 23 45 67 89"}, "forward_always"),
             ({"forward_busy": "abc"}, "forward_busy"), ({"followme_delay": 500}, "followme_delay"),
             ({"followme_enabled": True}, "followme_numbers"), ({"sync_state": "applied"}, "sync_state"),
             ({"colour": "red"}, "colour"), ({"language": "de"}, "language")]
    for body, field in cases:
        resp = mine.patch("/api/v1/me/call-settings", body)
        assert resp.status_code == 400, body
        assert field in resp.get_json()["errors"], (body, resp.get_json())
    outside = mine.patch("/api/v1/me/call-settings", {"forward_always": "+33123456789"}).get_json()
    assert "+33123456789 is not in your allowed destinations: Montréal (514)." in outside["errors"]["forward_always"]
    # the API words every refusal as the screens do (one table, web/settings/messages.py), in English: the
    # user's own extension was "This value cannot be used." here
    own = me.primary_extension.number
    loop = mine.patch("/api/v1/me/call-settings", {"forward_busy": own}).get_json()
    assert loop["errors"]["forward_busy"] == f"{own} is your own extension: calls would come back to you in a loop."
    assert mine.patch("/api/v1/me/call-settings", {"language": "de"}).get_json()["errors"]["language"] == \
        "Choose Français (fr) or English (en)."
    db.expire_all()
    cs = db.get(CallSettings, me.id)
    assert cs is None or (cs.forward_always == "" and not cs.followme_enabled)


def test_call_records_own_only_with_keyset_cursor(api, db, people):
    tenant, node, me, other = people
    base = dt.datetime(2026, 5, 10, 14, 0)
    for i in range(5):
        db.add(CallRecord(tenant_id=tenant.id, user_id=me.id, node_id=node.id, pbx_call_id=f"c{i}",
                          caller_name=f"Caller {i}", caller_number=f"51455500{i:02d}", dialed_number="201",
                          started_at=base + dt.timedelta(hours=i), duration_seconds=60 * i, status="answered",
                          call_type="incoming", cost=Decimal("0.10")))
    db.add(CallRecord(tenant_id=tenant.id, user_id=other.id, node_id=node.id, pbx_call_id="x", caller_name="Secret",
                      caller_number="999", started_at=base, status="answered", call_type="incoming"))
    db.commit()
    mine = api.as_(user_token(db, me))
    first = mine.get("/api/v1/me/call-records?limit=2").get_json()
    assert first["total"] == 5 and [r["caller_name"] for r in first["items"]] == ["Caller 4", "Caller 3"]
    second = mine.get(f"/api/v1/me/call-records?limit=2&cursor={first['next_cursor']}").get_json()
    assert [r["caller_name"] for r in second["items"]] == ["Caller 2", "Caller 1"]
    assert all(r["caller_name"] != "Secret" for r in mine.get("/api/v1/me/call-records?limit=500").json["items"])
    asc = mine.get("/api/v1/me/call-records?sort=duration&limit=1").get_json()
    assert asc["items"][0]["duration_seconds"] == 0 and asc["items"][0]["cost"] == "0.1000"
    searched = mine.get("/api/v1/me/call-records?q=caller%203").get_json()
    assert [r["caller_name"] for r in searched["items"]] == ["Caller 3"]
    day = mine.get("/api/v1/me/call-records?start=2026-05-10&end=2026-05-10").get_json()
    assert day["total"] == 5  # 10:00 to 14:00 in Montréal
    assert mine.get("/api/v1/me/call-records?start=2026-05-11").get_json()["total"] == 0
    for bad in ("start=10/05/2026", "end=9999-12-31", "start=0001-01-01", "sort=password", "cursor=!!", "cursor=abc", "limit=0", "q=%00",
                "start=2026-05-11&end=2026-05-10"):
        resp = mine.get(f"/api/v1/me/call-records?{bad}")
        assert resp.status_code == 400 and resp.is_json, bad


def test_live_calls_own_only(api, db, people):
    tenant, node, me, other = people
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    db.add_all([LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="l1", started_at=now, state="up",
                         source_number="201", destination_number="5145550000"),
                LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="l2", started_at=now, state="up",
                         source_number="202", destination_number="5145559999")])
    db.commit()
    items = api.as_(user_token(db, me)).get("/api/v1/me/live-calls").get_json()["items"]
    assert [c["id"] for c in items] == ["l1"] and items[0]["destination"] == "5145550000"


def test_queues_login_pause_and_other_users_queue(api, db, people, fake):
    tenant, _n, me, other = people
    support = Queue(tenant_id=tenant.id, name="support", label="Soutien", number="800")
    sales = Queue(tenant_id=tenant.id, name="sales", label="Ventes", number="801")
    db.add_all([support, sales, PauseReason(tenant_id=tenant.id, label="Lunch")])
    db.flush()
    db.add_all([QueueMembership(queue_id=support.id, user_id=me.id),
                QueueMembership(queue_id=sales.id, user_id=other.id)])
    db.commit()
    mine = api.as_(user_token(db, me))
    listing = mine.get("/api/v1/me/queues").get_json()
    assert [q["label"] for q in listing["items"]] == ["Soutien"] and listing["items"][0]["status"] == "offline"
    assert listing["items"][0]["id"] == support.id  # the id the action routes take
    reason_id = listing["pause_reasons"][0]["id"]
    resp = mine.post(f"/api/v1/me/queues/{support.id}/login")
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["sync"]["state"] == "applied" and fake.members
    assert mine.post(f"/api/v1/me/queues/{support.id}/pause", {}).status_code == 400  # a reason is needed
    resp = mine.post(f"/api/v1/me/queues/{support.id}/pause", {"reason_id": reason_id})
    assert resp.status_code == 200 and resp.get_json()["queue"]["requested"]["pause_reason"] == "Lunch"
    assert next(iter(fake.members.values())).paused
    # Another user's queue, or an unknown action: not found.
    assert mine.post(f"/api/v1/me/queues/{sales.id}/login").status_code == 404
    assert mine.post(f"/api/v1/me/queues/{support.id}/explode").status_code == 404
    db.expire_all()
    assert not db.query(QueueMembership).filter_by(user_id=other.id).one().logged_in


def test_click_to_call(api, db, people, fake):
    _t, _n, me, _other = people
    mine = api.as_(user_token(db, me))
    resp = mine.post("/api/v1/me/click-to-call", {"number": "514 555 0123"})
    assert resp.status_code == 202 and resp.get_json()["number"] == "5145550123"
    assert fake.originates[-1][1] == "5145550123"
    for body in ({"number": "5145550123\r\nAction: Originate"}, {"number": 5145550123}, {},
                 {"number": "1", "extra": True}):
        assert mine.post("/api/v1/me/click-to-call", body).status_code == 400, body
    assert len(fake.originates) == 1


def test_admin_token_sees_only_own_me_data(api, db, people, fake):
    tenant, _n, me, other = people
    from clusterpbx.control.models import Role

    other.role = Role.TENANT_ADMIN
    db.commit()
    admin = api.as_(user_token(db, other))
    # An admin's /me is their own: never another user's messages.
    assert [m["id"] for m in admin.get("/api/v1/me/voicemail").get_json()["items"]] == ["b1"]
    assert admin.get("/api/v1/me/voicemail/a1/audio").status_code == 404
    assert admin.get("/api/v1/me").get_json()["email"] == "other@acme.test"
