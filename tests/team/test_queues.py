"""Mes files d'attente: buttons save the desired state and push it through a real daemon to the PBX;
the icons follow the projected state, including changes made from the phone."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from clusterpbx.control.models import (
    Extension,
    PauseReason,
    Queue,
    QueueMembership,
    QueueMemberState,
    SyncState,
    User,
)
from clusterpbx.control.pbxnames import PbxNames
from tests.daemon_harness import daemon_for_app
from tests.team.conftest import csrf, page, wait_resynced


@pytest.fixture
def queues(db, tenant, me, other):
    soutien = Queue(tenant_id=tenant.id, name="soutien", label="Soutien", number="800")
    ventes = Queue(tenant_id=tenant.id, name="ventes", label="Ventes", number="801")
    db.add_all([soutien, ventes, PauseReason(tenant_id=tenant.id, label="Dîner"),
                PauseReason(tenant_id=tenant.id, label="Réunion")])
    db.flush()
    mine = {q.name: QueueMembership(queue_id=q.id, user_id=me.id) for q in (soutien, ventes)}
    theirs = QueueMembership(queue_id=soutien.id, user_id=other.id)
    db.add_all([*mine.values(), theirs])
    db.commit()
    return mine, theirs


def status_of(html: str, label: str) -> str:
    m = re.search(r'<tr class="q-(\w+)">(?:(?!</tr>).)*?<th scope="row">' + label + "</th>", html, re.S)
    assert m, f"no row for {label}"
    return m.group(1)


def row_html(html: str, label: str) -> str:
    m = re.search(r'<tr class="q-\w+">((?:(?!</tr>).)*?<th scope="row">' + label + "</th>.*?)</tr>", html, re.S)
    assert m
    return m.group(1)


def member(db, user):
    """The PBX-side member name of the user's extension (what the daemon logs in and projects)."""
    return PbxNames.for_tenant(db, user.tenant).member(user.primary_extension)


def project(db, node, queue, logged_in=True, paused=False, reason=""):
    """What the daemon's projector writes when the PBX reports a member (user 201)."""
    iface = member(db, db.scalar(select(User).join(Extension).where(Extension.number == "201")))
    row = db.scalar(select(QueueMemberState).where(QueueMemberState.queue == queue,
                                                   QueueMemberState.interface == iface))
    if row is None:
        row = QueueMemberState(node_id=node.id, queue=queue, interface=iface)
        db.add(row)
    row.logged_in, row.paused, row.pause_reason = logged_in, paused, reason
    db.commit()


def unproject(db, queue):
    for row in db.scalars(select(QueueMemberState).where(QueueMemberState.queue == queue)):
        db.delete(row)
    db.commit()


def post(client, queue_row, action, **data):
    token = csrf(client, "/queues/")
    return client.post(f"/queues/{queue_row.id}/{action}", data={"csrf_token": token, **data},
                       follow_redirects=True)


def test_screen_matches_guide(client, auth, me, queues):
    auth.login(me.email)
    html = page(client.get("/queues/"))
    for text in ("Mes Files d'attente", "Légende:", "Votre poste est connecté à la file d'attente.",
                 "Hors-ligne, votre poste n'est pas connecté à la file d'attente.",
                 "Connecté à la file d'attente mais en pause.", "Statut", "File d'attente ▲", "Actions",
                 "Soutien", "Ventes", "Se connecter à la file"):
        assert text in html, text
    assert html.index("Soutien") < html.index("Ventes")
    assert status_of(html, "Soutien") == "offline"
    # icons carry a text alternative, no inline style anywhere
    assert 'role="img" aria-label="Hors-ligne"' in html
    assert "style=" not in html
    desc = page(client.get("/queues/?dir=desc"))
    assert "File d'attente ▼" in desc
    assert desc.index(">Ventes<") < desc.index(">Soutien<")


def test_login_pause_resume_logout_through_daemon(app, engine, client, auth, db, node, me, queues, fake):
    mine, _ = queues
    soutien = mine["soutien"]
    with daemon_for_app(app, engine, fake) as daemon:
        wait_resynced(daemon)
        auth.login(me.email)
        html = page(post(client, soutien, "login"))
        assert "Enregistré et appliqué" in html
        db.refresh(soutien)
        assert soutien.logged_in and not soutien.paused and soutien.sync_state is SyncState.APPLIED
        assert ("cpbx-acme-soutien", member(db, me)) in fake.members
        # the PBX has it but the projection has not caught up yet: shown as pending
        assert status_of(html, "Soutien") == "offline" and "En attente" in row_html(html, "Soutien")
        project(db, node, "cpbx-acme-soutien")
        html = page(client.get("/queues/"))
        assert status_of(html, "Soutien") == "connected"
        assert "En attente" not in row_html(html, "Soutien")

        # pause needs one of the tenant's reasons
        html = page(post(client, soutien, "pause"))
        assert "Choisissez un motif de pause" in html
        db.refresh(soutien)
        assert not soutien.paused
        reason = db.scalar(select(PauseReason).where(PauseReason.label == "Dîner"))
        post(client, soutien, "pause", reason=str(reason.id))
        db.refresh(soutien)
        assert soutien.paused and soutien.pause_reason == "Dîner"
        assert fake.members[("cpbx-acme-soutien", member(db, me))].paused
        assert fake.members[("cpbx-acme-soutien", member(db, me))].pause_reason == "Dîner"
        project(db, node, "cpbx-acme-soutien", paused=True, reason="Dîner")
        html = page(client.get("/queues/"))
        assert status_of(html, "Soutien") == "paused" and "Dîner" in row_html(html, "Soutien")
        assert "Reprendre" in row_html(html, "Soutien")

        post(client, soutien, "resume")
        db.refresh(soutien)
        assert soutien.logged_in and not soutien.paused
        assert not fake.members[("cpbx-acme-soutien", member(db, me))].paused
        project(db, node, "cpbx-acme-soutien")

        post(client, soutien, "logout")
        db.refresh(soutien)
        assert not soutien.logged_in
        assert ("cpbx-acme-soutien", member(db, me)) not in fake.members
        unproject(db, "cpbx-acme-soutien")
        html = page(client.get("/queues/"))
        assert status_of(html, "Soutien") == "offline"
        assert "En attente" not in row_html(html, "Soutien")


def test_change_from_the_phone_shows(client, auth, db, node, me, queues):
    auth.login(me.email)
    # the agent logged in and paused from the phone (*45, then pause): the portal never asked for it
    project(db, node, "cpbx-acme-ventes", paused=True, reason="Pause café")
    html = page(client.get("/queues/"))
    assert status_of(html, "Ventes") == "paused"
    assert "Pause café" in row_html(html, "Ventes")
    assert "En attente" in row_html(html, "Ventes")  # desired (logged out) and projected differ
    assert status_of(html, "Soutien") == "offline"
    # a projection of another node or another interface does not count
    db.add(QueueMemberState(node_id=node.id, queue="cpbx-acme-soutien", interface="PJSIP/999", logged_in=True))
    db.add(QueueMemberState(node_id=node.id, queue="soutien", interface=member(db, me), logged_in=True))
    db.commit()
    assert status_of(page(client.get("/queues/")), "Soutien") == "offline"


def test_daemon_down_keeps_pending(client, auth, db, me, queues):
    mine, _ = queues
    auth.login(me.email)
    html = page(post(client, mine["ventes"], "login"))
    assert "votre modification est en attente" in html
    db.refresh(mine["ventes"])
    assert mine["ventes"].logged_in and mine["ventes"].sync_state is SyncState.PENDING


def test_other_agents_membership_unreachable(client, auth, db, me, queues):
    _, theirs = queues
    auth.login(me.email)
    token = csrf(client, "/queues/")
    resp = client.post(f"/queues/{theirs.id}/login", data={"csrf_token": token})
    assert resp.status_code == 404
    db.refresh(theirs)
    assert not theirs.logged_in
    assert client.post(f"/queues/{theirs.id}/dance", data={"csrf_token": token}).status_code == 404


def test_reason_of_another_tenant_refused(client, auth, db, world, me, queues):
    mine, _ = queues
    elsewhere = world.tenant("other.test")
    foreign = PauseReason(tenant_id=elsewhere.id, label="Injected\r\nAction: Originate")
    db.add(foreign)
    db.commit()
    auth.login(me.email)
    html = page(post(client, mine["soutien"], "pause", reason=str(foreign.id)))
    assert "Choisissez un motif de pause" in html
    db.refresh(mine["soutien"])
    assert not mine["soutien"].paused


def test_freeswitch_agent_projection(client, auth, db, node, me, queues):
    # On FreeSWITCH the member is the mod_callcenter agent "<slug>-<ext>", not a SIP interface.
    from clusterpbx.control.models import NodeKind

    node.kind = NodeKind.FREESWITCH
    db.commit()
    db.add(QueueMemberState(node_id=node.id, queue="cpbx-acme-ventes", interface="acme-201", logged_in=True))
    db.commit()
    auth.login(me.email)
    html = page(client.get("/queues/"))
    assert status_of(html, "Ventes") == "connected"
    assert status_of(html, "Soutien") == "offline"
