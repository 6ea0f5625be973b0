"""Who may reach the administration screens: never a plain user (every admin URL, GET and POST), a
tenant admin only their own tenant's objects whatever id they type, an operator everything."""

from __future__ import annotations

from clusterpbx.control.models import AuditEntry, Device, Tenant, User
from tests.admin_web.scene import build, post, raw, text, token


def admin_urls(app, object_id, name="users"):
    """Every admin URL rule, with its arguments filled in, and the methods it accepts."""
    values = {"name": name, "object_id": object_id, "kind": "users"}
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin."):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", str(values[arg])).replace(f"<{arg}>", str(values[arg]))
        out.append((path, sorted(m for m in rule.methods if m in ("GET", "POST"))))
    return out


def test_plain_user_gets_404_on_every_admin_url(app, client, auth, db, world):
    s = build(db, world)
    auth.login(s.user_a.email)
    csrf = token(client, "/settings/account")
    urls = admin_urls(app, s.user_a.id)
    assert len(urls) >= 12
    for path, methods in urls:
        for method in methods:
            resp = client.open(path, method=method, data={"csrf_token": csrf, "active": "", "first_name": "X"})
            assert resp.status_code == 404, (method, path, resp.status_code)
    for name in ("tenants", "nodes", "devices", "queues", "destination_groups", "pause_reasons", "rates"):
        assert client.get(f"/admin/{name}/").status_code == 404
    db.expire_all()
    assert db.get(User, s.user_a.id).first_name == "Alice"
    assert db.get(User, s.user_a.id).active
    # No admin link in the menu for a plain user.
    assert 'href="/admin/"' not in raw(client.get("/home"))


def test_anonymous_is_sent_to_login(client, db, world):
    build(db, world)
    resp = client.get("/admin/users/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_admin_link_in_menu_for_admins(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    home = raw(client.get("/home"))
    assert 'href="/admin/"' in home and "Administration" in home


def test_tenant_admin_cannot_reach_another_tenant_by_id(app, client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    b_user, b_device, b_tenant = s.user_b.id, s.device_b, s.tb.id
    for path in (f"/admin/users/{b_user}", f"/admin/users/{b_user}/delete", f"/admin/devices/{b_device}",
                 f"/admin/devices/{b_device}/delete", f"/admin/tenants/{b_tenant}",
                 f"/admin/tenants/{b_tenant}/delete", f"/admin/destination_groups/{s.group_b}"):
        if path.startswith("/admin/destination_groups/") and client.get("/admin/destination_groups/").status_code == 404:
            continue  # resource not built yet
        assert client.get(path).status_code == 404, path
        resp = post(client, path, {"first_name": "Pwned", "label": "Pwned", "name": "Pwned", "active": ""})
        assert resp.status_code == 404, path
    for action in ("reset-password", "disable", "enable"):
        assert post(client, f"/admin/users/{b_user}/{action}", {}).status_code == 404, action
    # List filters and searches never show tenant B.
    for path in (f"/admin/users/?tenant={b_tenant}", "/admin/users/?q=bob", f"/admin/devices/?tenant={b_tenant}",
                 "/admin/devices/?q=0015", f"/admin/tenants/?tenant={b_tenant}", "/admin/tenants/?q=beta"):
        page = text(client.get(path))
        assert "bob@beta.test" not in page and "Bureau de Bob" not in page and "beta.test" not in page, path
    assert "alice@acme.test" in text(client.get("/admin/users/"))
    assert 'id="tenant-filter"' not in raw(client.get("/admin/users/"))
    # The audit log: tenant B's entries stay invisible, whatever the filters say.
    for path in ("/admin/audit/", f"/admin/audit/?tenant={b_tenant}", "/admin/audit/?type=users",
                 "/admin/audit/?type=devices"):
        page = text(client.get(path))
        assert "bob@beta.test" not in page and "Bureau de Bob" not in page, path
    # Creating with another tenant's id in the post is refused (not silently moved to the admin's own
    # tenant); without it the user lands in their tenant. A reference to another tenant's destination
    # group is refused and nothing is written.
    resp = post(client, "/admin/users/new", {"email": "carl@acme.test", "tenant_id": str(b_tenant),
                                             "extension": "250"})
    assert resp.status_code == 400
    assert db.query(User).filter_by(email="carl@acme.test").count() == 0
    resp = post(client, "/admin/users/new", {"email": "carl@acme.test", "extension": "250"})
    assert resp.status_code == 302
    db.expire_all()
    carl = db.query(User).filter_by(email="carl@acme.test").one()
    assert carl.tenant_id == s.ta.id
    resp = post(client, f"/admin/users/{carl.id}", {"email": "carl@acme.test", "first_name": "Carl",
                                                    "destination_groups": str(s.group_b)})
    assert resp.status_code == 400
    db.expire_all()
    assert db.get(User, carl.id).first_name != "Carl"
    assert db.get(User, carl.id).destination_groups == []
    # Nothing of tenant B changed.
    db.expire_all()
    bob = db.get(User, b_user)
    assert (bob.first_name, bob.active) == ("Bob", True)
    assert db.get(Device, b_device).label == "Bureau de Bob"
    assert db.query(AuditEntry).filter(AuditEntry.tenant_id == b_tenant, AuditEntry.actor_id == s.admin_a.id).count() == 0


def test_tenant_admin_may_not_create_tenants_or_touch_nodes(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    assert client.get("/admin/tenants/new").status_code == 403
    assert post(client, "/admin/tenants/new", {"name": "X", "domain": "x.test"}).status_code == 403
    assert post(client, f"/admin/tenants/{s.ta.id}/delete", {}).status_code == 403
    assert "Ajouter" not in text(client.get("/admin/tenants/"))
    # Their own tenant: editable except the operator's fields, shown read-only.
    page = text(client.get(f"/admin/tenants/{s.ta.id}"))
    assert 'name="name"' in page and 'name="domain"' not in page and "acme.test" in page
    db.expire_all()
    assert db.query(Tenant).count() == 3


def test_operator_sees_every_tenant(client, auth, db, world):
    s = build(db, world)
    auth.login(s.operator.email)
    page = text(client.get("/admin/tenants/"))
    assert "acme.test" in page and "beta.test" in page
    page = text(client.get("/admin/users/?q=bob"))
    assert "bob@beta.test" in page
    assert "bob@beta.test" in text(client.get(f"/admin/users/?tenant={s.tb.id}"))
    assert "alice@acme.test" not in text(client.get(f"/admin/users/?tenant={s.tb.id}"))
    assert client.get(f"/admin/users/{s.user_b.id}").status_code == 200
    assert 'id="tenant-filter"' in raw(client.get("/admin/users/")) and 'id="a-tenant"' in raw(client.get("/admin/audit/"))
    assert client.get("/admin/nodes/new").status_code == 200
    assert "bob@beta.test" in text(client.get("/admin/audit/"))


def test_post_without_csrf_is_refused(client, auth, db, world):
    s = build(db, world)
    auth.login(s.admin_a.email)
    resp = client.post(f"/admin/users/{s.user_a.id}", data={"email": "alice@acme.test", "first_name": "Evil"})
    assert resp.status_code == 400
    resp = client.post(f"/admin/users/{s.user_a.id}/disable", data={})
    assert resp.status_code == 400
    db.expire_all()
    assert db.get(User, s.user_a.id).first_name == "Alice" and db.get(User, s.user_a.id).active


def test_tenant_admin_sees_their_node_read_only(client, auth, db, world):
    from clusterpbx.control.models import NodeKind, PbxNode

    s = build(db, world)
    node = PbxNode(name="pbx-acme", kind=NodeKind.ASTERISK, host="10.1.1.1", port=5038, username="ami",
                   secret="ami-secret-value")
    other = PbxNode(name="pbx-beta", kind=NodeKind.FREESWITCH, host="10.2.2.2", port=8021)
    db.add_all([node, other])
    db.flush()
    s.ta.node_id, s.tb.node_id = node.id, other.id
    db.commit()
    auth.login(s.admin_a.email)
    page = text(client.get("/admin/nodes/"))
    assert "pbx-acme" in page and "pbx-beta" not in page and "Ajouter" not in page
    page = raw(client.get(f"/admin/nodes/{node.id}"))
    assert "pbx-acme" in page and "ami-secret-value" not in page
    assert 'name="host"' not in page and 'name="name"' not in page and "10.1.1.1" in page
    assert "Tester la connexion" not in page and "Enregistrer" not in page
    assert post(client, f"/admin/nodes/{node.id}", {"host": "6.6.6.6"}).status_code == 403
    assert post(client, f"/admin/nodes/{node.id}/test", {}).status_code in (403, 404)
    assert client.get(f"/admin/nodes/{other.id}").status_code == 404
    db.expire_all()
    assert db.get(PbxNode, node.id).host == "10.1.1.1"


def test_every_resource_hides_other_tenants_objects(client, auth, db, world):
    """Whatever the resource, tenant B's object ids are 404 for tenant A's admin on every screen,
    and B's objects never appear in A's lists."""
    from clusterpbx.control.admin import resources

    s = build(db, world)
    auth.login(s.admin_a.email)
    names = {r.name for r in resources()}
    assert {"users", "devices", "queues", "destination_groups", "pause_reasons", "rates", "tenants"} <= names
    for name, oid in s.others_b.items():
        for path in (f"/admin/{name}/{oid}", f"/admin/{name}/{oid}/delete"):
            assert client.get(path).status_code == 404, path
            assert post(client, path, {"label": "x", "name": "x"}).status_code == 404, path
        page = text(client.get(f"/admin/{name}/?tenant={s.tb.id}"))
        for marker in ("beta-support", "Beta support", "Beta lunch", "1900", "Beta local", "bob@beta.test",
                       "beta.test"):
            assert marker not in page, (name, marker)
    # Reference choices (owners, agents, groups) only offer tenant A's objects.
    for path in ("/admin/devices/new", "/admin/queues/new", "/admin/users/new"):
        page = text(client.get(path))
        assert "bob@beta.test" not in page and "Beta local" not in page and "beta-support" not in page, path
