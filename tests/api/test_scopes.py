"""Each role's limits on every administration route, for every registered resource: a tenant admin
gets 404 for another tenant's ids (GET, PATCH, DELETE) and never lists them, whatever the filters; a
user gets 403 on every admin route; an operator reaches everything."""

from __future__ import annotations

from clusterpbx.control.admin import resources
from clusterpbx.control.models import AuditEntry, Device, Tenant, User

RESOURCES = sorted(r.name for r in resources())


def test_every_registered_resource_is_covered(two_tenants):
    # A new resource must get an object in the fixture, so the scope tests below try it too.
    assert set(RESOURCES) <= set(two_tenants.b.objects), set(RESOURCES) - set(two_tenants.b.objects)
    assert {"tenants", "users", "devices"} <= set(RESOURCES)


def test_tenant_admin_cannot_reach_another_tenant(api, db, two_tenants):
    for name in RESOURCES:
        _tenant_admin_cannot_reach(api, two_tenants, name)


def _tenant_admin_cannot_reach(api, w, name):
    admin = api.as_(w.tokens["admin_a"])
    theirs = w.b.objects[name]
    for resp in (admin.get(f"/api/v1/{name}/{theirs}"),
                 admin.patch(f"/api/v1/{name}/{theirs}", {}),
                 admin.delete(f"/api/v1/{name}/{theirs}")):
        assert resp.status_code == 404, (name, resp.status_code, resp.data)
        assert resp.get_json() == {"errors": {"": "Not found."}}
    # Still there.
    assert api.as_(w.tokens["operator"]).get(f"/api/v1/{name}/{theirs}").status_code == 200
    # Listing, with or without the other tenant's filter or a search for it, shows only their own.
    for query in ("", f"?tenant_id={w.b.tenant.id}", "?search=globex", "?per_page=500"):
        resp = admin.get(f"/api/v1/{name}{query}")
        assert resp.status_code == 200, (name, query, resp.data)
        ids = {item["id"] for item in resp.get_json()["items"]}
        assert theirs not in ids, (name, query)
        for item in resp.get_json()["items"]:
            if "tenant_id" in item:
                assert item["tenant_id"] == w.a.tenant.id
    # Their own object is reachable.
    mine = w.a.objects[name]
    assert admin.get(f"/api/v1/{name}/{mine}").status_code == 200


def test_integration_tenant_admin_token_has_the_same_limits(api, two_tenants):
    w = two_tenants
    integ = api.as_(w.tokens["integration_a"])
    assert integ.get(f"/api/v1/users/{w.a.user.id}").status_code == 200
    assert integ.get(f"/api/v1/users/{w.b.user.id}").status_code == 404
    assert integ.delete(f"/api/v1/devices/{w.b.objects['devices']}").status_code == 404
    users = integ.get("/api/v1/users?per_page=500").get_json()["items"]
    assert {u["email"] for u in users} >= {"user@acme.test"} and not any("globex" in u["email"] for u in users)


def test_tenant_admin_cannot_move_an_object_to_another_tenant(api, db, two_tenants):
    w = two_tenants
    admin = api.as_(w.tokens["admin_a"])
    # Naming another tenant is refused, not silently replaced by their own.
    resp = admin.post("/api/v1/pause_reasons", {"label": "Break", "tenant_id": w.b.tenant.id})
    assert resp.status_code == 400, resp.data
    assert resp.get_json()["errors"] == {"tenant_id": "You can only add objects to your own tenant."}
    resp = admin.post("/api/v1/pause_reasons", {"label": "Break"})
    assert resp.status_code == 201, resp.data
    assert resp.get_json()["tenant_id"] == w.a.tenant.id
    resp = admin.patch(f"/api/v1/devices/{w.a.objects['devices']}", {"tenant_id": w.b.tenant.id})
    assert resp.status_code == 400 and resp.get_json()["errors"] == {
        "tenant_id": "An object cannot move to another tenant."}
    db.expire_all()
    assert db.get(Device, w.a.objects["devices"]).tenant_id == w.a.tenant.id


def test_tenant_admin_cannot_create_tenants_or_grant_operator(api, db, two_tenants):
    w = two_tenants
    admin = api.as_(w.tokens["admin_a"])
    assert admin.post("/api/v1/tenants", {"name": "Evil", "domain": "evil.test"}).status_code == 403
    assert admin.delete(f"/api/v1/tenants/{w.a.tenant.id}").status_code == 403
    resp = admin.patch(f"/api/v1/users/{w.a.user.id}", {"role": "operator"})
    assert resp.status_code == 400 and "role" in resp.get_json()["errors"]
    db.expire_all()
    assert db.get(User, w.a.user.id).role.value == "user"
    assert db.get(Tenant, w.a.tenant.id) is not None


def test_user_gets_403_on_admin_routes(api, two_tenants):
    for name in RESOURCES:
        _user_gets_403(api, two_tenants, name)


def _user_gets_403(api, w, name):
    user = api.as_(w.tokens["user_a"])
    mine = w.a.objects[name]
    for resp in (user.get(f"/api/v1/{name}"), user.post(f"/api/v1/{name}", {}),
                 user.get(f"/api/v1/{name}/{mine}"), user.patch(f"/api/v1/{name}/{mine}", {}),
                 user.delete(f"/api/v1/{name}/{mine}")):
        assert resp.status_code == 403, (name, resp.request.method, resp.status_code, resp.data)
        assert resp.is_json and "errors" in resp.get_json()
    assert user.get("/api/v1/audit").status_code == 403


def test_operator_reaches_both_tenants(api, two_tenants):
    w = two_tenants
    ops = api.as_(w.tokens["integration_ops"])
    for side in (w.a, w.b):
        for name in RESOURCES:
            assert ops.get(f"/api/v1/{name}/{side.objects[name]}").status_code == 200, name
    assert ops.get(f"/api/v1/users?tenant_id={w.b.tenant.id}").get_json()["total"] == 2


def test_changes_are_audited_and_audit_is_scoped(api, db, two_tenants):
    w = two_tenants
    admin_a, admin_b = api.as_(w.tokens["admin_a"]), api.as_(w.tokens["admin_b"])
    resp = admin_a.patch(f"/api/v1/users/{w.a.user.id}", {"department": "Sales"})
    assert resp.status_code == 200 and resp.get_json()["department"] == "Sales"
    admin_b.patch(f"/api/v1/users/{w.b.user.id}", {"department": "Support"})
    entries = [e for e in admin_a.get("/api/v1/audit?object_type=users&per_page=500").get_json()["items"]
               if e["action"] == "update"]
    assert [e["after"]["department"] for e in entries] == ["Sales"]
    assert entries[0]["actor_id"] == w.a.admin.id and entries[0]["tenant_id"] == w.a.tenant.id
    # Asking for the other tenant's log gives nothing.
    assert admin_a.get(f"/api/v1/audit?tenant_id={w.b.tenant.id}").get_json()["items"] == []
    everything = api.as_(w.tokens["operator"]).get("/api/v1/audit?per_page=500").get_json()
    assert everything["total"] == db.query(AuditEntry).count() >= 2


def test_unknown_resource_and_huge_ids_are_404(api, two_tenants):
    ops = api.as_(two_tenants.tokens["operator"])
    assert ops.get("/api/v1/widgets").status_code == 404
    assert ops.get("/api/v1/users/99999999999999999999").status_code == 404
    assert ops.get("/api/v1/users/2147483648").status_code == 404
    assert ops.get("/api/v1/users/0").status_code == 404
    assert ops.get("/api/v1/users?tenant_id=99999999999").status_code == 400


def test_operator_deletes_a_tenant_with_users_and_its_tokens_stop(api, db, two_tenants):
    w = two_tenants
    assert api.as_(w.tokens["admin_b"]).get("/api/v1/me").status_code == 200
    resp = api.as_(w.tokens["operator"]).delete(f"/api/v1/tenants/{w.b.tenant.id}")
    assert resp.status_code == 204, resp.data
    assert api.as_(w.tokens["operator"]).get(f"/api/v1/tenants/{w.b.tenant.id}").status_code == 404
    assert api.as_(w.tokens["admin_b"]).get("/api/v1/me").status_code == 401
    assert api.as_(w.tokens["user_b"]).get("/api/v1/me").status_code == 401
    # The other tenant is untouched.
    assert api.as_(w.tokens["admin_a"]).get(f"/api/v1/users/{w.a.user.id}").status_code == 200


def test_actions_and_csv_are_scoped_too(api, db, two_tenants):
    w = two_tenants
    admin = api.as_(w.tokens["admin_a"])
    user = api.as_(w.tokens["user_a"])
    assert admin.post(f"/api/v1/users/{w.b.user.id}/reset-password").status_code == 404
    assert admin.post(f"/api/v1/nodes/{w.b.objects['nodes']}/test").status_code == 404
    assert admin.get(f"/api/v1/users/export?tenant_id={w.b.tenant.id}").status_code == 404
    assert admin.get(f"/api/v1/devices/export?tenant_id={w.b.tenant.id}").status_code == 404
    csv = "email,first_name,extension\r\nintruder@globex.test,Eve,199\r\n"
    resp = admin.request("POST", f"/api/v1/users/import?tenant_id={w.b.tenant.id}", raw=csv, content_type="text/csv")
    assert resp.status_code == 404
    for resp in (user.post(f"/api/v1/users/{w.a.user.id}/reset-password"), user.get("/api/v1/users/export"),
                 user.request("POST", "/api/v1/users/import", raw=csv, content_type="text/csv")):
        assert resp.status_code == 403, resp.data
    assert db.query(User).filter_by(email="intruder@globex.test").count() == 0
    # Their own tenant: the export is theirs only.
    exported = admin.get("/api/v1/users/export")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert "user@acme.test" in text and "globex" not in text
    # An operator must name the tenant.
    ops = api.as_(w.tokens["operator"])
    assert ops.get("/api/v1/users/export").status_code == 400
    assert "user@globex.test" in ops.get(f"/api/v1/users/export?tenant_id={w.b.tenant.id}").get_data(as_text=True)


def test_csv_import_dry_run_then_for_real(api, db, two_tenants):
    w = two_tenants
    admin = api.as_(w.tokens["admin_a"])
    good = "email,first_name,last_name,extension\r\nnew.one@acme.test,New,One,150\r\n"
    resp = admin.request("POST", "/api/v1/users/import?dry_run=true", raw=good, content_type="text/csv")
    assert resp.status_code == 200, resp.data
    assert resp.get_json()["dry_run"] is True and resp.get_json()["created"] == 1
    assert db.query(User).filter_by(email="new.one@acme.test").count() == 0
    bad = good + "not-an-email,Bad,Line,151\r\n"
    resp = admin.request("POST", "/api/v1/users/import", raw=bad, content_type="text/csv")
    assert resp.status_code == 400 and "line 3" in resp.get_json()["errors"], resp.get_json()
    assert db.query(User).filter_by(email="new.one@acme.test").count() == 0
    resp = admin.request("POST", "/api/v1/users/import", raw=good, content_type="text/csv")
    assert resp.status_code == 200 and resp.get_json()["created"] == 1
    db.expire_all()
    assert db.query(User).filter_by(email="new.one@acme.test").one().tenant_id == w.a.tenant.id
    assert admin.request("POST", "/api/v1/users/import", raw=b"\xff\xfe", content_type="text/csv").status_code == 400
    assert admin.post("/api/v1/users/import", {"email": "x"}).status_code == 400  # JSON is not CSV


def test_reset_password_sends_the_link(api, db, two_tenants, app):
    w = two_tenants
    resp = api.as_(w.tokens["admin_a"]).post(f"/api/v1/users/{w.a.user.id}/reset-password")
    assert resp.status_code == 202, resp.data
    entries = api.as_(w.tokens["admin_a"]).get("/api/v1/audit?object_type=users").get_json()["items"]
    assert any(e["action"] == "reset_password" and e["object_id"] == str(w.a.user.id) for e in entries)
