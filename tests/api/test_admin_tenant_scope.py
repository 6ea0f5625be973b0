"""Admin scoping through the REST API (issue 21, "tenants are namespaces"): a body naming another
tenant is refused (400 on the field, never created in the caller's tenant instead), nothing moves to
another tenant, no account gets an address in another tenant's e-mail domain, and another tenant's
ids are 404 or "does not exist". The screens, CSV and services: tests/admin/test_tenant_scope.py."""

from __future__ import annotations

from clusterpbx.control.models import Device, Queue, QueueMembership, User

OWN_TENANT_ONLY = "You can only add objects to your own tenant."
NO_TENANT_CHANGE = "An object cannot move to another tenant."
OTHER_DOMAIN = "This address's e-mail domain belongs to another tenant."
MISSING = "This object does not exist."


def bodies(w, n=1):
    return {
        "users": {"email": f"new{n}@acme.test", "first_name": "Nouvel", "extension": f"35{n}"},
        "devices": {"mac": f"00:15:65:00:05:0{n}", "vendor": "yealink", "model": "T46S", "user_id": w.a.user.id},
        "queues": {"name": f"api{n}", "agents": [w.a.user.id]},
    }


def counts(db):
    db.expire_all()
    return db.query(User).count(), db.query(Device).count(), db.query(Queue).count()


def test_tenant_admin_body_naming_another_tenant_is_refused(api, db, two_tenants):
    w = two_tenants
    before = counts(db)
    for token in ("admin_a", "integration_a"):
        admin = api.as_(w.tokens[token])
        for name, body in bodies(w).items():
            for tenant_id in (w.b.tenant.id, 999999):  # another tenant or none at all: the same answer
                resp = admin.post(f"/api/v1/{name}", {**body, "tenant_id": tenant_id})
                assert resp.status_code == 400, (token, name, resp.data)
                assert resp.get_json()["errors"] == {"tenant_id": OWN_TENANT_ONLY}, (token, name)
    assert counts(db) == before
    admin = api.as_(w.tokens["admin_a"])
    for name, body in bodies(w, 2).items():
        resp = admin.post(f"/api/v1/{name}", {**body, "tenant_id": w.a.tenant.id})
        assert resp.status_code == 201, (name, resp.data)
        assert resp.get_json()["tenant_id"] == w.a.tenant.id


def test_nothing_moves_to_another_tenant(api, db, two_tenants):
    w = two_tenants
    for token in ("admin_a", "operator"):
        caller = api.as_(w.tokens[token])
        for name in ("users", "devices", "queues"):
            resp = caller.patch(f"/api/v1/{name}/{w.a.objects[name]}", {"tenant_id": w.b.tenant.id})
            assert resp.status_code == 400, (token, name, resp.data)
            assert resp.get_json()["errors"] == {"tenant_id": NO_TENANT_CHANGE}
    db.expire_all()
    assert db.get(User, w.a.user.id).tenant_id == w.a.tenant.id
    assert db.get(Device, w.a.objects["devices"]).tenant_id == w.a.tenant.id
    assert db.get(Queue, w.a.objects["queues"]).tenant_id == w.a.tenant.id


def test_no_address_in_another_tenants_domain(api, db, two_tenants):
    w = two_tenants
    before = counts(db)
    for token in ("admin_a", "operator"):
        caller = api.as_(w.tokens[token])
        resp = caller.post("/api/v1/users", {"tenant_id": w.a.tenant.id, "email": "intrus@globex.test"})
        assert resp.status_code == 400 and resp.get_json()["errors"] == {"email": OTHER_DOMAIN}, resp.data
        # Globex's existing account: the same answer, so the API does not tell whether it exists.
        resp = caller.post("/api/v1/users", {"tenant_id": w.a.tenant.id, "email": w.b.user.email})
        assert resp.status_code == 400 and resp.get_json()["errors"] == {"email": OTHER_DOMAIN}, resp.data
        resp = caller.patch(f"/api/v1/users/{w.a.user.id}", {"email": "user@GLOBEX.test"})
        assert resp.status_code == 400 and resp.get_json()["errors"] == {"email": OTHER_DOMAIN}, resp.data
    assert counts(db) == before
    assert db.get(User, w.a.user.id).email == "user@acme.test"
    resp = api.as_(w.tokens["admin_a"]).post("/api/v1/users", {"email": "freelance@mail.test"})
    assert resp.status_code == 201, resp.data


def test_cross_tenant_references_and_ids(api, db, two_tenants):
    """Guards of rules that held before issue 21's scoping work."""
    w = two_tenants
    admin = api.as_(w.tokens["admin_a"])
    resp = admin.post("/api/v1/devices", {**bodies(w)["devices"], "user_id": w.b.user.id})
    assert resp.status_code == 400 and resp.get_json()["errors"] == {"user_id": MISSING}
    resp = admin.patch(f"/api/v1/queues/{w.a.objects['queues']}", {"agents": [w.a.user.id, w.b.user.id]})
    assert resp.status_code == 400 and resp.get_json()["errors"] == {"agents": MISSING}
    resp = admin.patch(f"/api/v1/users/{w.a.user.id}", {"queues": [w.b.objects["queues"]]})
    assert resp.status_code == 400 and resp.get_json()["errors"] == {"queues": MISSING}
    for name, body in (("users", {"first_name": "Pwned"}), ("devices", {"user_id": w.a.user.id}),
                       ("queues", {"agents": [w.a.user.id]})):
        resp = admin.patch(f"/api/v1/{name}/{w.b.objects[name]}", body)
        assert resp.status_code == 404, (name, resp.data)
    db.expire_all()
    assert db.query(QueueMembership).filter_by(user_id=w.b.user.id).count() == 1
    assert db.get(Device, w.b.objects["devices"]).user_id == w.b.user.id
