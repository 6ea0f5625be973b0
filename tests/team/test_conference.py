"""Conférence personnelle: PIN and size rules, saving as pending and applying through the daemon, the
options landing on the right ConfBridge / mod_conference fields of the generated configuration, and
the live room (list, kick, mute) reachable only by its owner."""

from __future__ import annotations

import re

import pytest

from clusterpbx.control.conference import pbx_entries, room_name
from clusterpbx.control.models import NodeKind, PbxNode, PersonalConference, SyncState
from clusterpbx.control.port import ConferenceParticipant
from clusterpbx.dialplan.from_db import node_snapshot
from clusterpbx.dialplan.render import render_node
from tests.daemon_harness import daemon_for_app
from tests.team.conftest import csrf, page, wait_resynced

OPTIONS = ("announce_count", "announce_join_leave", "music_on_hold", "star_menu", "wait_for_admin", "listen_only")


def checked_boxes(html: str) -> set[str]:
    tags = [t for t in re.findall(r"<input [^>]*>", html) if 'type="checkbox"' in t]
    return {re.search(r' id="(\w+)"', t).group(1) for t in tags if re.search(r"\schecked[\s>]", t)}


def form(token, **kw):
    data = {"csrf_token": token, "action": "apply", "enabled": "y", "admin_pin": "12345", "user_pin": "0000",
            "max_members": "15", "announce_count": "y", "music_on_hold": "y", "star_menu": "y"}
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def test_screen_matches_guide(client, auth, me):
    auth.login(me.email)
    html = page(client.get("/conference/"))
    for text in ("Activer ma conférence personnelle",
                 "Lorsque activée, composez *99201 pour rejoindre votre conférence personnelle.",
                 "Ma conférence personnelle", "NIP Admin:", "NIP Utilisateur:",
                 "Nombre maximum d'utilisateurs (incluant Admin):", "Options",
                 "Annoncer le nombre de participants", "Annoncer l'arrivée/départ d'un participant",
                 "Attente musicale", "Écouter les options sur pression de la touche *",
                 "Attendre l'arrivée de l'administrateur pour commencer",
                 "Mode écoute uniquement (utilisateurs seulement)", "Réinitialiser les options", "Appliquer"):
        assert text in html, text
    # every option has its help text, tied to the checkbox
    for name in OPTIONS:
        assert f'aria-describedby="help-{name}"' in html and f'id="help-{name}"' in html
    assert "style=" not in html and "onclick" not in html


@pytest.mark.parametrize("changes, message", [
    ({"admin_pin": "12a45"}, "NIP Admin: le NIP ne doit contenir que des chiffres."),
    ({"user_pin": "１２３４"}, "NIP Utilisateur: le NIP ne doit contenir que des chiffres."),
    ({"admin_pin": "123"}, "NIP Admin: le NIP doit contenir entre 4 et 20 chiffres."),
    ({"user_pin": "1" * 21}, "NIP Utilisateur: le NIP doit contenir entre 4 et 20 chiffres."),
    ({"user_pin": "12345"}, "NIP Utilisateur: le NIP Utilisateur doit être différent du NIP Admin."),
    ({"admin_pin": ""}, "NIP Admin: entrez un NIP pour activer la conférence."),
    ({"max_members": "1"}, "Nombre maximum d'utilisateurs (incluant Admin): entre 2 et 100."),
    ({"max_members": "101"}, "Nombre maximum d'utilisateurs (incluant Admin): entre 2 et 100."),
    ({"max_members": "dix"}, "Nombre maximum d'utilisateurs (incluant Admin): entre 2 et 100."),
    ({"max_members": ""}, "Nombre maximum d'utilisateurs (incluant Admin): entre 2 et 100."),
    ({"admin_pin": "12\r\n34"}, "NIP Admin: le NIP ne doit contenir que des chiffres."),
])
def test_pin_and_size_rules(client, auth, db, me, changes, message):
    auth.login(me.email)
    resp = client.post("/conference/", data=form(csrf(client, "/conference/"), **changes))
    assert resp.status_code == 400
    assert message in page(resp)
    conf = db.get(PersonalConference, me.id)
    db.refresh(conf)
    assert not conf.enabled and conf.admin_pin == ""


def test_tenant_pin_length_applies(client, auth, db, tenant, me):
    tenant.vm_pin_min_length = 6
    db.commit()
    auth.login(me.email)
    resp = client.post("/conference/", data=form(csrf(client, "/conference/"), admin_pin="123456"))
    assert "NIP Utilisateur: le NIP doit contenir entre 6 et 20 chiffres." in page(resp)


def test_apply_saves_pending_then_goes_through_daemon(app, engine, client, auth, db, me, fake):
    auth.login(me.email)
    token = csrf(client, "/conference/")
    # no daemon: saved, pending, said so
    html = page(client.post("/conference/", data=form(token), follow_redirects=True))
    assert "votre modification est en attente" in html
    conf = db.get(PersonalConference, me.id)
    db.refresh(conf)
    assert conf.enabled and conf.admin_pin == "12345" and conf.user_pin == "0000" and conf.max_members == 15
    assert conf.sync_state is SyncState.PENDING
    assert (conf.announce_count, conf.announce_join_leave, conf.music_on_hold, conf.star_menu,
            conf.wait_for_admin, conf.listen_only) == (True, False, True, True, False, False)
    with daemon_for_app(app, engine, fake) as daemon:
        wait_resynced(daemon)
        html = page(client.post("/conference/", data=form(token, wait_for_admin="y", listen_only="y",
                                                          music_on_hold=None), follow_redirects=True))
    assert "Enregistré et appliqué sur le système téléphonique." in html
    db.refresh(conf)
    assert conf.wait_for_admin and conf.listen_only and not conf.music_on_hold
    assert {"enabled", "wait_for_admin", "listen_only", "announce_count", "star_menu"} == checked_boxes(html)


def test_reset_options_back_to_defaults_without_saving(client, auth, db, me):
    auth.login(me.email)
    token = csrf(client, "/conference/")
    client.post("/conference/", data=form(token, announce_count=None, wait_for_admin="y", listen_only="y"))
    html = page(client.post("/conference/", data=form(token, action="reset", announce_count=None,
                                                      wait_for_admin="y", listen_only="y")))
    assert "Options remises à leurs valeurs par défaut" in html
    checked = checked_boxes(html)
    assert {"announce_count", "music_on_hold", "star_menu"} <= checked
    assert not {"wait_for_admin", "listen_only", "announce_join_leave"} & checked
    conf = db.get(PersonalConference, me.id)
    db.refresh(conf)
    assert conf.wait_for_admin and conf.listen_only  # only "Appliquer" saves


ASTERISK_FIELDS = {
    # portal option -> (AstDB key, what the generated dialplan sets when the key is there)
    "announce_count": ("announce_count", "Set(CONFBRIDGE(user,announce_user_count)=yes)"),
    "announce_join_leave": ("announce_join_leave", "Set(CONFBRIDGE(user,announce_join_leave)=yes)"),
    "music_on_hold": ("music_on_hold", "Set(CONFBRIDGE(user,music_on_hold_when_empty)=yes)"),
    "star_menu": ("star_menu", "Set(CONFBRIDGE(menu,*)=playback_and_continue(conf-usermenu))"),
    "wait_for_admin": ("wait_for_admin", "wait"),
    "listen_only": ("listen_only_users", "muted"),
}


def _save_all_on(client, auth, me):
    auth.login(me.email)
    token = csrf(client, "/conference/")
    client.post("/conference/", data=form(token, announce_join_leave="y", wait_for_admin="y", listen_only="y",
                                          max_members="7"))


def test_options_map_to_confbridge_fields(client, auth, db, node, me):
    _save_all_on(client, auth, me)
    db.expire_all()
    entries = {key: value for _family, key, value in pbx_entries(db, me)}
    assert entries["201/conf/enabled"] == "YES"
    assert entries["201/conf/adminpin"] == "12345" and entries["201/conf/userpin"] == "0000"
    assert entries["201/conf/maxmembers"] == "7"
    files = render_node(node_snapshot(db, db.get(PbxNode, node.id)))
    dialplan = files["extensions_clusterpbx.conf"]
    lines = dialplan.splitlines()
    for option, (key, effect) in ASTERISK_FIELDS.items():
        assert entries[f"201/conf/{key}"] == "YES", option
        reading = [ln for ln in lines if f"DB(CLUSTERPBX/${{CPBX_K}}/conf/{key})" in ln]
        assert reading, option
        assert any(effect in ln for ln in reading), (option, reading)
    assert "Set(CONFBRIDGE(user,startmuted)=yes)" in dialplan  # the "muted" label of listen-only
    assert "Set(CONFBRIDGE(user,wait_marked)=yes)" in dialplan  # the "wait" label of wait-for-admin
    assert "ExecIf($[\"${CPBX_MAX}\"!=\"\"]?Set(CONFBRIDGE(bridge,max_members)=${CPBX_MAX}))" in dialplan
    assert "ConfBridge(cpbx-acme-${ARG1})" in dialplan
    assert room_name(db, me) == "cpbx-acme-201"

    # switched off: the keys are deleted, so the dialplan's conditions are false
    token = csrf(client, "/conference/")
    client.post("/conference/", data=form(token, announce_count=None, music_on_hold=None, star_menu=None))
    db.expire_all()
    entries = {key: value for _family, key, value in pbx_entries(db, me)}
    for key in ("announce_count", "music_on_hold", "star_menu", "announce_join_leave", "wait_for_admin",
                "listen_only_users"):
        assert entries[f"201/conf/{key}"] is None, key


def test_options_map_to_mod_conference_fields(client, auth, db, node, me):
    node.kind = NodeKind.FREESWITCH  # before any daemon or name lookup
    node.sip_domain = "pbx.acme.test"
    db.commit()
    _save_all_on(client, auth, me)
    db.expire_all()
    entries = {(realm, key): value for realm, key, value in pbx_entries(db, me)}
    k = "201@acme.test"
    assert entries[("cpbx_conf", k)] == "true"
    assert entries[("cpbx_conf_adminpin", k)] == "12345" and entries[("cpbx_conf_maxmembers", k)] == "7"
    files = render_node(node_snapshot(db, db.get(PbxNode, node.id)))
    xml = files["dialplan_clusterpbx.xml"]
    fs_fields = {
        "announce_count": ("announce_count", "cpbx_profile=", "cpbx-count"),
        "star_menu": ("star_menu", "conference_controls=", "cpbx-menu"),
        "music_on_hold": ("music_on_hold", "conference_moh_sound=", "local_stream://moh"),
        "wait_for_admin": ("wait_for_admin", "conference_flags=", "wait-mod"),
        "listen_only": ("listen_only_users", "cpbx_flags=", "mute"),
    }
    for option, (key, variable, value) in fs_fields.items():
        assert entries[(f"cpbx_conf_{key}", k)] == "true", option
        actions = [a for a in re.findall(r'data="([^"]*)"', xml) if f"select/cpbx_conf_{key}/" in a]
        assert any(a.startswith(variable) and value in a for a in actions), (option, actions)
    assert entries[("cpbx_conf_announce_join_leave", k)] == "true"
    assert "conference_max_members=${db(select/cpbx_conf_maxmembers/${cpbx_owner}@acme.test)}" in xml
    # the PINs are checked by the dialplan's own prompt (the admin's sets the moderator flag, users get theirs)
    assert "cpbx_conf_apin=${db(select/cpbx_conf_adminpin/${cpbx_owner}@acme.test)}" in xml
    assert "cpbx_conf_upin=${db(select/cpbx_conf_userpin/${cpbx_owner}@acme.test)}" in xml
    profiles = files["conference_profiles_clusterpbx.xml"]
    count_profile = profiles.split('name="cpbx-count"')[1]
    assert 'name="announce-count"' in count_profile
    assert "cpbx-acme-${cpbx_owner}@${cpbx_profile}" in xml


def people():
    return [ConferenceParticipant("PJSIP/203-00000001", "203", "Alice Côté"),
            ConferenceParticipant("PJSIP/5145551234-00000002", "5145551234", "", muted=False),
            ConferenceParticipant("PJSIP/201-00000003", "201", "Marie Tremblay", admin=True)]


def test_participants_kick_and_mute(app, engine, client, auth, db, me, other, fake):
    auth.login(me.email)
    token = csrf(client, "/conference/")
    client.post("/conference/", data=form(token))
    fake.rooms["cpbx-acme-201"] = people()
    fake.rooms["cpbx-acme-202"] = [ConferenceParticipant("PJSIP/204-00000009", "204", "Bob")]
    with daemon_for_app(app, engine, fake) as daemon:
        wait_resynced(daemon)
        html = page(client.get("/conference/"))
        assert "Alice Côté (203)" in html and "5145551234" in html and "Marie Tremblay (201)" in html
        assert "Bob" not in html
        html = page(client.post("/conference/participant", data={"csrf_token": token, "action": "mute",
                                                                 "participant": "PJSIP/203-00000001"},
                                follow_redirects=True))
        assert "Participant mis en sourdine." in html
        assert fake.rooms["cpbx-acme-201"][0].muted
        html = page(client.post("/conference/participant", data={"csrf_token": token, "action": "kick",
                                                                 "participant": "PJSIP/5145551234-00000002"},
                                follow_redirects=True))
        assert "Le participant a été retiré de la conférence." in html
        assert [p.participant_id for p in fake.rooms["cpbx-acme-201"]] == ["PJSIP/203-00000001",
                                                                          "PJSIP/201-00000003"]
        # an id from another room is refused: the room comes from the user, not from the request
        html = page(client.post("/conference/participant", data={"csrf_token": token, "action": "kick",
                                                                 "participant": "PJSIP/204-00000009"},
                                follow_redirects=True))
        assert "Ce participant n'est plus dans votre conférence." in html
        assert fake.rooms["cpbx-acme-202"] and ("cpbx-acme-202", "PJSIP/204-00000009", "kick") not in \
            fake.conference_actions


def test_another_user_cannot_kick_in_my_room(app, engine, client, auth, db, me, other, fake):
    fake.rooms["cpbx-acme-201"] = people()
    auth.login(other.email)
    token = csrf(client, "/conference/")
    with daemon_for_app(app, engine, fake) as daemon:
        wait_resynced(daemon)
        html = page(client.post("/conference/participant", data={"csrf_token": token, "action": "kick",
                                                                 "participant": "PJSIP/203-00000001"},
                                follow_redirects=True))
        assert "Ce participant n'est plus dans votre conférence." in html
        # straight to the daemon too: the user id decides the room
        from clusterpbx.control.commands import CommandError, ControlClient

        client_ = ControlClient.from_settings(app.config["CLUSTERPBX"])
        with pytest.raises(CommandError):
            client_.call("conference_kick", user_id=other.id, participant_id="PJSIP/203-00000001")
        with pytest.raises(CommandError):
            client_.call("conference_mute", user_id=other.id, participant_id="PJSIP/203-00000001", muted=True)
        assert client_.call("conference_participants", user_id=other.id)["participants"] == []
    assert len(fake.rooms["cpbx-acme-201"]) == 3 and fake.conference_actions == []


def test_live_view_when_pbx_unreachable(client, auth, me):
    auth.login(me.email)
    client.post("/conference/", data=form(csrf(client, "/conference/")))
    html = page(client.get("/conference/"))
    assert "les participants ne peuvent pas être affichés" in html
