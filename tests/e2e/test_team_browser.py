"""Browser test of Mes files d'attente, Répertoire and Conférence personnelle in both languages, with a
real control daemon on a fake PBX; screenshots into docs/screenshots/."""

from __future__ import annotations

import pytest

from clusterpbx.control.models import (
    NodeKind,
    PauseReason,
    PbxNode,
    PersonalContact,
    Queue,
    QueueMembership,
    QueueMemberState,
    Registration,
)
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.control.port import ConferenceParticipant
from tests.conftest import PASSWORD
from tests.daemon_harness import daemon_for_app
from tests.e2e.conftest import screenshot
from tests.fakes import FakePbx
from tests.team.conftest import wait_resynced

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_team_screens(live_server, browser_page, app, engine, world, db):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.commit()
    tenant = world.tenant("demo.clusterpbx.test")
    tenant.node = node
    db.commit()
    me = world.user(tenant, email="modulis.test@demo.clusterpbx.test", first_name="Modulis", last_name="Test",
                    extension="55555", department="Modulis")
    kone = world.user(tenant, first_name="Mamadou", last_name="KONE", extension="217", department="Modulis")
    world.user(tenant, first_name="JP", last_name="Vallée", extension="219", department="Modulis")
    demo = world.user(tenant, first_name="Demo", last_name="Cluster", extension="2192", department="Modulis")
    soutien = Queue(tenant_id=tenant.id, name="soutien", label="Soutien", number="800")
    ventes = Queue(tenant_id=tenant.id, name="ventes", label="Ventes", number="801")
    db.add_all([soutien, ventes, PauseReason(tenant_id=tenant.id, label="Dîner"),
                PauseReason(tenant_id=tenant.id, label="Réunion"),
                PersonalContact(user_id=me.id, ref_user_id=demo.id, name="Demo Cluster"),
                Registration(node_id=node.id, endpoint="217", registered=True)])
    db.flush()
    db.add_all([QueueMembership(queue_id=soutien.id, user_id=me.id),
                QueueMembership(queue_id=ventes.id, user_id=me.id)])
    db.commit()
    fake = FakePbx()
    fake.rooms["cpbx-demo-55555"] = [
        ConferenceParticipant("PJSIP/217-00000001", "217", "Mamadou KONE"),
        ConferenceParticipant("PJSIP/5145551234-00000002", "5145551234", "", muted=True)]

    with daemon_for_app(app, engine, fake) as daemon:
        wait_resynced(daemon)
        page = browser_page
        page.goto(live_server + "/login")
        page.fill("#email", me.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/home")

        # Mes files d'attente: log in to Soutien; the phone paused Ventes on its own
        page.get_by_role("link", name="Mes Files d'attente").click()
        page.wait_for_url("**/queues/")
        assert page.get_by_text("Hors-ligne, votre poste n'est pas connecté à la file d'attente.").is_visible()
        page.get_by_role("button", name="Se connecter à la file — Soutien").click()
        page.wait_for_url("**/queues/")
        assert page.get_by_text("Enregistré et appliqué sur le système téléphonique.").is_visible()
        iface = PbxNames.for_tenant(db, tenant).member(me.primary_extension)
        assert ("cpbx-demo-soutien", iface) in fake.members
        db.add_all([QueueMemberState(node_id=node.id, queue="cpbx-demo-soutien", interface=iface),
                    QueueMemberState(node_id=node.id, queue="cpbx-demo-ventes", interface=iface,
                                     paused=True, pause_reason="Réunion")])
        db.commit()
        page.reload()
        assert page.locator("tr.q-connected", has_text="Soutien").is_visible()
        assert page.locator("tr.q-paused", has_text="Ventes").is_visible()
        page.select_option("#reason-" + str(db.query(QueueMembership).filter_by(queue_id=soutien.id).one().id),
                           label="Dîner")
        screenshot(page, "queues-fr")

        # Répertoire: accent-insensitive search, pick a colleague
        page.get_by_role("link", name="Répertoire").click()
        page.wait_for_url("**/directory/")
        page.fill("#q", "vallee")
        page.get_by_role("button", name="Rechercher").click()
        assert page.locator(".dir-name", has_text="JP Vallée (219 Modulis)").is_visible()
        page.get_by_role("button", name="Ajouter JP Vallée (219 Modulis)").click()
        assert page.locator("#personal-title + ul .dir-name", has_text="JP Vallée (219 Modulis)").is_visible()
        page.get_by_role("link", name="Effacer la recherche").click()
        page.fill("#ext-name", "Plombier")
        page.fill("#ext-number", "514 555-1234")
        page.get_by_role("button", name="Ajouter", exact=True).click()
        assert page.locator(".dir-name", has_text="Plombier (5145551234)").is_visible()
        assert page.locator(".dir-name", has_text=f"Mamadou KONE ({kone.extensions[0].number} Modulis)").is_visible()
        screenshot(page, "directory-fr")

        # Conférence personnelle: turn it on, see who is in the room, mute someone
        page.get_by_role("link", name="Conférence personnelle").click()
        page.wait_for_url("**/conference/")
        assert page.get_by_text("Lorsque activée, composez *9955555 pour rejoindre votre conférence "
                                "personnelle.").is_visible()
        page.check("#enabled")
        page.fill("#admin_pin", "12345")
        page.fill("#user_pin", "12345")
        page.get_by_role("button", name="Appliquer", exact=True).click()
        assert page.get_by_text("le NIP Utilisateur doit être différent du NIP Admin").is_visible()
        page.fill("#user_pin", "0000")
        page.get_by_role("button", name="Appliquer", exact=True).click()
        page.wait_for_url("**/conference/")
        assert page.locator("table.participants th", has_text="Mamadou KONE (217)").is_visible()
        page.get_by_role("button", name="Sourdine Mamadou KONE (217)").click()
        assert page.get_by_text("Participant mis en sourdine.").is_visible()
        page.locator("details.info-toggle").nth(4).locator("summary").click()
        assert page.get_by_text("Les participants patientent en musique").is_visible()
        screenshot(page, "conference-fr")

        page.get_by_role("button", name="English").click()
        page.get_by_role("link", name="My queues").click()
        page.wait_for_url("**/queues/")
        assert page.get_by_text("Connected to the queue but paused.").is_visible()
        screenshot(page, "queues-en")
        page.get_by_role("link", name="Directory").click()
        page.wait_for_url("**/directory/")
        assert page.get_by_role("heading", name="Selected user(s)").is_visible()
        screenshot(page, "directory-en")
        page.get_by_role("link", name="Personal conference").click()
        page.wait_for_url("**/conference/")
        assert page.get_by_text("Enable my personal conference").is_visible()
        page.locator("details.info-toggle").nth(0).locator("summary").click()
        screenshot(page, "conference-en")
