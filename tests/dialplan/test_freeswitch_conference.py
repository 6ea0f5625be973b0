"""The personal conference of the generated FreeSWITCH dialplan, as the real FreeSWITCH 1.10 showed it must
be (tests/real/test_conference_options.py): the PIN is asked by the dialplan, so the organiser joins with
the moderator flag and none of the users' member flags (with mod_conference's own moderator PIN,
"listen only (users only)" muted the organiser too); the owner's own phone needs no PIN; "announce
join/leave" records the caller's name as the member's enter and exit sounds."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from clusterpbx.dialplan.freeswitch import xml_curl_response
from clusterpbx.dialplan.render import render_node
from tests.dialplan.sample import acme


def contexts() -> dict[str, ET.Element]:
    root = ET.fromstring(render_node(acme("freeswitch"))["dialplan_clusterpbx.xml"])
    return {c.get("name", ""): c for c in root.findall("context")}


def actions(ext: ET.Element, kind: str = "action") -> list[tuple[str, str]]:
    return [(a.get("application", ""), a.get("data", "")) for a in ext.iter(kind)]


def extension(ctx: ET.Element, name: str) -> ET.Element:
    (ext,) = [x for x in ctx.findall("extension") if x.get("name") == name]
    return ext


def test_the_pin_is_the_dialplans_and_only_users_get_the_listen_only_flag() -> None:
    ctx = contexts()
    main = extension(ctx["cpbx-acme"], "cpbx-conference")
    main_actions = actions(main)
    # no PIN of mod_conference's own: neither the moderator PIN variable nor a PIN in the room argument
    assert not any("conference_moderator_pin" in data for _app, data in main_actions)
    assert ("execute_extension", "cpbx-conf-pin XML cpbx-acme-conf") in main_actions
    assert ("execute_extension", "cpbx-conf-join XML cpbx-acme-conf") in main_actions
    listen = [data for app, data in main_actions if data.startswith("cpbx_flags=")]
    assert listen and "cpbx_conf_listen_only_users" in listen[0] and "? mute :" in listen[0]
    conf = ctx["cpbx-acme-conf"]
    pin = actions(extension(conf, "cpbx-conf-pin"))
    assert pin[0][0] == "play_and_get_digits" and "^(?:${cpbx_conf_apin}|${cpbx_conf_upin})$" in pin[0][1]
    assert pin[0][1].startswith("1 20 3 ")  # an empty entry never opens the room
    join = extension(conf, "cpbx-conf-join")
    join_actions = dict(actions(join))
    assert join_actions["set"] == "cpbx_conf_mflags=${cond(x${cpbx_conf_role} == xadmin ? moderator : ${cpbx_flags})}"
    assert join_actions["conference"] == "cpbx-acme-${cpbx_owner}@${cpbx_profile}+flags{${cpbx_conf_mflags}}"
    assert actions(join, "anti-action") == [("hangup", "")]  # no role (wrong PIN 3 times): no room
    owner = extension(conf, "cpbx-conf-owner")
    assert [c.get("field") for c in owner.findall("condition")][1] == \
        "${cond(x${cpbx_ext} == x${cpbx_owner} ? owner : other)}"
    assert dict(actions(owner))["set"] == "cpbx_conf_role=admin"


def test_join_and_leave_announcements_record_the_name_as_enter_and_exit_sounds() -> None:
    conf = contexts()["cpbx-acme-conf"]
    assert ("execute_extension", "cpbx-conf-name XML cpbx-acme-conf") in actions(extension(conf, "cpbx-conf-join"))
    name = extension(conf, "cpbx-conf-name")
    fields = [c.get("field", "") for c in name.findall("condition")]
    assert "select/cpbx_conf_announce_join_leave/${cpbx_owner}@acme.example.com" in fields[1]
    sets = [data for app, data in actions(name) if app == "set"]
    assert "conference_enter_sound=file_string://${cpbx_conf_name}!conference/conf-has_joined.wav" in sets
    assert "conference_exit_sound=file_string://${cpbx_conf_name}!conference/conf-has_left.wav" in sets
    assert ("record", "${cpbx_conf_name} 5 500 3") in actions(name)


def test_xml_curl_serves_the_conference_context() -> None:
    doc = xml_curl_response(acme("freeswitch"), {"section": "dialplan", "Hunt-Context": "cpbx-acme-conf"})
    assert 'name="cpbx-acme-conf"' in doc and "cpbx-conf-join" in doc
