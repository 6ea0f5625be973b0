"""Browser test of the three Paramètres tabs in both languages; screenshots into docs/screenshots/."""

from __future__ import annotations

import datetime as dt

import pytest

from clusterpbx.control.models import DestinationGroup, DestinationPrefix
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_settings_tabs(live_server, browser_page, world, db):
    tenant = world.tenant("demo.clusterpbx.test")
    groups = [DestinationGroup(tenant_id=tenant.id, name=n, prefixes=[DestinationPrefix(prefix=p) for p in ps])
              for n, ps in (("Local Montréal", ["514", "438"]), ("Sans frais", ["1800", "1888"]))]
    db.add_all(groups)
    db.commit()
    user = world.user(tenant, email="marie.tremblay@demo.clusterpbx.test", first_name="Marie",
                      last_name="Tremblay", extension="201")
    user.destination_groups = groups
    db.commit()
    page = browser_page
    page.goto(live_server + "/login")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")

    page.get_by_role("link", name="Paramètres").click()
    page.wait_for_url("**/settings/advanced")
    page.check("#dnd")
    page.fill("#forward_busy", "33 1 23 45 67 89")
    page.get_by_role("button", name="Enregistrer").click()
    assert page.get_by_text("ne fait pas partie de vos destinations possibles").is_visible()
    page.fill("#forward_busy", "514 907-9050")
    page.get_by_role("button", name="Enregistrer").click()
    page.wait_for_url("**/settings/advanced")
    assert page.get_by_text("votre modification est en attente").is_visible()
    page.get_by_text("Plus d'infos").click()
    assert page.get_by_text("1800, 1888").is_visible()
    screenshot(page, "settings-advanced-fr")

    page.locator(".tabs").get_by_role("link", name="Messagerie Vocale").click()
    page.check("#ooo_enabled")
    start, last = (str(dt.date.today() + dt.timedelta(days=d)) for d in (17, 26))  # ahead of today
    page.fill("#ooo_start", start)
    page.fill("#ooo_last_day", last)
    page.get_by_role("button", name="Enregistrer").first.click()
    page.wait_for_url("**/settings/voicemail")
    assert page.locator("#ooo_start").input_value() == start
    screenshot(page, "settings-voicemail-fr")
    page.get_by_role("link", name="Compte").click()
    screenshot(page, "settings-account-fr")

    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Advanced settings").click()
    assert page.get_by_role("heading", name="Call settings").is_visible()
    screenshot(page, "settings-advanced-en")
    page.locator(".tabs").get_by_role("link", name="Voicemail").click()
    assert page.get_by_role("heading", name="Automatic out-of-office reply").is_visible()
    screenshot(page, "settings-voicemail-en")
