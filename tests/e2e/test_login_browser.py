"""Browser test: log in, change language, log out, in headless Chromium; saves screenshots to docs/."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_language_logout(live_server, browser_page, world):
    tenant = world.tenant("demo.clusterpbx.test")
    user = world.user(tenant, email="marie.tremblay@demo.clusterpbx.test", first_name="Marie",
                      last_name="Tremblay", extension="201")
    page = browser_page
    page.goto(live_server + "/login")
    assert page.locator("label[for=email]").inner_text() == "Courriel"
    screenshot(page, "login-fr")
    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/home")
    assert page.get_by_role("heading", name="À propos de moi").is_visible()
    assert page.locator(".status").inner_text().strip() == "Statut du poste inconnu"
    screenshot(page, "home-fr")

    # Upload a profile picture through the real form, and see it on the home page.
    page.get_by_role("link", name="Mon image de profil").click()
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (29, 95, 168)).save(buf, "PNG")
    page.set_input_files("#image", files=[{"name": "moi.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    page.get_by_role("button", name="Mettre en ligne").click()
    assert page.get_by_text("Votre image de profil a été mise à jour.").is_visible()
    screenshot(page, "profile-fr")

    # Change language: the page switches at once and the choice is stored.
    page.get_by_role("button", name="English").click()
    page.get_by_role("link", name="Home").click()
    assert page.get_by_role("heading", name="About me").is_visible()
    screenshot(page, "home-en")
    page.get_by_role("link", name="Settings").click()
    page.locator(".tabs").get_by_role("link", name="Account").click()
    assert page.get_by_role("heading", name="Web portal password").is_visible()
    screenshot(page, "settings-account-en")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert page.locator("label[for=email]").inner_text() == "E-mail"
    screenshot(page, "login-en")
    page.goto(live_server + "/home")
    page.wait_for_url("**/login**")
