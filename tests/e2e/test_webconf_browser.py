"""Browser test of Conférence en ligne in French (Jitsi) and English (Zoom, through the local Zoom
server): "Accéder à la conférence", the invitation link copied by the static script, usage shown;
screenshots docs/screenshots/webconf-fr.png and webconf-en.png."""

from __future__ import annotations

import datetime as dt

import pytest

from clusterpbx.control import urlpolicy
from clusterpbx.control.models import WebMeeting, WebMeetingSession, utcnow
from clusterpbx.control.webconf import forget_zoom_tokens
from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot
from tests.webconf.zoom_server import ZoomServer

pytestmark = pytest.mark.browser


def _login(page, base, email):
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_webconf_french_jitsi(live_server, browser_page, world, db):
    tenant = world.tenant("demo.clusterpbx.test", webconf_config={
        "domain": "meet.demo.clusterpbx.test", "app_id": "clusterpbx",
        "app_secret": "demo-secret-0123456789abcdef0123456789", "billed_by": "Modulis"})
    user = world.user(tenant, email="marie.tremblay@demo.clusterpbx.test", first_name="Marie",
                      last_name="Tremblay", extension="201")
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    _login(page, live_server, user.email)
    page.get_by_role("link", name="Conférence en ligne").first.click()
    page.wait_for_url("**/webconf/")
    assert page.locator("h1").inner_text() == "Conférence en ligne"
    assert "vous permet de créer des conférences web Jitsi Meet avec partage d'écran" in page.inner_text("main")
    assert page.locator("#invite-link").count() == 0
    page.get_by_role("button", name="Accéder à la conférence").click()
    join = page.locator("#join-link")
    href = join.get_attribute("href") or ""
    assert href.startswith("https://meet.demo.clusterpbx.test/cpbx-") and "?jwt=" in href
    assert join.get_attribute("target") == "_blank"
    invite = page.locator("#invite-link").input_value()
    assert invite.startswith(href.split("?")[0] + "?jwt=")
    # The copy button comes from webconf.js (hidden without scripts) and puts the link on the clipboard.
    page.get_by_role("button", name="Copier le lien").click()
    page.wait_for_function("document.getElementById('invite-hint').textContent === 'Lien copié'")
    assert page.evaluate("navigator.clipboard.readText()") == invite
    assert "1 conférence" in page.locator("#usage-summary").inner_text()
    screenshot(page, "webconf-fr")
    page.fill("#addresses", "jp.vallee@demo.clusterpbx.test, <script>")
    page.get_by_role("button", name="Envoyer l'invitation").click()
    alert = page.get_by_role("alert")
    assert "Adresse courriel non valide : <script>" in alert.inner_text()
    assert page.evaluate("document.querySelectorAll('main script:not([src])').length") == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_webconf_english_zoom(live_server, browser_page, world, db):
    # The local Zoom is on loopback over http: allowed explicitly (outbound_allow_http/_private).
    with urlpolicy.configured(urlpolicy.UrlPolicy(allow_http=True, allow_private=True)):
        forget_zoom_tokens()
        zoom = ZoomServer().start()
        try:
            tenant = world.tenant("demo.clusterpbx.test", webconf_provider="zoom",
                                  webconf_config=zoom.config(billed_by="Modulis"))
            user = world.user(tenant, email="emma.wilson@demo.clusterpbx.test", first_name="Emma", last_name="Wilson",
                              extension="204", language="en")
            page = browser_page
            _login(page, live_server, user.email)
            page.goto(live_server + "/webconf/")
            # An English user stays in English although the browser is French (logging in keeps it).
            assert page.locator("h1").inner_text() == "Online conference"
            page.get_by_role("button", name="Access the conference").click()
            assert page.locator("#join-link").get_attribute("href") == "https://acme.zoom.us/s/85746065432?zak=zakSecret"
            assert page.locator("#invite-link").input_value() == "https://acme.zoom.us/j/85746065432?pwd=pwdHash"
            assert page.locator("#meeting-password").inner_text() == "Ab12cd"
            # Two meetings held earlier this month, as Zoom reported them.
            meeting = db.query(WebMeeting).one()
            start = max(utcnow().replace(day=1, hour=13, minute=0, second=0, microsecond=0),
                        utcnow() - dt.timedelta(hours=3))
            for i, minutes in enumerate((42, 15)):
                db.add(WebMeetingSession(meeting_id=meeting.id, uuid=f"u{i}==", started_at=start + dt.timedelta(hours=i),
                                         ended_at=start + dt.timedelta(hours=i, minutes=minutes), minutes=minutes))
            db.commit()
            page.goto(live_server + "/webconf/")
            assert page.locator("#usage-summary").inner_text() == "2 conferences · 57 minutes"
            assert page.locator("#usage-table tbody tr").count() == 2
            page.get_by_role("button", name="Access the conference").click()
            assert page.locator("#join-link").count() == 1
            screenshot(page, "webconf-en")
        finally:
            zoom.stop()
            forget_zoom_tokens()
