"""Répertoire: accent-insensitive search by name or department, paging through 10,000 users, the
personal directory (validated entries, only the user's own), and the phone resync through the daemon."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import insert, select

from clusterpbx.control.directory import PAGE_SIZE, company_page, fold
from clusterpbx.control.models import Extension, PersonalContact, Registration, User
from clusterpbx.control.port import RegistrationState
from tests.daemon_harness import daemon_for_app
from tests.team.conftest import csrf, page, wait_resynced


@pytest.fixture
def people(world, tenant, me):
    out = {
        "kone": world.user(tenant, first_name="Mamadou", last_name="KONE", extension="217", department="Modulis"),
        "vallee": world.user(tenant, first_name="JP", last_name="Vallée", extension="219", department="Modulis"),
        "francois": world.user(tenant, first_name="François", last_name="Lévesque", extension="220",
                               department="Comptabilité"),
        "helene": world.user(tenant, first_name="Hélène", last_name="Brière", extension="221",
                             department="Ventes"),
        "ines": world.user(tenant, first_name="Inès", last_name="Çelik", extension="222", department="Soutien"),
    }
    world.db.commit()
    return out


def names(html: str) -> list[str]:
    left = html.split('id="company-title"')[1].split('id="personal-title"')[0]
    return re.findall(r'<span class="dir-name">([^<]+)</span>', left)


def selected(html: str) -> list[str]:
    right = html.split('id="personal-title"')[1]
    return re.findall(r'<span class="dir-name">([^<]+)</span>', right)


def test_fold():
    assert fold("Vallée Brière Çelik Œuvre") == "vallee briere celik oeuvre"


def test_screen_matches_guide(client, auth, me, people):
    auth.login(me.email)
    html = page(client.get("/directory/"))
    for text in ("Rechercher nom/département", "Resynchroniser le téléphone", "Utilisateur(s) disponible(s)",
                 "Utilisateur(s) sélectionné(s)", "Mamadou KONE (217 Modulis)", "JP Vallée (219 Modulis)"):
        assert text in html, text
    assert "style=" not in html


SEARCHES = [
    ("Vallee", ["JP Vallée (219 Modulis)"]),
    ("VALLÉE", ["JP Vallée (219 Modulis)"]),
    ("vallée", ["JP Vallée (219 Modulis)"]),
    ("francois", ["François Lévesque (220 Comptabilité)"]),
    ("levesque", ["François Lévesque (220 Comptabilité)"]),
    ("helene briere", ["Hélène Brière (221 Ventes)"]),
    ("Brière", ["Hélène Brière (221 Ventes)"]),
    ("celik", ["Inès Çelik (222 Soutien)"]),
    ("comptabilite", ["François Lévesque (220 Comptabilité)"]),
    ("modulis", ["Mamadou KONE (217 Modulis)", "JP Vallée (219 Modulis)"]),
    ("100%", []),
    ("_", []),
]


def test_search_ignores_accents_and_case(client, auth, me, people):
    auth.login(me.email)
    for term, expected in SEARCHES:
        html = page(client.get("/directory/", query_string={"q": term}))
        assert names(html) == expected, term
    assert "Personne ne correspond à «100%»." in page(client.get("/directory/?q=100%25"))


def test_other_tenants_users_not_listed(client, auth, world, me, people):
    elsewhere = world.tenant("other.test")
    world.user(elsewhere, first_name="Jean", last_name="Vallée", extension="219")
    auth.login(me.email)
    assert names(page(client.get("/directory/?q=vallee"))) == ["JP Vallée (219 Modulis)"]


def test_presence_from_registrations(client, auth, db, node, me, people):
    db.add(Registration(node_id=node.id, endpoint="217", registered=True))
    db.add(Registration(node_id=node.id, endpoint="219", registered=False))
    db.commit()
    auth.login(me.email)
    html = page(client.get("/directory/?q=modulis"))
    assert 'presence-registered" role="img" aria-label="Poste connecté"' in html
    assert 'presence-unregistered" role="img" aria-label="Téléphone non connecté"' in html


def test_paging_ten_thousand_users(client, auth, db, tenant, me):
    # Bulk rows (no argon2 per user): 10,000 users with an extension each.
    base = db.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
    users = [{"id": base + i, "tenant_id": tenant.id, "email": f"bulk{i}@acme.test", "password_hash": "x",
              "first_name": f"Prénom{i:05d}", "last_name": f"Nom{i:05d}",
              "department": "Équipe paire" if i % 2 == 0 else "Équipe impaire"}
             for i in range(1, 10_001)]
    for i in range(0, len(users), 2000):
        db.execute(insert(User), users[i:i + 2000])
    exts = [{"tenant_id": tenant.id, "user_id": u["id"], "number": str(10_000 + n), "sip_username": f"b{u['id']}",
             "sip_password": "x"} for n, u in enumerate(users)]
    for i in range(0, len(exts), 2000):
        db.execute(insert(Extension), exts[i:i + 2000])
    db.commit()
    if db.bind.dialect.name == "postgresql":
        from sqlalchemy import text

        # explicit ids were inserted: move the sequence on for the rows the test creates later
        db.execute(text("SELECT setval('users_id_seq', (SELECT max(id) FROM users))"))
        db.commit()

    first = company_page(db, tenant.id, tenant.node_id)
    assert len(first.entries) == PAGE_SIZE and first.has_next
    assert first.entries[0].name == "Prénom00001 Nom00001"
    last = company_page(db, tenant.id, tenant.node_id, page=201)
    # 10,000 bulk users + Marie Tremblay, sorted by last name: Tremblay comes after every "Nom…"
    assert [e.name for e in last.entries] == ["Marie Tremblay"] and not last.has_next
    assert company_page(db, tenant.id, tenant.node_id, page=200).entries[-1].name == "Prénom10000 Nom10000"

    auth.login(me.email)
    started = time.perf_counter()
    html = page(client.get("/directory/?page=2"))
    assert names(html)[0] == "Prénom00051 Nom00051 (10050 Équipe impaire)"
    assert 'rel="next"' in html and 'rel="prev"' in html
    html = page(client.get("/directory/", query_string={"q": "equipe paire", "page": "100"}))
    assert len(names(html)) == PAGE_SIZE and 'rel="next"' not in html
    assert names(html)[-1] == "Prénom10000 Nom10000 (19999 Équipe paire)"
    html = page(client.get("/directory/", query_string={"q": "prenom09999"}))
    assert names(html) == ["Prénom09999 Nom09999 (19998 Équipe impaire)"]
    # three pages, one of them a search over every row: well under a second each when the machine is idle
    assert time.perf_counter() - started < 20  # generous: other suites may share the CPU


def test_personal_entries(client, auth, db, me, people):
    auth.login(me.email)
    token = csrf(client, "/directory/")
    kone = people["kone"]
    html = page(client.post(f"/directory/add/{kone.id}", data={"csrf_token": token}, follow_redirects=True))
    assert selected(html) == ["Mamadou KONE (217 Modulis)"]
    assert "Dans votre répertoire" in html
    client.post(f"/directory/add/{kone.id}", data={"csrf_token": token})  # twice: still one entry
    assert db.scalar(select(PersonalContact).where(PersonalContact.user_id == me.id)).ref_user_id == kone.id
    assert len(db.scalars(select(PersonalContact).where(PersonalContact.user_id == me.id)).all()) == 1

    for name, number, message in (
        ("Plombier\r\nX-Header: 1", "5145551234", "Nom: contient des caractères non permis."),
        ("Plombier", "514-555-ABCD", "Numéro: n'est pas un numéro de téléphone valide."),
        ("Plombier", "514\n5551234", "Numéro: contient des caractères non permis."),
        ("", "5145551234", "Nom: est obligatoire."),
        ("x" * 121, "5145551234", "Nom: est trop long."),
    ):
        html = page(client.post("/directory/external", data={"csrf_token": token, "name": name, "number": number},
                                follow_redirects=True))
        assert message in html, (name, number)
    assert len(db.scalars(select(PersonalContact).where(PersonalContact.user_id == me.id)).all()) == 1

    html = page(client.post("/directory/external", data={"csrf_token": token, "name": "Demo Cluster",
                                                          "number": "(514) 555-2192"}, follow_redirects=True))
    assert "Demo Cluster (5145552192)" in selected(html)
    pc = db.scalar(select(PersonalContact).where(PersonalContact.name == "Demo Cluster"))
    html = page(client.post(f"/directory/remove/{pc.id}", data={"csrf_token": token}, follow_redirects=True))
    assert selected(html) == ["Mamadou KONE (217 Modulis)"]


def test_other_users_contacts_unreachable(client, auth, db, world, me, other, people):
    theirs = PersonalContact(user_id=other.id, name="Secret Contact", number="5145550000")
    db.add(theirs)
    db.commit()
    auth.login(me.email)
    html = page(client.get("/directory/"))
    assert "Secret Contact" not in html
    token = csrf(client, "/directory/")
    assert client.post(f"/directory/remove/{theirs.id}", data={"csrf_token": token}).status_code == 404
    assert db.get(PersonalContact, theirs.id) is not None
    # a user of another tenant cannot be picked
    elsewhere = world.tenant("other.test")
    stranger = world.user(elsewhere, first_name="Jean", last_name="Autre", extension="219")
    assert client.post(f"/directory/add/{stranger.id}", data={"csrf_token": token}).status_code == 404
    assert client.post("/directory/add/999999", data={"csrf_token": token}).status_code == 404
    # without the CSRF token nothing happens
    client.post(f"/directory/add/{people['kone'].id}", data={})
    assert db.scalars(select(PersonalContact).where(PersonalContact.user_id == me.id)).all() == []


def test_resync_through_daemon(app, engine, client, auth, me, fake):
    auth.login(me.email)
    token = csrf(client, "/directory/")
    # no daemon: a clear message, nothing lost
    html = page(client.post("/directory/resync", data={"csrf_token": token}, follow_redirects=True))
    assert "Le système téléphonique est injoignable" in html
    fake.regs["201"] = RegistrationState("201", True)
    with daemon_for_app(app, engine, fake) as daemon:
        wait_resynced(daemon)
        html = page(client.post("/directory/resync", data={"csrf_token": token}, follow_redirects=True))
    assert [ep for ep, _v in fake.notifies] == ["201"]
    assert "recharger sa configuration" in html or "Votre téléphone" in html
