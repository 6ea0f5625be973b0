"""The outbound trunk through the REST API: an operator sets and reads it, bad names are a 400 on the field
(never a 500), a tenant admin reads it but may not change it, and the OpenAPI description has it."""

from __future__ import annotations

import pytest

from clusterpbx.control.models import AuditEntry, Tenant


def test_operator_sets_and_reads_the_trunk(api, db, two_tenants):
    w = two_tenants
    ops = api.as_(w.tokens["operator"])
    path = f"/api/v1/tenants/{w.a.tenant.id}"
    assert ops.get(path).get_json()["outbound_trunk"] == ""
    resp = ops.patch(path, {"outbound_trunk": "acme-trunk"})
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["outbound_trunk"] == "acme-trunk"
    assert ops.get(path).get_json()["outbound_trunk"] == "acme-trunk"
    db.expire_all()
    assert db.get(Tenant, w.a.tenant.id).outbound_trunk == "acme-trunk"
    entry = db.query(AuditEntry).filter_by(object_type="tenants", object_id=str(w.a.tenant.id),
                                           action="update").one()
    assert (entry.before["outbound_trunk"], entry.after["outbound_trunk"]) == ("", "acme-trunk")
    resp = ops.post("/api/v1/tenants", {"name": "Gamma", "domain": "gamma.test", "outbound_trunk": "gw.gamma"})
    assert resp.status_code == 201, resp.data
    assert resp.get_json()["outbound_trunk"] == "gw.gamma"


@pytest.mark.parametrize("value", ["acme trunk", "acme\r\nAction: Originate", "acme\n", "-acme", "acme;x",
                                   "x" * 65, "", 42, None, ["acme"], True])
def test_bad_values_are_400_on_the_field(api, db, two_tenants, value):
    w = two_tenants
    ops = api.as_(w.tokens["operator"])
    path = f"/api/v1/tenants/{w.a.tenant.id}"
    assert ops.patch(path, {"outbound_trunk": "acme-trunk"}).status_code == 200
    resp = ops.patch(path, {"outbound_trunk": value})
    if value == "":
        assert resp.status_code == 200  # empty: no trunk
        assert resp.get_json()["outbound_trunk"] == ""
        return
    assert resp.status_code == 400, (value, resp.data)
    assert set(resp.get_json()["errors"]) == {"outbound_trunk"}
    db.expire_all()
    assert db.get(Tenant, w.a.tenant.id).outbound_trunk == "acme-trunk"


def test_tenant_admin_reads_but_may_not_change_it(api, db, two_tenants):
    w = two_tenants
    w.a.tenant.outbound_trunk = "acme-trunk"
    db.commit()
    path = f"/api/v1/tenants/{w.a.tenant.id}"
    for token in ("admin_a", "integration_a"):
        admin = api.as_(w.tokens[token])
        assert admin.get(path).get_json()["outbound_trunk"] == "acme-trunk"
        resp = admin.patch(path, {"outbound_trunk": "cheaper-trunk"})
        assert resp.status_code == 400 and set(resp.get_json()["errors"]) == {"outbound_trunk"}, token
        # another tenant's trunk stays out of sight
        assert admin.get(f"/api/v1/tenants/{w.b.tenant.id}").status_code == 404
    db.expire_all()
    assert db.get(Tenant, w.a.tenant.id).outbound_trunk == "acme-trunk"


def test_openapi_describes_the_trunk(api, two_tenants):
    spec = api.as_(two_tenants.tokens["operator"]).get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    prop = schemas["TenantsUpdate"]["properties"]["outbound_trunk"]
    assert prop["type"] == "string" and prop["maxLength"] == 64 and prop["x-operator-only"] is True
    assert "PJSIP endpoint" in prop["description"]
    assert "outbound_trunk" in schemas["Tenants"]["properties"]
