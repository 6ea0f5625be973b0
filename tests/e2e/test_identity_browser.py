"""Browser test of the login page's three options (S'enregistrer, Connexion avec Gmail, Mot de passe
oublié ?) in French and English, a sign-up confirmed from the e-mail, and a Google sign-in against the local
OpenID provider, in headless Chromium; saves screenshots to docs/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import screenshot
from tests.identity.conftest import EphemeralController, Inbox, text_part
from tests.identity.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

pytestmark = pytest.mark.browser


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider(redirect_uri="set once the portal listens").start()
    yield p
    p.stop()


@pytest.fixture
def app(database_url: str, tmp_path: Path, smtp: Inbox, provider: Provider) -> Iterator[Any]:
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": {
        "database_url": database_url, "instance_path": str(tmp_path / "instance"),
        "session_cookie_secure": False, "ratelimit_storage_url": "memory://",
        "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_starttls": False,  # type: ignore[attr-defined]
        "google_client_id": CLIENT_ID, "google_client_secret": CLIENT_SECRET,
        "google_discovery_url": provider.discovery_url, "google_picture_hosts": "127.0.0.1",
        # The local provider stands in for Google on loopback: allowed here explicitly (control/urlpolicy.py).
        "outbound_allow_http": True, "outbound_allow_private": True}})
    yield app
    app.extensions["clusterpbx.mailer"].shutdown(wait=True)
    app.extensions["clusterpbx.engine"].dispose()


@pytest.fixture
def portal(app: Any, live_server: str, provider: Provider) -> str:
    # Links and the Google redirect URI come from public_url, known once the live server has its port.
    app.config["CLUSTERPBX"].public_url = live_server
    provider.client.redirect_uri = live_server + "/login/google/callback"
    return live_server


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_login_options_signup_and_forgot_in_both_languages(portal, browser_page, world, smtp):
    world.tenant("demo.clusterpbx.test", allow_self_signup=True, auto_approve_signup=True)
    page = browser_page
    page.goto(portal + "/login")
    assert page.get_by_role("link", name="S'enregistrer").is_visible()
    assert page.get_by_role("link", name="Connexion avec Gmail").is_visible()
    assert page.get_by_role("link", name="Mot de passe oublié ?").is_visible()
    screenshot(page, "login-options-fr")

    page.get_by_role("link", name="S'enregistrer").click()
    page.wait_for_url("**/signup")
    assert page.get_by_role("heading", name="S'enregistrer").is_visible()
    screenshot(page, "signup-fr")
    page.fill("#first_name", "Léa")
    page.fill("#last_name", "Gagnon")
    page.fill("#email", "lea.gagnon@demo.clusterpbx.test")
    page.fill("#password", "court")
    page.fill("#confirm_password", "court")
    page.get_by_role("button", name="S'enregistrer").click()
    assert page.get_by_text("Le mot de passe doit contenir entre 8 et 64 caractères.").is_visible()
    screenshot(page, "signup-errors-fr")
    page.fill("#password", "Bienvenue-2026")
    page.fill("#confirm_password", "Bienvenue-2026")
    page.get_by_role("button", name="S'enregistrer").click()
    page.wait_for_url("**/signup/sent")
    assert page.get_by_role("heading", name="Consultez vos courriels").is_visible()

    [msg] = smtp.wait(1)
    link = re.search(re.escape(portal) + r"/signup/confirm/\S+", text_part(msg))
    assert link
    page.goto(link.group(0))
    page.get_by_role("button", name="Confirmer mon adresse").click()
    assert page.get_by_text("Vous pouvez vous connecter dès maintenant.").is_visible()
    screenshot(page, "signup-confirmed-fr")

    page.goto(portal + "/login")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.wait_for_url("**/password/forgot")
    assert page.get_by_role("heading", name="Mot de passe oublié ?").is_visible()
    screenshot(page, "forgot-fr")

    english = page.context.browser.new_context(viewport={"width": 1200, "height": 780}, locale="en-US")
    page_en = english.new_page()
    page_en.set_default_timeout(15_000)
    page_en.goto(portal + "/login")
    assert page_en.get_by_role("link", name="Sign up").is_visible()
    assert page_en.get_by_role("link", name="Log in with Gmail").is_visible()
    assert page_en.get_by_role("link", name="Forgot your password?").is_visible()
    screenshot(page_en, "login-options-en")
    page_en.get_by_role("link", name="Sign up").click()
    assert page_en.get_by_role("heading", name="Sign up").is_visible()
    screenshot(page_en, "signup-en")
    page_en.goto(portal + "/password/forgot")
    page_en.fill("#email", "nobody@demo.clusterpbx.test")
    screenshot(page_en, "forgot-en")
    page_en.get_by_role("button", name="Send me a link").click()
    page_en.wait_for_url("**/password/forgot/sent")
    assert page_en.get_by_role("heading", name="Check your e-mail").is_visible()
    english.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_google_sign_in_and_picture(portal, browser_page, world, provider):
    tenant = world.tenant("demo.clusterpbx.test", allow_google_login=True)
    world.user(tenant, email="marie.tremblay@demo.clusterpbx.test", first_name="Marie", last_name="Tremblay")
    provider.set_identity("marie.tremblay@demo.clusterpbx.test", sub="google-marie")
    page = browser_page
    page.goto(portal + "/login")
    page.get_by_role("link", name="Connexion avec Gmail").click()
    page.wait_for_url("**/home")
    assert page.get_by_role("heading", name="À propos de moi").is_visible()
    page.get_by_role("link", name="Mon image de profil").click()
    google_choice = page.locator("input[name=source][value=google]")
    assert google_choice.is_enabled()
    google_choice.check()
    page.get_by_role("button", name="Appliquer").click()
    assert page.get_by_text("Votre image de profil a été mise à jour.").is_visible()
    screenshot(page, "profile-google-fr")

    page.get_by_role("button", name="Déconnexion").click()
    page.wait_for_url("**/login")
    provider.set_identity("quelquun@gmail.com", sub="google-stranger")
    page.get_by_role("link", name="Connexion avec Gmail").click()
    assert page.get_by_text("Aucun compte du portail n'utilise l'adresse courriel de ce compte Google.",
                            exact=False).is_visible()
    screenshot(page, "login-google-refused-fr")
