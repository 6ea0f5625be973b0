"""Browser test of Détails d'appels, Messagerie vocale and Appels en cours in both languages, with
screenshots into docs/screenshots/."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from clusterpbx.control.models import CallRecord, NodeKind, PbxNode, utcnow
from clusterpbx.control.port import CallState, MailboxFolder, PbxCall, VoicemailMessage
from tests.conftest import PASSWORD
from tests.daemon_harness import daemon_for_app
from tests.e2e.conftest import screenshot
from tests.fakes import FakePbx

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_calls_voicemail_live(app, engine, live_server, browser_page, world, db):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant("demo.clusterpbx.test", timezone="America/Montreal")
    tenant.node_id = node.id
    db.commit()
    user = world.user(tenant, email="demo.cluster@demo.clusterpbx.test", first_name="Demo", last_name="Cluster",
                      extension="2192")
    start = dt.datetime(2026, 9, 17, 21, 5, 25)
    for i in range(14):
        db.add(CallRecord(tenant_id=tenant.id, user_id=user.id, node_id=node.id, pbx_call_id=f"c{i}",
                          caller_name="Modulis Test", caller_number="55555",
                          dialed_number="5149079050" if i % 3 else "5149079097", callee="5149079050",
                          started_at=start - dt.timedelta(minutes=4 * i, days=i // 5), duration_seconds=40 - i % 3,
                          status="answered" if i % 4 else "no_answer", call_type="outgoing" if i % 5 else "incoming",
                          cost=Decimal("0.00")))
    db.commit()
    fake = FakePbx()
    # The call in progress comes from the PBX: the daemon's snapshot projects it into live_calls.
    fake.calls["live1"] = PbxCall(
        "live1", utcnow() - dt.timedelta(seconds=53), CallState.ANSWERED, source_number="2192",
        destination_number="5142842020", source_uri="sip:2192@office.modulis.clusterpbx.com",
        destination_uri="sip:5142842020@office.modulis", source_ip="199.182.134.109", destination_ip="199.182.133.20")
    box = f"{user.extensions[0].mailbox}@cpbx-demo"  # as the generated voicemail.conf names it
    fake.mailboxes[box] = [
        VoicemailMessage("m1", box, MailboxFolder.OLD, '"Test Modulis" <55555>', dt.datetime(2026, 5, 15, 15, 45, 5), 9),
        VoicemailMessage("m2", box, MailboxFolder.INBOX, '"JP Vallée" <219>', dt.datetime(2026, 9, 24, 14, 41, 42), 12),
        VoicemailMessage("m3", box, MailboxFolder.INBOX, '"Anonymous" <0000>', dt.datetime(2026, 9, 24, 14, 42, 36), 26),
    ]
    for m in ("m1", "m2", "m3"):
        fake.audio[m] = b"RIFF\x24\x00\x00\x00WAVEfmt "
    with daemon_for_app(app, engine, fake):
        page = browser_page
        page.goto(live_server + "/login")
        page.fill("#email", user.email)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/home")
        for lang, labels in (("fr", ("Détails d'appels", "Messagerie vocale", "Appels en cours")),
                             ("en", ("Call details", "Voicemail", "Current calls"))):
            if lang == "en":
                page.get_by_role("button", name="English").click()
            page.get_by_role("link", name=labels[0]).first.click()
            page.wait_for_url("**/calls/")
            page.fill("#start", "2026-09-01")
            page.fill("#end", "2026-09-30")
            page.locator("form.filters button[type=submit]").click()
            page.wait_for_url("**/calls/?start=*")
            assert page.locator("table.calls tbody tr").count() == 14
            assert page.locator("svg.chart").is_visible()
            screenshot(page, f"calls-{lang}")
            # The export shows its progress, then offers the file it read (the same 14 calls).
            with page.expect_download() as download:
                page.locator("a[data-export]").click()
            progress = page.locator("#export-progress")
            assert progress.is_visible()
            assert "14" in progress.locator(".export-status").inner_text()
            assert progress.locator("a.export-file").is_visible()
            assert progress.locator("progress").get_attribute("value") == "1"
            screenshot(page, f"calls-export-{lang}")
            csv_lines = Path(download.value.path()).read_text(encoding="utf-8-sig").strip().splitlines()
            assert len(csv_lines) == 1 + 14
            page.get_by_role("link", name=labels[1]).first.click()
            page.wait_for_url("**/voicemail/")
            assert page.locator("table.voicemail tbody tr").count() == 3
            screenshot(page, f"voicemail-{lang}")
            page.get_by_role("link", name=labels[2]).first.click()
            page.wait_for_url("**/live/")
            page.get_by_text("199.182.133.20").wait_for()
            page.wait_for_timeout(1200)  # durations tick in the browser
            screenshot(page, f"live-{lang}")
        # Delete a message through the real form: the daemon removes it and refreshes the light.
        page.get_by_role("link", name="Voicemail").first.click()
        page.wait_for_url("**/voicemail/")
        page.locator("input[name=message]").first.check()
        page.get_by_role("button", name="Delete voicemail").click()
        page.get_by_text("1 message(s) deleted.").wait_for()
        assert page.locator("table.voicemail tbody tr").count() == 2
        assert fake.refreshed == [box]
