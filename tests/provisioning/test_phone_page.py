"""Mon téléphone: the guide's table, add/delete/reorder without saving, validation of each button,
saving as desired state, and "Resynchroniser le téléphone" through the control daemon."""

from __future__ import annotations

import asyncio
import html as htmllib
import threading
from pathlib import Path

from sqlalchemy import select

from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import (
    DestinationGroup,
    DestinationPrefix,
    Device,
    NodeKind,
    PbxNode,
    PhoneKey,
    SyncState,
)
from tests.fakes import FakePbx


def page(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


def setup(db, world, blf=True, device=True):
    tenant = world.tenant()
    group = DestinationGroup(tenant_id=tenant.id, name="Local Montréal", prefixes=[DestinationPrefix(prefix="514")])
    db.add(group)
    db.commit()
    user = world.user(tenant, extension="201", can_use_blf=blf, first_name="Marie")
    user.destination_groups = [group]
    world.user(tenant, extension="219")
    if device:
        db.add(Device(tenant_id=tenant.id, user_id=user.id, mac="0015651a2b3c", vendor="yealink", model="T46S"))
    db.commit()
    return tenant, user


def post(client, auth, rows, action="save", selected=(), path="/phone/"):
    data = {"csrf_token": auth.csrf("/phone/"), "action": action,
            "kind": [r[0] for r in rows], "value": [r[1] for r in rows], "label": [r[2] for r in rows],
            "selected": [str(i) for i in selected]}
    return client.post(path, data=data)


def keys(db, user):
    db.expire_all()
    return [(k.position, k.kind, k.value, k.label, k.sync_state)
            for k in db.scalars(select(PhoneKey).where(PhoneKey.user_id == user.id).order_by(PhoneKey.position))]


def test_page_shows_table_and_model(client, auth, db, world):
    _t, user = setup(db, world)
    auth.login(user.email)
    html = page(client.get("/phone/"))
    for text in ("Mon téléphone", "Ajouter bouton", "Supprimer bouton", "Resynchroniser le téléphone",
                 "Bouton #", "Action", "Valeur", "Label", "Yealink T46S", "27"):
        assert text in html, text
    assert 'value="blf"' not in html or "Présence / Décrocher" in html


def test_save_add_delete_reorder(client, auth, db, world):
    _t, user = setup(db, world)
    auth.login(user.email)
    rows = [("line", "201", ""), ("blf", "219", "JP & <co>"), ("speed", "514 907-9050", "Réception")]
    resp = post(client, auth, rows)
    assert resp.status_code == 302
    assert keys(db, user) == [(1, "line", "201", "", SyncState.PENDING), (2, "blf", "219", "JP & <co>", SyncState.PENDING),
                              (3, "speed", "5149079050", "Réception", SyncState.PENDING)]
    html = page(client.get("/phone/"))
    assert "Pas encore sur le téléphone" in html
    # Add, delete and reorder work on the form without saving.
    added = page(post(client, auth, rows, action="add"))
    assert added.count('name="kind"') == 4 and "Modifications non enregistrées" in added
    moved = page(post(client, auth, rows, action="up-2"))
    assert moved.index('value="Réception"') < moved.index('value="JP & <co>"') or \
        moved.index("Réception") < moved.index("JP & <co>")
    deleted = page(post(client, auth, rows, action="delete", selected=[1]))
    assert deleted.count('name="kind"') == 2 and "JP & <co>" not in deleted
    assert len(keys(db, user)) == 3  # nothing saved by those actions


def test_values_are_validated(client, auth, db, world):
    _t, user = setup(db, world)
    auth.login(user.email)
    resp = post(client, auth, [("line", "219", ""), ("blf", "999", ""), ("speed", "33123456789", "x"),
                               ("speed", "", ""), ("blf", "21a", ""), ("speed", "5145550000", "y" * 41)])
    html = page(resp)
    assert resp.status_code == 400
    assert "Bouton #1: 219 n'est pas une de vos lignes." in html
    assert "Bouton #2: 999 n'est pas un poste de votre entreprise." in html
    assert "Bouton #3: 33123456789 ne fait pas partie de vos destinations possibles" in html
    assert "Bouton #4: Entrez une valeur." in html
    assert "Bouton #5: 21a n'est pas un poste de votre entreprise." in html
    assert "Bouton #6: L'étiquette est trop longue" in html
    assert keys(db, user) == []


def test_blf_only_when_granted(client, auth, db, world):
    _t, user = setup(db, world, blf=False)
    auth.login(user.email)
    html = page(client.get("/phone/"))
    assert 'value="blf"' not in html
    resp = post(client, auth, [("blf", "219", "")])
    assert resp.status_code == 400 and "Présence / Décrocher n'est pas activé pour vous" in page(resp)


def test_too_many_keys_for_the_model(client, auth, db, world):
    _t, user = setup(db, world)
    auth.login(user.email)
    resp = post(client, auth, [("speed", "514555000" + str(i % 10), "") for i in range(28)])
    assert resp.status_code == 400 and "27 boutons" in page(resp)


def test_resync_warns_then_reports_daemon_down(client, auth, db, world, app, tmp_path):
    _t, user = setup(db, world)
    app.config["CLUSTERPBX"].control_url = "http://127.0.0.1:9"  # nothing listens there
    app.config["CLUSTERPBX"].control_timeout = 0.5
    auth.login(user.email)
    warning = page(client.get("/phone/resync"))
    assert "les modifications non enregistrées" in warning.lower() or "non enregistrées" in warning
    resp = client.post("/phone/resync", data={"csrf_token": auth.csrf("/phone/resync")}, follow_redirects=True)
    assert "Le système téléphonique est injoignable" in page(resp)


def test_resync_reaches_the_daemon(app, client, auth, db, world, engine):
    tenant, user = setup(db, world)
    post_rows = [("line", "201", ""), ("speed", "5149079050", "")]
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.commit()
    tenant.node_id = node.id
    db.commit()
    fake = FakePbx()
    loop = asyncio.new_event_loop()
    daemon = ControlDaemon(make_session_factory(engine), "s3cret", port=0, port_factory=lambda n, a: fake)
    loop.run_until_complete(daemon.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        settings = app.config["CLUSTERPBX"]
        settings.control_url = f"http://127.0.0.1:{daemon.port}"
        Path(settings.instance_path).mkdir(parents=True, exist_ok=True)
        (Path(settings.instance_path) / "control_secret").write_text("s3cret")
        auth.login(user.email)
        assert post(client, auth, post_rows).status_code == 302
        resp = client.post("/phone/resync", data={"csrf_token": auth.csrf("/phone/resync")}, follow_redirects=True)
        assert "Votre téléphone a été invité à recharger sa configuration" in page(resp)
        assert [(ep, str(vendor)) for ep, vendor in fake.notifies] == [(user.extensions[0].sip_username, "yealink")]
        assert {k[4] for k in keys(db, user)} == {SyncState.APPLIED}
    finally:
        asyncio.run_coroutine_threadsafe(daemon.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
