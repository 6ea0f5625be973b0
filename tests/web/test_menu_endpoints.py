"""The menu and the settings tabs list every screen of the guide, unconditionally: a screen that lost its
endpoint shows up as a failing link and a failing test, never as an entry that quietly leaves the menu
(issue 23 item 7)."""

from __future__ import annotations

import html as htmllib

from flask import url_for

from clusterpbx.web import MENU
from clusterpbx.web.settings import TABS


def test_every_menu_entry_and_settings_tab_has_its_screen(app):
    missing = [endpoint for endpoint, _label in [*MENU, *TABS] if endpoint not in app.view_functions]
    assert missing == []


def test_the_menu_links_every_screen_of_the_guide(app, client, auth, world):
    u = world.user(world.tenant(), language="en")
    auth.login(u.email, language="en")
    page = htmllib.unescape(client.get("/home").get_data(as_text=True))
    with app.test_request_context():
        links = [url_for(endpoint) for endpoint, _label in MENU]
    assert [href for href in links if f'href="{href}"' not in page] == []


def test_a_screen_without_its_view_still_has_its_menu_entry(app, client, auth, world):
    """Before, an entry whose endpoint was missing simply disappeared, hiding the breakage."""
    u = world.user(world.tenant(), language="en")
    auth.login(u.email, language="en")
    with app.test_request_context():
        sms, voicemail_tab = url_for("sms.index"), url_for("settings.voicemail")
    app.view_functions.pop("sms.index")
    app.view_functions.pop("settings.voicemail")
    assert f'href="{sms}"' in client.get("/home").get_data(as_text=True)
    assert f'href="{voicemail_tab}"' in client.get("/settings/account").get_data(as_text=True)
