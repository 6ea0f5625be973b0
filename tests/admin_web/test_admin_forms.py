"""The generic list and form screens: create / edit / delete through the forms, errors shown next to
their field with the input kept and nothing written, search / sort / pages / empty state, the user
and node actions, hostile values rendered inert, both languages."""

from __future__ import annotations

import io
import re
from pathlib import Path

from clusterpbx.control.models import AuditEntry, DestinationGroup, Extension, PbxNode, User
from tests.admin_web.scene import build, post, raw, text
from tests.conftest import AuthActions


def user_form(**over):
    base = {"email": "zoe@acme.test", "first_name": "Zoé", "last_name": "Zabal", "department": "Ventes",
            "language": "fr", "timezone": "", "role": "user", "active": "y", "approved": "y", "password": "",
            "extension": "260", "sip_password": "", "vm_pin": "", "can_use_blf": "y"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def error_of(page: str, field: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', page)
    return m.group(1) if m else ""


def test_user_create_edit_delete_round_trip(client, auth, db, world):
    s = build(db, world)
    group = DestinationGroup(tenant_id=s.ta.id, name="Local Montréal")
    db.add(group)
    db.commit()
    auth.login(s.admin_a.email)
    users_before = db.query(User).count()

    page = raw(client.get("/admin/users/new"))
    # A new account starts as the model says: active, approved, in French, a plain user.
    for box in ("active", "approved"):
        assert re.search(rf'<input[^>]*checked[^>]*id="f-{box}"', page), box
    assert not re.search(r'<input[^>]*checked[^>]*id="f-can_use_blf"', page)
    assert '<option selected value="fr">' in page and '<option selected value="user">' in page
    page = text(client.get("/admin/users/new"))
    for label in ("Courriel", "Prénom", "Poste", "Groupes de destinations", "Boutons présence / décrocher"):
        assert label in page, label
    assert "Local Montréal" in page and "Beta local" not in page

    # Invalid: the service's errors come back next to their fields, every typed value is kept.
    resp = post(client, "/admin/users/new", user_form(email="pas-une-adresse", extension="1",
                                                      destination_groups=str(group.id)))
    assert resp.status_code == 400
    page = raw(resp)
    assert error_of(page, "email") and error_of(page, "extension")
    assert 'aria-invalid="true"' in page and 'aria-describedby="err-email"' in page
    assert 'value="pas-une-adresse"' in page and 'value="Zoé"' in page and 'value="Ventes"' in page
    assert re.search(rf'checked[^>]*value="{group.id}"|value="{group.id}"[^>]*checked', page)
    assert 'id="f-can_use_blf" name="can_use_blf" type="checkbox" value="y"' in page.replace("checked ", "")
    assert re.search(r'<input[^>]*checked[^>]*id="f-can_use_blf"', page)
    db.expire_all()
    assert db.query(User).count() == users_before

    # A parsing error of the form itself (a number field with letters) on the tenant screen.
    resp = post(client, f"/admin/tenants/{s.ta.id}", {"name": "Acme", "pw_min_length": "huit",
                                                      "cdr_retention_days": "730"})
    assert resp.status_code == 400 and error_of(raw(resp), "pw_min_length")
    assert 'value="huit"' in raw(resp)

    # Valid: created, with its extension, groups and permissions.
    resp = post(client, "/admin/users/new", user_form(destination_groups=str(group.id)))
    assert resp.status_code == 302
    db.expire_all()
    zoe = db.query(User).filter_by(email="zoe@acme.test").one()
    assert (zoe.first_name, zoe.tenant_id, zoe.can_use_blf, zoe.department) == ("Zoé", s.ta.id, True, "Ventes")
    assert [g.name for g in zoe.destination_groups] == ["Local Montréal"]
    assert db.query(Extension).filter_by(user_id=zoe.id).one().number == "260"
    assert resp.headers["Location"].endswith(f"/admin/users/{zoe.id}")
    page = text(client.get(resp.headers["Location"]))
    assert "Créé." in page and 'value="Zoé"' in page

    # Edit with an error: nothing saved, input kept; the extension taken by Alice is refused.
    taken = s.user_a.extensions[0].number
    resp = post(client, f"/admin/users/{zoe.id}", user_form(first_name="Zoë", extension=taken))
    assert resp.status_code == 400
    assert error_of(raw(resp), "extension") and 'value="Zoë"' in raw(resp)
    db.expire_all()
    assert db.get(User, zoe.id).first_name == "Zoé"

    # Valid edit; an empty password (secret) leaves the stored hash alone; unticked boxes are saved.
    hash_before = db.get(User, zoe.id).password_hash
    resp = post(client, f"/admin/users/{zoe.id}", user_form(first_name="Zoë", can_use_blf=None, extension="261"))
    assert resp.status_code == 302
    db.expire_all()
    zoe = db.get(User, zoe.id)
    assert (zoe.first_name, zoe.can_use_blf, zoe.password_hash) == ("Zoë", False, hash_before)
    assert zoe.destination_groups == []
    assert zoe.primary_extension.number == "261"

    # The list: found by search, sorted, with the edit link.
    page = text(client.get("/admin/users/?q=zabal"))
    assert "zoe@acme.test" in page and "alice@acme.test" not in page
    page = raw(client.get("/admin/users/?sort=-email"))
    assert page.index("zoe@acme.test") < page.index("alice@acme.test")
    assert 'aria-sort="descending"' in page
    page = raw(client.get("/admin/users/?sort=email"))
    assert page.index("alice@acme.test") < page.index("zoe@acme.test")
    assert "Aucun résultat pour cette recherche." in text(client.get("/admin/users/?q=personne-de-ce-nom"))

    # Delete: a confirmation step first, then gone.
    zoe_id = zoe.id
    page = text(client.get(f"/admin/users/{zoe_id}/delete"))
    assert "Supprimer Zoë Zabal <zoe@acme.test> ?" in page and "Oui, supprimer" in page
    db.expire_all()
    assert db.get(User, zoe_id) is not None
    resp = post(client, f"/admin/users/{zoe_id}/delete", {}, page=f"/admin/users/{zoe_id}/delete")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/users/")
    db.expire_all()
    assert db.get(User, zoe_id) is None

    # Each step is in the audit log, with the admin as actor.
    actions = [e.action for e in db.query(AuditEntry).filter_by(object_type="users", object_id=str(zoe_id))
               .order_by(AuditEntry.id)]
    assert actions == ["create", "update", "delete"]
    page = text(client.get("/admin/audit/?type=users"))
    assert "admin@acme.test" in page and "Zoë" in page and "Zoé" in page


def test_cannot_delete_or_disable_oneself(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    resp = post(client, f"/admin/users/{s.admin_a.id}/delete", {})
    assert resp.status_code == 302
    assert "Vous ne pouvez pas supprimer votre propre compte." in text(client.get(resp.headers["Location"]))
    db.expire_all()
    assert db.get(User, s.admin_a.id) is not None
    resp = post(client, f"/admin/users/{s.admin_a.id}/disable", {})
    assert "Vous ne pouvez pas désactiver votre propre compte." in text(client.get(resp.headers["Location"]))
    db.expire_all()
    assert db.get(User, s.admin_a.id).active


def test_disable_enable_and_reset_password(app, client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    version = s.user_a.session_version
    resp = post(client, f"/admin/users/{s.user_a.id}/disable", {})
    assert resp.status_code == 302
    page = text(client.get(resp.headers["Location"]))
    assert "Alice Aubry <alice@acme.test> est désactivé." in page and "Activer" in page
    db.expire_all()
    alice = db.get(User, s.user_a.id)
    assert not alice.active and alice.session_version > version
    other = app.test_client()
    assert AuthActions(other).login("alice@acme.test").headers.get("Location", "").endswith("/home") is False
    # A disabled account cannot be sent a reset link.
    resp = post(client, f"/admin/users/{s.user_a.id}/reset-password", {})
    assert resp.status_code == 302
    outbox = Path(app.config["CLUSTERPBX"].instance_path) / "outbox"
    assert not outbox.exists() or not list(outbox.iterdir())
    post(client, f"/admin/users/{s.user_a.id}/enable", {})
    db.expire_all()
    assert db.get(User, s.user_a.id).active
    again = app.test_client()
    assert AuthActions(again).login("alice@acme.test").headers["Location"].endswith("/home")
    resp = post(client, f"/admin/users/{s.user_a.id}/reset-password", {})
    assert resp.status_code == 302
    assert "Un lien de réinitialisation du mot de passe a été envoyé" in text(client.get(resp.headers["Location"]))
    mails = list(outbox.iterdir())
    assert len(mails) == 1
    mail = mails[0].read_text()
    assert "To: alice@acme.test" in mail and "/password/reset/" in mail
    db.expire_all()
    assert [e.action for e in db.query(AuditEntry).filter_by(object_type="users", object_id=str(s.user_a.id))
            .order_by(AuditEntry.id)][-3:] == ["update", "update", "reset_password"]


def test_operator_node_screens_and_connection_test(client, auth, db, world):
    s = build(db, world)
    auth.login(s.operator.email, language="en")
    resp = post(client, "/admin/nodes/new", {"name": "pbx-1", "kind": "asterisk", "host": "bad host!",
                                             "port": "5038", "username": "clusterpbx", "secret": "s3cr3t-ami",
                                             "spool_path": "/var/spool/asterisk/voicemail", "enabled": "y"})
    assert resp.status_code == 400 and error_of(raw(resp), "host")
    assert 'value="bad host!"' in raw(resp)
    assert 'value="s3cr3t-ami"' in raw(resp)  # the typed secret is not lost on an error...
    assert db.query(PbxNode).count() == 0
    resp = post(client, "/admin/nodes/new", {"name": "pbx-1", "kind": "asterisk", "host": "127.0.0.1",
                                             "port": "5038", "username": "clusterpbx", "secret": "s3cr3t-ami",
                                             "spool_path": "/var/spool/asterisk/voicemail", "enabled": "y"})
    assert resp.status_code == 302
    node = db.query(PbxNode).one()
    page = raw(client.get(f"/admin/nodes/{node.id}"))
    assert "s3cr3t-ami" not in page  # ...but a stored one is never sent back
    assert "Test the connection" in page
    # Empty secret on update: unchanged.
    resp = post(client, f"/admin/nodes/{node.id}", {"name": "pbx-1", "kind": "asterisk", "host": "10.0.0.5",
                                                    "port": "5038", "username": "clusterpbx", "secret": "",
                                                    "spool_path": "/var/spool/asterisk/voicemail", "enabled": "y"})
    assert resp.status_code == 302
    db.expire_all()
    node = db.get(PbxNode, node.id)
    assert (node.host, node.secret) == ("10.0.0.5", "s3cr3t-ami")
    # The control daemon is not running (the app points at a closed port): the test says so.
    resp = post(client, f"/admin/nodes/{node.id}/test", {})
    assert resp.status_code == 302
    page = text(client.get(resp.headers["Location"]))
    assert "Connection test failed." in page and "control daemon is not reachable" in page
    # The audit shows the secret only as "(changed)"/"(set)", never its value.
    page = text(client.get("/admin/audit/?type=nodes"))
    assert "s3cr3t-ami" not in page and "(set)" in page


def test_hostile_values_are_inert(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    evil = '<script>alert("x")</script>'
    resp = post(client, f"/admin/users/{s.user_a.id}", user_form(
        email="alice@acme.test", first_name=evil, last_name="O'Brien \"Q\" <b>", extension="",
        department="<img src=x onerror=alert(1)>"))
    assert resp.status_code == 302
    for path in ("/admin/users/", f"/admin/users/{s.user_a.id}", "/admin/audit/", f"/admin/users/{s.user_a.id}/delete"):
        page = raw(client.get(path))
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>" not in page, path
        assert "&lt;script&gt;" in page or "&lt;script&gt;alert" in page, path
    page = raw(client.get("/admin/audit/"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    # In the choices of other forms (a phone's owner) and in a CSV error message too.
    page = raw(client.get("/admin/devices/new"))
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    resp = post(client, "/admin/csv/users/import", {
        "step": "check", "file": (io.BytesIO(b"email,destination_groups\r\nx@acme.test,<script>y</script>\r\n"),
                                  "evil.csv")}, page="/admin/csv/users/import", content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "<script>y" not in raw(resp) and "&lt;script&gt;y&lt;/script&gt;" in raw(resp)
    # Hostile query-string values too.
    page = raw(client.get('/admin/users/?q="><script>x</script>&sort=<b>'))
    assert "<script>x" not in page


def test_pagination_and_empty_state(client, auth, db, world):
    s = build(db, world)
    for i in range(30):
        world.user(s.ta, email=f"p{i:02d}@acme.test", extension=str(400 + i))
    auth.login(s.admin_a.email)
    page = text(client.get("/admin/users/?sort=email"))
    assert "32 éléments" in page and "Page 1 de 2" in page and "Page suivante" in page
    page = text(client.get("/admin/users/?sort=email&page=2"))
    assert "Page 2 de 2" in page and "Page précédente" in page and "p29@acme.test" in page
    page = text(client.get("/admin/users/?sort=email&page=9"))  # an old link past the end
    assert "Page 2 de 2" in page and "p29@acme.test" in page
    page = text(client.get("/admin/pause_reasons/"))
    assert "Rien ici pour le moment." in page and "Ajouter le premier" in page


def test_both_languages(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    page = text(client.get("/admin/"))
    for label in ("Administration", "Utilisateurs", "Téléphones", "Files d'attente", "Journal des modifications",
                  "Import et export CSV", "administrateur de téléphonie"):
        assert label in page, label
    page = text(client.get("/admin/users/"))
    assert "Courriel" in page and "Ajouter" in page and '<html lang="fr">' in page
    auth.logout()
    auth.login(s.operator.email, language="en")
    page = text(client.get("/admin/"))
    for label in ("Administration", "Users", "Phones", "Queues", "Audit log", "CSV import and export", "Tenants",
                  "PBX nodes"):
        assert label in page, label
    assert '<html lang="en">' in page


def test_other_resources_through_the_generic_screens(client, auth, db, world):
    """Destination groups (multi-line prefixes), queues (agents as boxes), pause reasons and rates go
    through the same list and form, errors included."""
    from clusterpbx.control.models import PauseReason, Queue, QueueMembership, RateEntry

    s = build(db, world)
    auth.login(s.admin_a.email)
    resp = post(client, "/admin/destination_groups/new", {"name": "Local Montréal", "prefixes": "514\nabc"})
    assert resp.status_code == 400 and error_of(raw(resp), "prefixes")
    assert "514\nabc" in text(resp)
    resp = post(client, "/admin/destination_groups/new", {"name": "Local Montréal", "prefixes": "514\r\n438"})
    assert resp.status_code == 302
    group = db.query(DestinationGroup).filter_by(tenant_id=s.ta.id, name="Local Montréal").one()
    assert sorted(p.prefix for p in group.prefixes) == ["438", "514"]
    assert "Local Montréal" in text(client.get("/admin/destination_groups/"))

    page = text(client.get("/admin/queues/new"))
    assert "Alice Aubry <alice@acme.test>" in page and "bob@beta.test" not in page
    resp = post(client, "/admin/queues/new", {"name": "soutien", "label": "Soutien", "number": "600",
                                              "strategy": "ringall", "agents": [str(s.user_a.id)]})
    assert resp.status_code == 302
    queue = db.query(Queue).filter_by(tenant_id=s.ta.id, name="soutien").one()
    assert [m.user_id for m in db.query(QueueMembership).filter_by(queue_id=queue.id)] == [s.user_a.id]
    # The agent list shows the box ticked on the queue's page; unticking removes the agent.
    page = raw(client.get(f"/admin/queues/{queue.id}"))
    assert re.search(rf'checked[^>]*value="{s.user_a.id}"|value="{s.user_a.id}"[^>]*checked', page)
    resp = post(client, f"/admin/queues/{queue.id}", {"name": "soutien", "label": "Soutien", "number": "600",
                                                      "strategy": "ringall"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.query(QueueMembership).filter_by(queue_id=queue.id).count() == 0

    assert post(client, "/admin/pause_reasons/new", {"label": "Dîner"}).status_code == 302
    assert db.query(PauseReason).filter_by(tenant_id=s.ta.id, label="Dîner").count() == 1
    resp = post(client, "/admin/rates/new", {"prefix": "1514", "per_minute": "beaucoup", "increment_seconds": "60"})
    assert resp.status_code == 400 and error_of(raw(resp), "per_minute") and 'value="beaucoup"' in raw(resp)
    resp = post(client, "/admin/rates/new", {"prefix": "1514", "per_minute": "0,025", "increment_seconds": "60"})
    assert resp.status_code == 302
    assert str(db.query(RateEntry).filter_by(tenant_id=s.ta.id).one().per_minute) == "0.0250"


def test_saving_keeps_a_reference_beyond_the_offered_choices(client, auth, db, world, monkeypatch):
    import clusterpbx.web.admin as admin_web
    from clusterpbx.control.admin import Actor, resource
    from clusterpbx.control.models import Device

    s = build(db, world)
    owner = world.user(s.ta, email="zz-last@acme.test", first_name="Zed", extension="299")
    device = resource("devices").create(db, Actor.command_line(), {
        "tenant_id": s.ta.id, "mac": "00:15:65:00:00:01", "vendor": "yealink", "model": "T46S",
        "user_id": owner.id})
    db.commit()
    monkeypatch.setattr(admin_web, "REFERENCE_LIMIT", 1)  # the owner is not on the first page of users
    auth.login(s.admin_a.email)
    page = raw(client.get(f"/admin/devices/{device.id}"))
    assert re.search(rf'<option selected value="{owner.id}">', page)
    resp = post(client, f"/admin/devices/{device.id}", {"mac": "00:15:65:00:00:01", "vendor": "yealink",
                                                        "model": "T46S", "label": "Salle", "user_id": str(owner.id)})
    assert resp.status_code == 302
    db.expire_all()
    assert (db.get(Device, device.id).user_id, db.get(Device, device.id).label) == (owner.id, "Salle")
