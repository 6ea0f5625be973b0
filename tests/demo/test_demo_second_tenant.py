"""The demo holds two companies on one PBX node with overlapping numbers (issue 21: tenants are
namespaces): Acme's 201, 202 and 210 next to Démo Inc.'s, an Acme administrator who sees only Acme, the
operator who sees both, and the embedded PBX where Acme's 201 calling 202 rings Acme's 202."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clusterpbx.control.demo import ACME_DOMAIN, ACME_USERS, DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USERS, seed_demo
from clusterpbx.control.models import Extension, Role, Tenant, User
from clusterpbx.control.pbxnames import PbxNames
from clusterpbx.demo_runtime import demo_model
from tests.demo.conftest import page

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ACME_ADMIN = "admin@acme.clusterpbx.test"
OPERATOR = "operateur@demo.clusterpbx.test"


def _numbers(db, tenant: Tenant) -> set[str]:
    return set(db.scalars(select(Extension.number).where(Extension.tenant_id == tenant.id)))


def test_second_tenant_on_the_same_node_with_overlapping_numbers_seeded_once(demo, db):
    acme = db.scalar(select(Tenant).where(Tenant.domain == ACME_DOMAIN))
    assert acme is not None and acme.name == "Acme"
    assert acme.node_id == demo.node_id is not None
    assert {"201", "202"} <= _numbers(db, acme) & _numbers(db, demo)
    users = db.scalars(select(User).where(User.tenant_id == acme.id)).all()
    assert sorted(u.email for u in users) == sorted(u.email for u in ACME_USERS)
    assert [u.email for u in users if u.role is Role.TENANT_ADMIN] == [ACME_ADMIN]
    # The same number, two SIP users: Démo Inc. (seeded first) keeps the plain ones.
    sip = dict(db.execute(select(Extension.tenant_id, Extension.sip_username).where(Extension.number == "201")).all())
    assert sip[demo.id] == "201" and sip[acme.id] != "201"
    # `clusterpbx run` again: nothing added.
    counts = [db.scalar(select(func.count()).select_from(m)) for m in (Tenant, User, Extension)]
    seed_demo(db)
    db.commit()
    assert [db.scalar(select(func.count()).select_from(m)) for m in (Tenant, User, Extension)] == counts
    assert counts[1] == len(DEMO_USERS) + len(ACME_USERS)


def test_operator_sees_both_companies_and_acmes_admin_only_acme(demo, db, client, auth):
    auth.login(OPERATOR, DEMO_PASSWORD)
    html = page(client.get("/admin/tenants/"))
    assert "Démo Inc." in html and DEMO_DOMAIN in html
    assert "Acme" in html and ACME_DOMAIN in html
    users = page(client.get("/admin/users/?q=admin@"))
    assert ACME_ADMIN in users and "admin@demo.clusterpbx.test" in users
    auth.logout()
    auth.login(ACME_ADMIN, DEMO_PASSWORD)
    mine = page(client.get("/admin/users/"))
    assert "chloe.martin@acme.clusterpbx.test" in mine and "noah.brown@acme.clusterpbx.test" in mine
    assert "marie.tremblay@demo.clusterpbx.test" not in mine and "@demo.clusterpbx.test" not in mine


def test_acmes_201_calling_202_rings_acmes_202_in_the_demo_pbx(demo, db, tmp_path):
    acme = db.scalar(select(Tenant).where(Tenant.domain == ACME_DOMAIN))
    model = demo_model(db, "demo-asterisk", str(tmp_path / "spool"))
    ext = {(e.tenant_id, e.number): e for e in db.scalars(select(Extension).where(Extension.number.in_(["201", "202"])))}
    acme_201, acme_202, demo_202 = ext[acme.id, "201"], ext[acme.id, "202"], ext[demo.id, "202"]
    call = model.place_call(acme_201.sip_username, "202")
    assert call.callee is not None and call.callee.endpoint == acme_202.sip_username
    assert call.records[0].src == "201" and call.records[0].dst == "202"
    # Démo's 201 dialling the same number reaches Démo's 202.
    other = model.place_call(ext[demo.id, "201"].sip_username, "202")
    assert other.callee is not None and other.callee.endpoint == demo_202.sip_username
    # Unanswered: the message is left in Acme's 202 box, Démo's stays empty.
    acme_names, demo_names = PbxNames.for_tenant(db, acme), PbxNames.for_tenant(db, demo)
    missed = model.place_call(acme_201.sip_username, "202", answer=False, message_seconds=2)
    assert missed.voicemail is not None and missed.voicemail.context == acme_names.voicemail_context
    assert model.mailbox_counts(acme_202.mailbox, acme_names.voicemail_context) == (0, 1, 0)
    assert model.mailbox_counts(demo_202.mailbox, demo_names.voicemail_context) == (0, 0, 0)


def test_demos_dnd_on_201_leaves_acmes_201_ringing_in_the_demo_pbx(demo, db, tmp_path):
    acme = db.scalar(select(Tenant).where(Tenant.domain == ACME_DOMAIN))
    model = demo_model(db, "demo-asterisk", str(tmp_path / "spool"))
    ext = {(e.tenant_id, e.number): e for e in db.scalars(select(Extension).where(Extension.number.in_(["201", "202"])))}
    # What the daemon writes for Démo's 201 (PbxNames.feature_owner: DND/demo-201).
    model.db_put("DND", PbxNames.for_tenant(db, demo).feature_owner("201"), "YES")
    demo_call = model.place_call(ext[demo.id, "202"].sip_username, "201", answer=False)
    assert demo_call.voicemail is not None and demo_call.callee is None  # DND: straight to the box
    acme_call = model.place_call(ext[acme.id, "202"].sip_username, "201")
    assert acme_call.callee is not None and acme_call.callee.endpoint == ext[acme.id, "201"].sip_username
