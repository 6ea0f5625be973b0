"""Every way a user can make the PBX dial a number of their choosing goes through the one check of
their allowed destinations (control.callsettings.check_destination): click-to-call from the portal
and the API, forwards, follow-me, speed-dial keys and SMS refuse the same number, and accept the same
allowed one. Issue 22 item 1: click-to-call used to skip it (toll fraud)."""

from __future__ import annotations

import html as htmllib

import pytest

from clusterpbx.control import sms
from clusterpbx.control.callsettings import (
    CallSettingsInput,
    SettingRefused,
    SettingsRefused,
    check_click_to_call,
    save_call_settings,
)
from clusterpbx.control.models import DestinationGroup, DestinationPrefix
from clusterpbx.provisioning.keys import KeyRow, validate_rows
from tests.api.conftest import Api, user_token

FRANCE = "+33612345678"
MONTREAL = "5149079050"


@pytest.fixture
def mamadou(db, world):
    """Allowed only Canada (1) and local Montréal (514), like the demo's Mamadou Koné."""
    tenant = world.tenant("acme.test", timezone="America/Montreal")
    user = world.user(tenant, email="mamadou@acme.test", extension="203")
    for name, prefix in (("Canada", "1"), ("Montréal", "514")):
        group = DestinationGroup(tenant_id=tenant.id, name=name)
        db.add(group)
        db.flush()
        db.add(DestinationPrefix(group_id=group.id, prefix=prefix))
        user.destination_groups.append(group)
    db.commit()
    return user


def settings(**kw):
    base = dict(call_waiting=True, dnd=False, followme_enabled=False, followme_numbers=[], followme_confirm=False,
                followme_delay=20, forward_always="", forward_busy="", forward_noanswer="",
                forward_noanswer_delay=20, language="fr")
    base.update(kw)
    return CallSettingsInput(**base)


def test_the_domain_check_refuses_and_accepts_like_every_other_path(db, mamadou):
    with pytest.raises(SettingRefused) as refused:
        check_click_to_call(db, mamadou, FRANCE)
    assert refused.value.code == "not_allowed" and "Montréal" in refused.value.params["rule"]
    assert check_click_to_call(db, mamadou, "514 907 9050") == MONTREAL
    assert check_click_to_call(db, mamadou, "203") == "203"  # an extension of the company
    for raw in ("", "   ", "514\r\nAction: Originate"):
        with pytest.raises(SettingRefused):
            check_click_to_call(db, mamadou, raw)


def test_a_plus_is_neither_part_of_the_number_nor_of_the_prefix(db, mamadou):
    """A group may list +33 (the admin screen accepts "an optional + first"): it allows +33... and 33...
    as 33 does, and as the generated dialplans compare (the number's and the prefix's "+" dropped);
    it was compared with the number's digits "+" included, so it allowed nothing."""
    with pytest.raises(SettingRefused):
        check_click_to_call(db, mamadou, FRANCE)
    group = DestinationGroup(tenant_id=mamadou.tenant_id, name="France")
    db.add(group)
    db.flush()
    db.add(DestinationPrefix(group_id=group.id, prefix="+33"))
    mamadou.destination_groups.append(group)
    db.commit()
    assert check_click_to_call(db, mamadou, FRANCE) == FRANCE
    assert check_click_to_call(db, mamadou, "33612345678") == "33612345678"
    assert check_click_to_call(db, mamadou, "+15149079050") == "+15149079050"  # Canada's 1, "+" first
    with pytest.raises(SettingRefused):
        check_click_to_call(db, mamadou, "+44612345678")


def test_every_dial_path_refuses_the_same_number(db, mamadou):
    for field in ("forward_always", "forward_busy", "forward_noanswer"):
        with pytest.raises(SettingsRefused) as refused:
            save_call_settings(db, mamadou, settings(**{field: FRANCE}))
        assert [e.code for e in refused.value.errors] == ["not_allowed"], field
    db.rollback()
    with pytest.raises(SettingsRefused):
        save_call_settings(db, mamadou, settings(followme_enabled=True, followme_numbers=[FRANCE]))
    db.rollback()
    _rows, errors = validate_rows(db, mamadou, [KeyRow("line", "", ""), KeyRow("speed", FRANCE, "Paris")], 10)
    assert [e.code for e in errors] == ["destination"]
    with pytest.raises(sms.SmsRefused) as refused_sms:
        sms.check_allowed(db, mamadou, FRANCE)
    assert refused_sms.value.code == "not_allowed"
    with pytest.raises(SettingRefused):
        check_click_to_call(db, mamadou, FRANCE)


def test_portal_click_to_call_refuses_a_number_outside_the_allowed_destinations(client, auth, mamadou):
    auth.login(mamadou.email)
    token = auth.csrf("/calls/")
    resp = client.post("/calls/call", data={"csrf_token": token, "number": FRANCE}, follow_redirects=True)
    text = htmllib.unescape(resp.get_data(as_text=True))
    assert "Numéro à appeler: +33612345678 ne fait pas partie de vos destinations possibles" in text, text
    assert "Votre téléphone sonne" not in text and "injoignable" not in text  # refused before the daemon is asked
    # An allowed number goes on to the daemon (which is down in this test, and says so).
    resp = client.post("/calls/call", data={"csrf_token": token, "number": MONTREAL}, follow_redirects=True)
    text = htmllib.unescape(resp.get_data(as_text=True))
    assert "destinations possibles" not in text
    assert "injoignable" in text or "ne peut pas être joint" in text


def test_api_click_to_call_refuses_a_number_outside_the_allowed_destinations(app, db, mamadou):
    api = Api(app.test_client(), user_token(db, mamadou))
    resp = api.post("/api/v1/me/click-to-call", {"number": FRANCE})
    assert resp.status_code == 400, resp.data
    assert "not in your allowed destinations" in resp.get_json()["errors"]["number"]
    allowed = api.post("/api/v1/me/click-to-call", {"number": MONTREAL})
    assert allowed.status_code == 503  # passed the check; the daemon is not running here
