"""Paramètres avancés and Messagerie Vocale: validation against the tenant's rules, desired state saved
as pending, applied through the control daemon when it is reachable."""

from __future__ import annotations

import datetime as dt
import html as htmllib

import pytest

from clusterpbx.control.models import (
    CallSettings,
    DestinationGroup,
    DestinationPrefix,
    NodeKind,
    PbxNode,
    SyncState,
    VoicemailSettings,
)
from tests.daemon_harness import daemon_for_app
from tests.fakes import FakePbx


def page(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


def setup_user(db, world, **kw):
    tenant = world.tenant()
    group = DestinationGroup(tenant_id=tenant.id, name="Local Montréal",
                             prefixes=[DestinationPrefix(prefix="514"), DestinationPrefix(prefix="438")])
    db.add(group)
    db.commit()
    user = world.user(tenant, extension="201", **kw)
    user.destination_groups = [group]
    db.commit()
    world.user(tenant, extension="202")
    return tenant, user


def form(**over):
    base = {"call_waiting": "y", "followme_numbers": "", "followme_delay": "20", "forward_always": "",
            "forward_busy": "", "forward_noanswer": "", "forward_noanswer_delay": "20", "language": "fr"}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def post(client, auth, path, data, page=None):
    token = auth.csrf(page or path)
    return client.post(path, data={**data, "csrf_token": token})


def test_page_shows_guide_sections(client, auth, db, world):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    html = page(client.get("/settings/advanced"))
    for text in ("Paramètres d'appel", "Fonctionnalité", "Appel en attente", "Ne pas déranger", "Me suivre",
                 "Renvoi d'appel", "Appuyez sur 1 pour accepter l'appel:", "Délai (secondes):", "Langue",
                 "Destinations possibles", "Plus d'infos", "Local Montréal", "438, 514", "En attente"):
        assert text in html, text
    assert client.get("/settings/").headers["Location"].endswith("/settings/advanced")


def test_save_with_daemon_down_is_pending(client, auth, db, world):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    resp = post(client, auth, "/settings/advanced", form(dnd="y", forward_busy="514 907-9050",
                                                          followme_enabled="y", followme_numbers="202\n4381234567",
                                                          followme_confirm="y", followme_delay="15"))
    assert resp.status_code == 302
    shown = page(client.get("/settings/advanced"))
    assert "votre modification est en attente" in shown
    db.expire_all()
    cs = db.get(CallSettings, user.id)
    assert (cs.dnd, cs.forward_busy, cs.followme_numbers, cs.followme_confirm, cs.followme_delay) == (
        True, "5149079050", "202,4381234567", True, 15)
    assert cs.sync_state is SyncState.PENDING


@pytest.mark.parametrize(("field", "value", "message"), [
    ("forward_always", "33123456789", "ne fait pas partie de vos destinations possibles : Local Montréal (438, 514)"),
    ("forward_busy", "abc", "n'est pas un numéro de téléphone valide"),
    ("forward_noanswer", "514\r\nAction: Originate", "contient des caractères non permis"),
    ("followme_numbers", "2125550000", "ne fait pas partie de vos destinations possibles"),
])
def test_refused_numbers_name_the_rule_and_change_nothing(client, auth, db, world, field, value, message):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    resp = post(client, auth, "/settings/advanced", form(**{field: value, "followme_enabled": "y"
                                                            if field == "followme_numbers" else None}))
    assert resp.status_code == 400
    assert message in page(resp)
    db.expire_all()
    cs = db.get(CallSettings, user.id)
    assert cs.forward_always == cs.forward_busy == cs.forward_noanswer == "" and not cs.followme_enabled


def test_internal_only_user(client, auth, db, world):
    tenant = world.tenant()
    user = world.user(tenant, extension="201")
    world.user(tenant, extension="202")
    auth.login(user.email)
    assert post(client, auth, "/settings/advanced", form(forward_always="202")).status_code == 302
    resp = post(client, auth, "/settings/advanced", form(forward_always="5145550000"))
    assert "appels internes" in page(resp)


def test_language_setting_switches_portal(client, auth, db, world):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    post(client, auth, "/settings/advanced", form(language="en"))
    assert "Call waiting" in page(client.get("/settings/advanced"))


def test_applied_when_daemon_answers(app, client, auth, db, world, engine):
    tenant, user = setup_user(db, world)
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.commit()
    tenant.node_id = node.id
    db.commit()
    fake = FakePbx()
    with daemon_for_app(app, engine, fake):
        auth.login(user.email)
        resp = post(client, auth, "/settings/advanced", form(dnd="y", forward_noanswer="4385551234"))
        assert resp.status_code == 302
        assert "Enregistré et appliqué" in page(client.get("/settings/advanced"))
        assert fake.features["acme-201"].dnd and fake.features["acme-201"].forward_noanswer == "4385551234"
        db.expire_all()
        assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED


def vm_form(**over):
    base = {"email_use_login": "y", "email_attach": "y", "ooo_start": "", "ooo_last_day": "", "email_address": ""}
    base.update(over)
    return base


def test_voicemail_tab_guide_text(client, auth, db, world):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    html = page(client.get("/settings/voicemail"))
    for text in ("Réponse automatique d'absence", "Comment ça fonctionne?", "*97", "(201)", "Notification E-mail",
                 "Utiliser l'email de login", "Mot de passe boîte vocale", "Chiffres uniquement", "Nouveau NIP:"):
        assert text in html, text


def test_out_of_office_and_email_saved(client, auth, db, world):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    # An absence ahead of today (one already over is refused: test_voicemail_refusals).
    start, last = (str(dt.date.today() + dt.timedelta(days=d)) for d in (17, 26))
    r = post(client, auth, "/settings/voicemail/options", vm_form(
        ooo_enabled="y", ooo_start=start, ooo_last_day=last, email_enabled="y",
        email_use_login=None, email_address="moi@example.com", delete_after_email="y"), page="/settings/voicemail")
    assert r.status_code == 302
    db.expire_all()
    vm = db.get(VoicemailSettings, user.id)
    assert (vm.ooo_enabled, str(vm.ooo_start), str(vm.ooo_last_day), vm.email_address, vm.delete_after_email) == (
        True, start, last, "moi@example.com", True)


@pytest.mark.parametrize(("data", "message"), [
    ({"ooo_enabled": "y", "ooo_start": "2027-01-05", "ooo_last_day": "2027-01-02"}, "ne peut pas précéder"),
    ({"email_enabled": "y", "email_use_login": None, "email_address": "pas-un-courriel"}, "pas valide"),
    ({"ooo_start": "24/12/2026"}, "AAAA-MM-JJ"),
    ({"delete_after_email": "y"}, "exige que la notification"),
])
def test_voicemail_refusals(client, auth, db, world, data, message):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    r = post(client, auth, "/settings/voicemail/options", vm_form(**data), page="/settings/voicemail")
    assert r.status_code == 400 and message in page(r)
    db.expire_all()
    assert not db.get(VoicemailSettings, user.id).ooo_enabled


@pytest.mark.parametrize(("pin", "confirm", "ok", "message"), [
    ("4821", "4821", True, ""),
    ("48213579", "48213579", True, ""),
    ("482", "482", False, "entre 4 et 20"),
    ("1" * 21, "1" * 21, False, "entre 4 et 20"),
    ("48a1", "48a1", False, "uniquement des chiffres"),
    ("4821", "4822", False, "ne correspondent pas"),
    ("1111", "1111", False, "trop facile"),
    ("0201\n", "0201\n", False, "uniquement des chiffres"),
])
def test_voicemail_pin_rules(client, auth, db, world, pin, confirm, ok, message):
    _t, user = setup_user(db, world)
    auth.login(user.email)
    before = user.extensions[0].vm_pin
    r = post(client, auth, "/settings/voicemail/pin", {"pin": pin, "confirm": confirm}, page="/settings/voicemail")
    db.expire_all()
    after = db.get(type(user), user.id).extensions[0].vm_pin
    if ok:
        assert r.status_code == 302 and after == pin
    else:
        assert r.status_code == 400 and after == before
        assert message in page(r)


def test_tenant_may_tighten_pin_length(client, auth, db, world):
    tenant, user = setup_user(db, world)
    tenant.vm_pin_min_length = 6
    db.commit()
    auth.login(user.email)
    assert "entre 6 et 20" in page(client.get("/settings/voicemail"))
    r = post(client, auth, "/settings/voicemail/pin", {"pin": "48213", "confirm": "48213"}, page="/settings/voicemail")
    assert r.status_code == 400
