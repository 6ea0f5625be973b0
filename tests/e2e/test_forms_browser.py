"""In a real browser (issue 25): the login page's language buttons translate the page at once without
touching the saved language, an empty login and an empty or oversized upload each say what is wrong,
inside the portal."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_language_and_upload_messages(live_server, browser_page, world, db):
    user = world.user(world.tenant(), email="marie@acme.test", language="fr")
    page = browser_page
    page.goto(live_server + "/login")
    assert page.locator("h1").inner_text() == "Connexion"  # the browser is fr-CA
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Log in"
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "true"

    page.click("form[novalidate] button[type=submit]")  # nothing typed
    expect(page.get_by_text("Enter your e-mail address.")).to_be_visible()

    page.fill("#email", user.email)
    page.fill("#password", PASSWORD)
    page.click("form[novalidate] button[type=submit]")
    page.wait_for_url("**/home")
    assert page.get_by_role("heading", name="Accueil").is_visible()  # the saved language, untouched
    db.refresh(user)
    assert user.language == "fr"

    page.get_by_role("link", name="Mon image de profil").click()
    page.wait_for_url("**/profile/")
    page.get_by_role("button", name="Mettre en ligne", exact=True).click()  # no file chosen
    page.wait_for_url("**/profile/upload")
    expect(page.get_by_text("Choisissez un fichier image à téléverser.")).to_be_visible()

    page.goto(live_server + "/profile/")
    page.set_input_files("#image", files=[{"name": "photo.png", "mimeType": "image/png",
                                            "buffer": b"\x89PNG" + b"x" * (6 * 1024 * 1024)}])
    with page.expect_navigation():
        page.get_by_role("button", name="Mettre en ligne", exact=True).click()
    expect(page.get_by_text("Le fichier est trop volumineux (5 Mo au maximum)")).to_be_visible()
    assert page.url.endswith("/profile/")
    assert page.locator("nav.menu").count() == 1
