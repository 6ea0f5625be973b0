"""The audit log: the end users' own changes are recorded (who, what, before, after; secrets never
in clear), and the log is searchable by tenant admins (their tenant only) and operators."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import select

from clusterpbx.control import audit, callsettings, conference, directory, queues
from clusterpbx.control.admin import Actor, Forbidden, resource
from clusterpbx.control.admin.users import send_password_reset
from clusterpbx.control.identity import set_password_from_link
from clusterpbx.control.models import AuditEntry, QueueMembership
from clusterpbx.provisioning.keys import KeyRow, save_rows
from tests.conftest import PASSWORD


def last(db, object_type):
    return db.scalars(select(AuditEntry).where(AuditEntry.object_type == object_type)
                      .order_by(AuditEntry.id.desc())).first()


def test_end_user_changes_are_audited(db, setup):
    me = setup.user_a
    callsettings.save_call_settings(db, me, callsettings.CallSettingsInput(
        call_waiting=False, dnd=True, followme_enabled=False, followme_numbers=[], followme_confirm=False,
        followme_delay=20, forward_always="", forward_busy="", forward_noanswer="", forward_noanswer_delay=20,
        language="en"))
    e = last(db, "call_settings")
    assert (e.action, e.actor_id, e.actor_label, e.tenant_id, e.object_id) == (
        "update", me.id, "user@acme.test", setup.a.id, str(me.id))
    assert e.before == {"call_waiting": True, "dnd": False, "language": "fr"}
    assert e.after == {"call_waiting": False, "dnd": True, "language": "en"}

    start = dt.date.today() + dt.timedelta(days=30)  # an absence still to come (past ones are refused)
    callsettings.save_voicemail(db, me, callsettings.VoicemailInput(
        ooo_enabled=True, ooo_start=start, ooo_last_day=start + dt.timedelta(days=13), email_enabled=False,
        email_use_login=True, email_address="", email_attach=True, delete_after_email=False))
    e = last(db, "voicemail_settings")
    assert e.after == {"ooo_enabled": True, "ooo_start": start.isoformat(),
                       "ooo_last_day": (start + dt.timedelta(days=13)).isoformat()}
    assert e.before == {"ooo_enabled": False, "ooo_start": None, "ooo_last_day": None}

    callsettings.change_voicemail_pin(db, me, "480213", "480213")
    e = last(db, "voicemail_pin")
    assert e.before == {"vm_pin": "(hidden)"} and e.after == {"vm_pin": "(changed)"}
    assert "480213" not in str(e.before) + str(e.after)

    conference.save_conference(db, me, conference.ConferenceInput(
        enabled=True, admin_pin="9911", user_pin="1234", max_members=10, announce_count=True,
        announce_join_leave=False, music_on_hold=True, star_menu=True, wait_for_admin=False, listen_only=False))
    e = last(db, "personal_conference")
    assert e.after == {"enabled": True, "admin_pin": "(changed)", "user_pin": "(changed)", "max_members": 10}
    assert "9911" not in str(e.before) + str(e.after)

    queue = resource("queues").create(db, Actor.command_line(), {"tenant_id": setup.a.id, "name": "support",
                                                                 "agents": [me.id]})
    db.commit()
    m = db.scalar(select(QueueMembership).where(QueueMembership.queue_id == queue.id))
    queues.set_state(db, me, m.id, queues.QueueAction.LOGIN)
    e = last(db, "queue_membership")
    assert (e.action, e.object_id, e.before, e.after) == ("login", str(m.id), {"logged_in": False},
                                                          {"logged_in": True})

    save_rows(db, me, [KeyRow("line", "101", "Moi"), KeyRow("speed", "5149079050", "Bureau")])
    e = last(db, "phone_keys")
    assert e.before == {"keys": []}
    assert e.after == {"keys": [["line", "101", "Moi"], ["speed", "5149079050", "Bureau"]]}

    pc = directory.add_external(db, me, "Plombier", "514 555 0101")
    e = last(db, "personal_contact")
    assert (e.action, e.object_id, e.after["name"], e.after["number"]) == ("create", str(pc.id), "Plombier",
                                                                           "5145550101")
    directory.remove(db, me, pc.id)
    e = last(db, "personal_contact")
    assert (e.action, e.before["name"], e.after) == ("delete", "Plombier", None)

    assert set_password_from_link(me, "Nouveau123") == []
    db.commit()
    e = last(db, "password")
    assert (e.action, e.actor_id, e.after) == ("reset_password_link", me.id, {"password": "(changed)"})


def test_unchanged_settings_write_nothing(db, setup):
    me = setup.user_a
    data = callsettings.CallSettingsInput(
        call_waiting=True, dnd=False, followme_enabled=False, followme_numbers=[], followme_confirm=False,
        followme_delay=20, forward_always="", forward_busy="", forward_noanswer="", forward_noanswer_delay=20,
        language="fr")
    callsettings.save_call_settings(db, me, data)
    assert last(db, "call_settings") is None


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_web_password_change_and_picture_are_audited(client, auth, db, setup):
    auth.login("user@acme.test")
    token = auth.csrf("/settings/account")
    resp = client.post("/settings/account", data={"csrf_token": token, "current_password": PASSWORD,
                                                 "new_password": "Changed123", "confirm_password": "Changed123"})
    assert resp.status_code in (200, 302)
    db.expire_all()
    e = last(db, "password")
    assert (e.actor_id, e.action, e.before, e.after) == (setup.user_a.id, "update", {"password": "(hidden)"},
                                                         {"password": "(changed)"})
    token = auth.csrf("/profile/")
    resp = client.post("/profile/upload", data={"csrf_token": token, "image": (io.BytesIO(_png()), "me.png")},
                       content_type="multipart/form-data")
    assert resp.status_code == 302
    db.expire_all()
    e = last(db, "profile_picture")
    assert e.actor_id == setup.user_a.id
    assert e.after == {"picture_source": "uploaded", "uploaded_picture": "(changed)"}


def test_search_scope_and_filters(db, setup):
    r = resource("users")
    r.update(db, setup.adm, setup.user_a.id, {"department": "Ventes"})
    r.update(db, Actor.of(setup.admin_b), setup.user_b.id, {"department": "Achats"})
    resource("pause_reasons").create(db, setup.adm, {"label": "Dîner"})
    db.commit()
    mine = audit.search(db, setup.adm)
    assert mine.total == len(mine.items) > 0
    assert {e.tenant_id for e in mine.items} == {setup.a.id}
    # Newest first.
    assert [e.id for e in mine.items] == sorted((e.id for e in mine.items), reverse=True)
    # Another tenant's entries: nothing, whatever the filter says.
    assert audit.search(db, setup.adm, tenant_id=setup.b.id).items == []
    everyone = audit.search(db, setup.op, per_page=500)
    assert {setup.a.id, setup.b.id} <= {e.tenant_id for e in everyone.items}
    only_b = audit.search(db, setup.op, tenant_id=setup.b.id, per_page=500)
    assert only_b.items and {e.tenant_id for e in only_b.items} == {setup.b.id}
    by_type = audit.search(db, setup.adm, object_type="pause_reasons")
    assert [(e.action, e.after["label"]) for e in by_type.items] == [("create", "Dîner")]
    by_actor = audit.search(db, setup.adm, actor_id=setup.admin_a.id)
    assert {(e.object_type, e.action) for e in by_actor.items} == {("users", "update"), ("pause_reasons", "create")}
    ventes = next(e for e in by_actor.items if e.object_type == "users")
    assert ventes.before["department"] == "" and ventes.after["department"] == "Ventes"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert audit.search(db, setup.adm, since=now + dt.timedelta(minutes=1)).total == 0
    assert audit.search(db, setup.adm, until=now - dt.timedelta(days=1)).total == 0
    assert audit.search(db, setup.adm, since=now - dt.timedelta(minutes=5)).total == mine.total
    page2 = audit.search(db, setup.adm, page=2, per_page=1)
    assert page2.total == mine.total and [e.id for e in page2.items] == [mine.items[1].id]
    with pytest.raises(Forbidden):
        audit.search(db, setup.usr)


def test_actor_label_survives_account_deletion(db, setup):
    resource("pause_reasons").create(db, setup.adm, {"label": "Pause"})
    db.commit()
    resource("users").delete(db, setup.op, setup.admin_a.id)
    db.commit()
    e = last(db, "pause_reasons")
    db.refresh(e)
    assert e.actor_id is None and e.actor_label == "admin@acme.test"


def test_admin_reset_password_sends_the_link_and_is_audited(db, setup):
    sent = []
    send_password_reset(db, setup.adm, setup.user_a.id, send=sent.append)
    assert sent == [setup.user_a]
    e = last(db, "users")
    assert (e.action, e.actor_id, e.object_id) == ("reset_password", setup.admin_a.id, str(setup.user_a.id))
    from clusterpbx.control.admin import NotFound

    with pytest.raises(NotFound):
        send_password_reset(db, setup.adm, setup.user_b.id, send=sent.append)
    with pytest.raises(Forbidden):
        send_password_reset(db, setup.adm, setup.operator.id, send=sent.append)
    with pytest.raises(Forbidden):
        send_password_reset(db, setup.usr, setup.user_a.id, send=sent.append)
    assert len(sent) == 1


def test_default_reset_mail_is_a_working_single_use_link(db, setup, tmp_path, monkeypatch):
    """Without the portal's mailer (command line), the message goes to the outbox with the same link."""
    import re

    from clusterpbx.control.config import load_settings
    from clusterpbx.control.links import LinkPurpose, check_link_token

    monkeypatch.setenv("CLUSTERPBX_INSTANCE", str(tmp_path / "inst"))
    monkeypatch.delenv("CLUSTERPBX_SMTP_HOST", raising=False)
    send_password_reset(db, Actor.command_line(), setup.user_a.id)
    mails = list((tmp_path / "inst" / "outbox").glob("*.eml"))
    assert len(mails) == 1
    import email
    from email import policy

    msg = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert msg["To"] == "user@acme.test"
    body = msg.get_body(("plain",)).get_content()
    token = re.search(r"/password/reset/([A-Za-z0-9_.\-]+)", body).group(1)
    settings = load_settings()
    assert check_link_token(db, settings.secret_key, LinkPurpose.RESET_PASSWORD, token, 3600) is setup.user_a
