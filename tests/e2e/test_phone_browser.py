"""Browser test of Mon téléphone and Mon softphone in both languages; screenshots into docs/screenshots/."""

from __future__ import annotations

import pytest

from clusterpbx.control.models import DestinationGroup, DestinationPrefix, Device
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_phone_and_softphone_screens(app, live_server, browser_page, world, db):
    settings = app.config["CLUSTERPBX"]
    settings.control_url, settings.control_timeout = "http://127.0.0.1:9", 0.5  # daemon down
    tenant = world.tenant("demo.clusterpbx.test")
    group = DestinationGroup(tenant_id=tenant.id, name="Local Montréal",
                             prefixes=[DestinationPrefix(prefix="514"), DestinationPrefix(prefix="438")])
    db.add(group)
    db.commit()
    user = world.user(tenant, email="marie.tremblay@demo.clusterpbx.test", first_name="Marie",
                      last_name="Tremblay", extension="201", can_use_blf=True)
    user.destination_groups = [group]
    world.user(tenant, first_name="JP", last_name="Vallée", extension="202")
    db.add(Device(tenant_id=tenant.id, user_id=user.id, mac="0015651a2b3c", vendor="yealink", model="T46S"))
    db.commit()
    page = browser_page
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")

    page.get_by_role("link", name="Mon téléphone").click()
    page.wait_for_url("**/phone/")
    assert page.get_by_text("Yealink T46S, 27 boutons programmables").is_visible()
    page.get_by_role("button", name="Ajouter bouton").click()  # first row: the main line
    page.get_by_role("button", name="Ajouter bouton").click()
    page.select_option("#kind-1", "blf")
    page.fill("#value-1", "202")
    page.fill("#label-1", "JP Vallée")
    page.get_by_role("button", name="Ajouter bouton").click()
    page.fill("#value-2", "33 1 23 45 67 89")
    page.fill("#label-2", "Paris")
    page.locator(".save-row").get_by_role("button", name="Enregistrer").click()
    assert page.get_by_text("ne fait pas partie de vos destinations possibles").is_visible()
    page.fill("#value-2", "514 907-9050")
    page.fill("#label-2", "Réception")
    page.locator(".save-row").get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**/phone/")
    assert page.get_by_text("Enregistré. Utilisez").is_visible()
    assert page.locator("#value-2").input_value() == "5149079050"
    page.get_by_role("button", name="Monter le bouton #3").click()
    assert page.locator("#label-1").input_value() == "Réception"
    screenshot(page, "phone-fr")
    page.get_by_role("link", name="Resynchroniser le téléphone").click()
    page.wait_for_url("**/phone/resync")
    assert page.get_by_text("les modifications non enregistrées").is_visible()
    screenshot(page, "phone-resync-fr")
    page.get_by_role("button", name="Resynchroniser maintenant").click()
    page.wait_for_url("**/phone/")
    assert page.get_by_text("Le système téléphonique est injoignable").is_visible()
    assert page.locator("#label-1").input_value() == "JP Vallée"  # the unsaved reorder was dropped

    page.get_by_role("link", name="Mon softphone").click()
    page.wait_for_url("**/softphone/")
    assert page.locator("#linphone-qr").is_visible()
    password = user.extensions[0].sip_password
    assert page.get_by_text(password).count() == 0
    page.get_by_role("button", name="Afficher le mot de passe").click()
    assert page.locator("#sip-password").inner_text() == password
    page.get_by_text("Plus de paramètres").click()
    assert page.get_by_text("Codecs, par ordre de préférence").is_visible()
    screenshot(page, "softphone-fr")

    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="My phone").click()
    page.wait_for_url("**/phone/")
    assert page.get_by_role("button", name="Add button").is_visible()
    assert page.get_by_text("Yealink T46S, 27 programmable buttons").is_visible()
    screenshot(page, "phone-en")
    page.get_by_role("link", name="My softphone").click()
    page.get_by_text("More settings").click()
    assert page.get_by_role("heading", name="My softphone settings").is_visible()
    screenshot(page, "softphone-en")
