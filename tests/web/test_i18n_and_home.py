"""Both languages rendered, the language choice stored and applied at once, the home page and guides."""

from __future__ import annotations

import pytest

from clusterpbx.control.models import NodeKind, PbxNode, Registration
from tests.conftest import PASSWORD

MENU_FR = ["Accueil", "Mon image de profil", "Paramètres", "Déconnexion"]
MENU_EN = ["Home", "My profile picture", "Settings", "Log out"]


def test_home_in_french(client, auth, world):
    u = world.user(world.tenant(), language="fr")
    auth.login(u.email, language="fr")
    html = client.get("/home").get_data(as_text=True)
    for text in MENU_FR + ["À propos de moi", "Utilisateur:", "Domaine:", "Statut:"]:
        assert text in html
    # The menu keeps the guide's order.
    positions = [html.index(t) for t in MENU_FR]
    assert positions == sorted(positions)


def test_home_in_english(client, auth, world):
    u = world.user(world.tenant(), language="en")
    auth.login(u.email, language="en")
    html = client.get("/home").get_data(as_text=True)
    for text in MENU_EN + ["About me", "User:", "Domain:", "Status:"]:
        assert text in html
    assert "Accueil" not in html


def test_login_from_a_french_browser_keeps_an_english_users_language(client, auth, world, db):
    u = world.user(world.tenant(), language="en")
    fr = {"Accept-Language": "fr-CA,fr;q=0.9"}
    assert "Courriel" in client.get("/login", headers=fr).get_data(as_text=True)
    # Even a form that still posts a language (an old page, a script) changes nothing.
    resp = client.post("/login", headers=fr, data={"email": u.email, "password": PASSWORD, "language": "fr",
                                                   "csrf_token": auth.csrf()})
    assert resp.status_code == 302
    db.refresh(u)
    assert u.language == "en"
    assert "About me" in client.get("/home", headers=fr).get_data(as_text=True)


def test_login_page_language_buttons_switch_the_page_only(client, auth, world, db):
    u = world.user(world.tenant(), language="fr")
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert 'formaction="/language/en"' in html and '<select' not in html  # buttons, no select
    resp = client.post("/language/en", data={"csrf_token": auth.csrf(), "next": "/login"})
    assert resp.headers["Location"].endswith("/login")
    assert "E-mail" in client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    auth.login(u.email)
    db.refresh(u)
    assert u.language == "fr"  # the saved preference wins once logged in
    assert "À propos de moi" in client.get("/home").get_data(as_text=True)


def test_empty_login_says_what_is_missing(client, auth):
    resp = client.post("/login", headers={"Accept-Language": "en"},
                       data={"email": "", "password": "", "csrf_token": auth.csrf()})
    assert "Enter your e-mail address." in resp.get_data(as_text=True)
    resp = client.post("/login", headers={"Accept-Language": "fr"},
                       data={"email": "", "password": "", "csrf_token": auth.csrf()})
    assert "Entrez votre adresse courriel." in resp.get_data(as_text=True)


def test_language_switch_applies_at_once(client, auth, world, db):
    u = world.user(world.tenant(), language="fr")
    auth.login(u.email, language="fr")
    token = auth.csrf("/home")
    resp = client.post("/language/en", data={"csrf_token": token, "next": "/settings/account"})
    assert resp.headers["Location"].endswith("/settings/account")
    db.refresh(u)
    assert u.language == "en"
    assert "Web portal password" in client.get("/settings/account").get_data(as_text=True)


def test_login_page_language_from_browser(client):
    assert "Courriel" in client.get("/login", headers={"Accept-Language": "fr-CA,fr;q=0.9"}).get_data(as_text=True)
    assert "E-mail" in client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)


def test_phone_status_unknown_until_daemon_projects(client, auth, world):
    auth.login(world.user(world.tenant()).email)
    assert "Statut du poste inconnu" in client.get("/home").get_data(as_text=True)


@pytest.mark.parametrize(("registered", "text"), [(True, "Poste connecté"), (False, "Poste déconnecté")])
def test_phone_status_from_projected_registration(client, auth, world, db, registered, text):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    u = world.user(tenant)
    db.add(Registration(node_id=node.id, endpoint=u.extensions[0].sip_username, registered=registered))
    db.commit()
    auth.login(u.email)
    assert text in client.get("/home").get_data(as_text=True)


def test_hostile_names_are_escaped(client, auth, world):
    u = world.user(world.tenant(), first_name='<script>alert("x")</script>', last_name="O'Brien & co")
    auth.login(u.email)
    html = client.get("/home").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(("lang", "title"), [("fr", "Guide de boîte vocale ClusterPBX"),
                                             ("en", "ClusterPBX voicemail guide")])
def test_voicemail_guide_in_both_languages(client, auth, world, lang, title):
    auth.login(world.user(world.tenant(), language=lang).email, language=lang)
    html = client.get("/guide/voicemail").get_data(as_text=True)
    assert title in html and "*97" in html


def test_user_guide_linked_from_home(client, auth, world):
    auth.login(world.user(world.tenant()).email)
    html = client.get("/home").get_data(as_text=True)
    assert "/guide/user" in html and "/guide/voicemail" in html
    assert "Guide du portail ClusterPBX" in client.get("/guide/user").get_data(as_text=True)
    assert client.get("/guide/../../etc/passwd").status_code == 404
    assert client.get("/guide/nope").status_code == 404


def test_security_headers(client):
    resp = client.get("/login")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_home_summary_of_today(client, auth, world, db):
    import datetime as dt

    from clusterpbx.control.models import CallRecord, MailboxState, NodeKind, PbxNode, utcnow

    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    tenant.timezone = "UTC"
    u = world.user(tenant, extension="201")
    now = utcnow()
    for i, (status, kind) in enumerate([("answered", "outgoing"), ("no_answer", "incoming"), ("busy", "internal")]):
        db.add(CallRecord(tenant_id=tenant.id, user_id=u.id, pbx_call_id=f"c{i}", started_at=now, status=status,
                          call_type=kind))
    db.add(CallRecord(tenant_id=tenant.id, user_id=u.id, pbx_call_id="old", started_at=now - dt.timedelta(days=3),
                      status="no_answer", call_type="incoming"))
    db.add(MailboxState(node_id=node.id, mailbox="201", new_messages=4))
    db.commit()
    auth.login(u.email)
    html = client.get("/home").get_data(as_text=True)
    assert "<strong>3</strong> appels" in html and "<strong>2</strong> appels manqués" in html
    assert "<strong>4</strong> nouveaux messages vocaux" in html
