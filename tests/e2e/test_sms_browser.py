"""Browser test of the SMS screen in both languages: the guide's form, the live character and SMS-part
counter (sms.js), sending through the daemon, the history; screenshots into docs/screenshots/."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from clusterpbx.control.models import (
    DestinationGroup,
    DestinationPrefix,
    NodeKind,
    PbxNode,
    SmsMessage,
    utcnow,
)
from tests.conftest import PASSWORD
from tests.daemon_harness import daemon_for_app
from tests.e2e.conftest import screenshot
from tests.fakes import FakePbx

pytestmark = pytest.mark.browser


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sms_screen(app, engine, live_server, browser_page, world, db):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant("demo.clusterpbx.test", timezone="America/Montreal", sms_config={"trunk": "smstrunk"})
    tenant.node_id = node.id
    group = DestinationGroup(tenant_id=tenant.id, name="Local Montréal",
                             prefixes=[DestinationPrefix(prefix=p) for p in ("514", "438")])
    db.add(group)
    user = world.user(tenant, email="jp.vallee@demo.clusterpbx.test", first_name="JP", last_name="Vallée",
                      extension="202")
    user.destination_groups.append(group)
    # Earlier messages, one per status, for the history.
    now = utcnow()
    for i, (status, error) in enumerate([("delivered", ""), ("failed", "Twilio error 30003"), ("sent", "")]):
        db.add(SmsMessage(tenant_id=tenant.id, user_id=user.id, to_number="+14385550100", body=f"Message {i + 1}",
                          status=status, error=error, provider="pbx", created_at=now - dt.timedelta(days=3 - i)))
    db.commit()
    fake = FakePbx()
    with daemon_for_app(app, engine, fake):
        page = browser_page
        page.goto(live_server + "/login")
        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/home")
        page.get_by_role("link", name="SMS").first.click()
        page.wait_for_url("**/sms/")
        assert page.get_by_role("heading", name="Composez un SMS").is_visible()
        counter = page.locator("#sms-counter")
        page.fill("#to", "514 907-9050")
        page.fill("#body", "Patron, on vous attend dans la salle \"Etcetera\"")
        assert counter.inner_text() == "47 caractères · 1 SMS (GSM-7, 160 caractères par SMS)"
        page.fill("#body", "x" * 161)
        assert counter.inner_text() == "161 caractères · 2 SMS (GSM-7, 153 caractères par SMS)"
        page.fill("#body", "Patron, on vous attend dans la salle «Etcetera»")
        assert counter.inner_text() == "47 caractères · 1 SMS (Unicode UCS-2, 70 caractères par SMS)"
        page.get_by_role("button", name="Envoyer").click()
        page.wait_for_url("**/sms/")
        assert page.locator(".flash-success").inner_text() == "Message envoyé au +15149079050."
        rows = page.locator("table.sms-history tbody tr")
        assert rows.count() == 4
        assert "Envoyé" in rows.first.inner_text() and "«Etcetera»" in rows.first.inner_text()
        # The sender is the user's endpoint in the company's SIP domain (port.send_message, issue 21).
        assert fake.messages == [(f"202@{tenant.domain}", "+15149079050", "Patron, on vous attend dans la salle «Etcetera»",
                                  "smstrunk")]
        page.fill("#to", "514 907-9050")
        page.fill("#body", "Réunion à 14 h")
        # The guide's "Choisir une image" button opens the (visually hidden, focusable) file input.
        chosen = page.locator("#image-name")
        assert page.locator("label.file-button").inner_text() == "Choisir une image"
        assert chosen.inner_text() == "Aucune image choisie"
        with page.expect_file_chooser() as chooser:
            page.locator("label.file-button").click()
        chooser.value.set_files(files=[{"name": "salle.png", "mimeType": "image/png", "buffer": png()}])
        assert chosen.inner_text() == "salle.png"
        screenshot(page, "sms-fr")
        page.get_by_role("button", name="English").click()
        page.wait_for_url("**/sms/")
        assert page.get_by_role("heading", name="Compose an SMS").is_visible()
        page.fill("#to", "514 907-9050")
        page.fill("#body", "The meeting starts at 2 pm in room \"Etcetera\"")
        assert counter.inner_text() == "45 characters · 1 SMS (GSM-7, 160 characters per SMS)"
        assert "Delivered" in page.locator("table.sms-history").inner_text()
        screenshot(page, "sms-en")
