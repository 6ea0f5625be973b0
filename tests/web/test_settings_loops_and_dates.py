"""Paramètres: a forward to one's own extension (a loop) and an absence already over are refused with a
clear message in the user's language; a language change is confirmed in the new language."""

from __future__ import annotations

import datetime as dt
import html as htmllib

import pytest

from clusterpbx.control.models import CallSettings, VoicemailSettings

BASE = {"call_waiting": "y", "followme_numbers": "", "followme_delay": "20", "forward_always": "",
        "forward_busy": "", "forward_noanswer": "", "forward_noanswer_delay": "20", "language": "fr"}


def post(client, auth, path, data, page):
    return client.post(path, data={**data, "csrf_token": auth.csrf(page)})


def text(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


@pytest.mark.parametrize("field", ["forward_always", "forward_busy", "forward_noanswer", "followme_numbers"])
def test_forward_to_own_extension_is_refused(client, auth, db, world, field):
    tenant = world.tenant()
    user = world.user(tenant, extension="201")
    world.user(tenant, extension="202")
    auth.login(user.email)
    data = {**BASE, field: "201"}
    if field == "followme_numbers":
        data["followme_enabled"] = "y"
    resp = post(client, auth, "/settings/advanced", data, "/settings/advanced")
    assert resp.status_code == 400
    assert "201 est votre propre poste" in text(resp)
    db.expire_all()
    cs = db.get(CallSettings, user.id)
    assert cs is None or not (cs.forward_always or cs.forward_busy or cs.forward_noanswer or cs.followme_numbers)
    # Another extension of the company is fine.
    assert post(client, auth, "/settings/advanced", {**data, field: "202"}, "/settings/advanced").status_code == 302


def test_forward_loop_message_in_english(client, auth, world):
    user = world.user(world.tenant(), extension="201", language="en")
    auth.login(user.email)
    resp = post(client, auth, "/settings/advanced", {**BASE, "language": "en", "forward_always": "201"},
                "/settings/advanced")
    assert "201 is your own extension" in text(resp)


VM = {"email_use_login": "y", "email_attach": "y", "email_address": ""}


def test_absence_entirely_in_the_past_is_refused(client, auth, db, world):
    user = world.user(world.tenant(), extension="201")
    auth.login(user.email)
    today = dt.date.today()
    past = {**VM, "ooo_enabled": "y", "ooo_start": (today - dt.timedelta(days=20)).isoformat(),
            "ooo_last_day": (today - dt.timedelta(days=10)).isoformat()}
    resp = post(client, auth, "/settings/voicemail/options", past, "/settings/voicemail")
    assert resp.status_code == 400 and "Cette absence est déjà terminée" in text(resp)
    db.expire_all()
    assert not (db.get(VoicemailSettings, user.id) or VoicemailSettings()).ooo_enabled
    # Ending today, or a past absence that is switched off, is accepted.
    ok = {**past, "ooo_last_day": (today + dt.timedelta(days=1)).isoformat()}
    assert post(client, auth, "/settings/voicemail/options", ok, "/settings/voicemail").status_code == 302
    off = {k: v for k, v in past.items() if k != "ooo_enabled"}
    assert post(client, auth, "/settings/voicemail/options", off, "/settings/voicemail").status_code == 302


def test_language_change_is_confirmed_in_the_new_language(client, auth, world):
    user = world.user(world.tenant(), extension="201", language="fr")
    auth.login(user.email)
    resp = post(client, auth, "/settings/advanced", {**BASE, "language": "en"}, "/settings/advanced")
    assert resp.status_code == 302
    html = text(client.get("/settings/advanced"))
    assert "Saved" in html and "Enregistré" not in html
