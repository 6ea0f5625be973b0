"""What the real FreeSWITCH 1.10.12 of the lab showed about the generated files (tests/real/
test_freeswitch_calls*.py), kept in the ordinary suite: follow-me confirmation only on the follow-me legs,
no conference control on #, no TTS engine the builds lack."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from clusterpbx.dialplan.render import render_node
from tests.dialplan.sample import acme


def files() -> dict[str, str]:
    return render_node(acme("freeswitch"))


def test_followme_confirmation_is_set_on_the_followme_legs_not_on_the_callers_leg():
    root = ET.fromstring(files()["dialplan_clusterpbx.xml"])
    for ext in root.iter("extension"):
        if ext.get("name") != "cpbx-followme":
            continue
        actions = [a.get("data", "") for a in ext.iter("action") if a.get("application") == "set"]
        # on the caller's leg they applied to every leg (the user's own phones too) and mod_loopback handed
        # them on to loopback-b as well: the prompt played again and again, one press did not connect
        assert not [a for a in actions if a.startswith("group_confirm")]
        (devices,) = [a for a in actions if a.startswith("cpbx_devices=")]
        legs = devices.split("loopback/")
        assert len(legs) == 3  # ${cpbx_devices}, the first number, the others (replace)
        for options in legs[:2]:
            assert options.endswith(",group_confirm_key=${cpbx_fm_key},"
                                    "group_confirm_file=ivr/ivr-accept_reject_voicemail.wav]"), options


def test_no_conference_control_is_bound_to_hash():
    # mod_conference reads a PIN for exactly its length: the # pressed after it reaches the controls
    root = ET.fromstring(files()["conference_controls_clusterpbx.xml"])
    digits = {(g.get("name"), c.get("action")): c.get("digits") for g in root.iter("group") for c in g.iter("control")}
    assert digits and "#" not in digits.values()
    assert digits[("cpbx-menu", "hangup")] == "*0"


def test_conference_profiles_name_no_tts_engine():
    root = ET.fromstring(files()["conference_profiles_clusterpbx.xml"])
    params = {(p.get("name"), q.get("name")): q.get("value") for p in root.iter("profile") for q in p.iter("param")}
    assert params[("cpbx-count", "announce-count")] == "2"
    assert not [k for k in params if k[1].startswith("tts-")]
