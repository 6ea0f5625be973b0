"""A tenant's outbound trunk (issue 19: without one every outside number was refused): an operator sets it
through the tenants service, only trunk names the generated dialplans accept are stored, a tenant admin
sees it but may not change it, and each change is in the audit log like the tenant's other fields."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clusterpbx.control.admin import Invalid, resource
from clusterpbx.control.admin.tenants import INVALID_TRUNK
from clusterpbx.control.models import AuditEntry, Tenant


def test_operator_sets_shows_and_clears_the_trunk_with_audit(db, setup):
    tenants = resource("tenants")
    assert db.get(Tenant, setup.a.id).outbound_trunk == ""  # a tenant starts without a trunk
    tenants.update(db, setup.op, setup.a.id, {"outbound_trunk": "  voip.ms-Montreal_1  "})
    db.commit()
    tenant = db.get(Tenant, setup.a.id)
    assert tenant.outbound_trunk == "voip.ms-Montreal_1"
    assert tenants.serialize(tenant)["outbound_trunk"] == "voip.ms-Montreal_1"
    entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "tenants",
                                                AuditEntry.action == "update")).one()
    assert (entry.before["outbound_trunk"], entry.after["outbound_trunk"]) == ("", "voip.ms-Montreal_1")
    assert entry.tenant_id == setup.a.id

    tenants.update(db, setup.op, setup.a.id, {"outbound_trunk": ""})
    db.commit()
    db.refresh(tenant)
    assert tenant.outbound_trunk == ""


def test_operator_creates_a_tenant_with_a_trunk(db, setup):
    t = resource("tenants").create(db, setup.op, {"name": "Gamma", "domain": "gamma.test",
                                                  "outbound_trunk": "gamma-trunk"})
    db.commit()
    assert db.get(Tenant, t.id).outbound_trunk == "gamma-trunk"


@pytest.mark.parametrize("value", [
    "my trunk",                 # a space
    "trunk\r\nAction: Originate",  # a header smuggled into AMI
    "trunk\n",                  # even a trailing line break is refused, not trimmed
    "trunk\r",
    "trunk\t2",
    "-trunk",                   # must start with a letter or a digit
    ".trunk",
    "trunk;x",
    "trunk,x",
    "PJSIP/trunk",
    "trunk@example.com",
    "trunk)",
    "${EVIL}",
    "trônc",
    "t" * 65,
    ["trunk"],
    {"x": 1},
])
def test_invalid_trunk_names_are_refused_and_nothing_changes(db, setup, value):
    tenants = resource("tenants")
    tenants.update(db, setup.op, setup.a.id, {"outbound_trunk": "good-trunk"})
    db.commit()
    with pytest.raises(Invalid) as err:
        tenants.update(db, setup.op, setup.a.id, {"outbound_trunk": value})
    assert set(err.value.errors) == {"outbound_trunk"}
    db.rollback()
    assert db.get(Tenant, setup.a.id).outbound_trunk == "good-trunk"


def test_a_name_of_64_characters_is_accepted(db, setup):
    name = "a" + "b-_." * 15 + "xyz"
    assert len(name) == 64
    resource("tenants").update(db, setup.op, setup.a.id, {"outbound_trunk": name})
    db.commit()
    assert db.get(Tenant, setup.a.id).outbound_trunk == name


def test_space_inside_gets_the_trunk_message(db, setup):
    with pytest.raises(Invalid) as err:
        resource("tenants").update(db, setup.op, setup.a.id, {"outbound_trunk": "my trunk"})
    assert err.value.errors == {"outbound_trunk": INVALID_TRUNK}


def test_tenant_admin_sees_the_trunk_but_may_not_change_it(db, setup):
    tenants = resource("tenants")
    tenants.update(db, setup.op, setup.a.id, {"outbound_trunk": "acme-trunk"})
    db.commit()
    assert tenants.serialize(tenants.get(db, setup.adm, setup.a.id))["outbound_trunk"] == "acme-trunk"
    with pytest.raises(Invalid) as err:
        tenants.update(db, setup.adm, setup.a.id, {"outbound_trunk": "cheaper-trunk"})
    assert set(err.value.errors) == {"outbound_trunk"}
    db.rollback()
    # Sending back the value shown is no change, so the rest of their form still saves.
    tenants.update(db, setup.adm, setup.a.id, {"outbound_trunk": "acme-trunk", "name": "Acme inc."})
    db.commit()
    tenant = db.get(Tenant, setup.a.id)
    assert (tenant.outbound_trunk, tenant.name) == ("acme-trunk", "Acme inc.")
