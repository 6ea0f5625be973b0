"""Each role's limits on every resource and operation: an operator everywhere, a tenant admin in
their own tenant only (other tenants' objects are NotFound, tenants and nodes are operator-made),
a user nowhere (Forbidden)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from clusterpbx.control.admin import Actor, Forbidden, Invalid, NotFound, resource, resources
from clusterpbx.control.models import AuditEntry, Role

from .conftest import ALL, SCOPED, UPDATES, make, sample


def test_registry_names():
    assert sorted(r.name for r in resources()) == sorted(ALL)
    for r in resources():
        names = [f.name for f in r.fields]
        assert len(names) == len(set(names)), r.name
        if r.name in SCOPED:
            assert "tenant_id" in names


@pytest.mark.parametrize("name", ALL)
def test_user_is_forbidden_everywhere(db, setup, name):
    obj = make(db, name, setup, setup.a)
    r = resource(name)
    with pytest.raises(Forbidden):
        r.list(db, setup.usr)
    with pytest.raises(Forbidden):
        r.get(db, setup.usr, obj.id)
    with pytest.raises(Forbidden):
        r.create(db, setup.usr, sample(name, setup, setup.a, 2))
    with pytest.raises(Forbidden):
        r.update(db, setup.usr, obj.id, UPDATES[name])
    with pytest.raises(Forbidden):
        r.delete(db, setup.usr, obj.id)


@pytest.mark.parametrize("name", SCOPED)
def test_tenant_admin_own_tenant_only(db, setup, name):
    r = resource(name)
    mine = make(db, name, setup, setup.a, 1)
    theirs = make(db, name, setup, setup.b, 2)
    listed = r.list(db, setup.adm, per_page=500)
    ids = {o.id for o in listed.items}
    assert mine.id in ids and theirs.id not in ids
    assert all(o.tenant_id == setup.a.id for o in listed.items)
    # Asking for the other tenant's list gives nothing, not their objects.
    assert r.list(db, setup.adm, tenant_id=setup.b.id).items == []
    # Another tenant's object by id: NotFound for every operation.
    with pytest.raises(NotFound):
        r.get(db, setup.adm, theirs.id)
    with pytest.raises(NotFound):
        r.update(db, setup.adm, theirs.id, UPDATES[name])
    with pytest.raises(NotFound):
        r.delete(db, setup.adm, theirs.id)
    with pytest.raises(NotFound):
        r.get(db, setup.adm, 987654)
    # Their own: every operation; a created object lands in their tenant, and naming another tenant
    # is refused (never silently replaced by their own).
    assert r.get(db, setup.adm, mine.id) is mine
    r.update(db, setup.adm, mine.id, UPDATES[name])
    with pytest.raises(Invalid) as exc:
        r.create(db, setup.adm, {**sample(name, setup, setup.a, 3), "tenant_id": setup.b.id})
    assert exc.value.errors == {"tenant_id": "You can only add objects to your own tenant."}
    created = r.create(db, setup.adm, {k: v for k, v in sample(name, setup, setup.a, 3).items() if k != "tenant_id"})
    assert created.tenant_id == setup.a.id
    r.delete(db, setup.adm, mine.id)
    db.commit()
    with pytest.raises(NotFound):
        r.get(db, setup.op, mine.id)
    assert r.get(db, setup.op, theirs.id) is theirs


@pytest.mark.parametrize("name", SCOPED)
def test_operator_sees_every_tenant_and_must_name_one(db, setup, name):
    r = resource(name)
    mine = make(db, name, setup, setup.a, 1)
    theirs = make(db, name, setup, setup.b, 2)
    ids = {o.id for o in r.list(db, setup.op, per_page=500).items}
    assert {mine.id, theirs.id} <= ids
    assert {o.tenant_id for o in r.list(db, setup.op, tenant_id=setup.b.id, per_page=500).items} == {setup.b.id}
    r.update(db, setup.op, theirs.id, UPDATES[name])
    data = sample(name, setup, setup.b, 3)
    data.pop("tenant_id")
    with pytest.raises(Invalid) as exc:
        r.create(db, setup.op, data)
    assert exc.value.errors["tenant_id"] == "This field is required."
    with pytest.raises(Invalid) as exc:
        r.create(db, setup.op, {**data, "tenant_id": 987654})
    assert exc.value.errors["tenant_id"] == "This object does not exist."
    r.delete(db, setup.op, theirs.id)


def test_tenants_as_tenant_admin(db, setup):
    r = resource("tenants")
    assert [t.id for t in r.list(db, setup.adm).items] == [setup.a.id]
    with pytest.raises(NotFound):
        r.get(db, setup.adm, setup.b.id)
    with pytest.raises(NotFound):
        r.update(db, setup.adm, setup.b.id, {"name": "Pwned"})
    with pytest.raises(Forbidden):
        r.create(db, setup.adm, sample("tenants", setup, setup.a))
    with pytest.raises(Forbidden):
        r.delete(db, setup.adm, setup.a.id)
    with pytest.raises(NotFound):
        r.delete(db, setup.adm, setup.b.id)
    # Their own tenant: the policy yes, the domain, node and providers no.
    r.update(db, setup.adm, setup.a.id, {"pw_min_length": 10, "allow_google_login": True})
    assert setup.a.pw_min_length == 10 and setup.a.allow_google_login
    for field, value in (("domain", "evil.test"), ("node_id", None), ("sms_monthly_quota", 99999)):
        with pytest.raises(Invalid) as exc:
            r.update(db, setup.adm, setup.a.id, {field: value})
        assert exc.value.errors == {field: "Only an operator may change this field."}
    # Sending back the unchanged value of an operator-only field (a whole form) is fine.
    r.update(db, setup.adm, setup.a.id, {**r.serialize(setup.a), "name": "Acme inc."})
    assert setup.a.name == "Acme inc." and setup.a.domain == "acme.test"


def test_tenants_as_operator(db, setup):
    r = resource("tenants")
    t = r.create(db, setup.op, {"name": "Nouvelle", "domain": "Nouvelle.TEST", "node_id": setup.node.id})
    assert t.domain == "nouvelle.test" and t.email_domains == "nouvelle.test" and t.node_id == setup.node.id
    assert len(t.provisioning_key) > 20
    assert {x.id for x in r.list(db, setup.op).items} >= {setup.a.id, setup.b.id, t.id}
    r.update(db, setup.op, t.id, {"domain": "renamed.test", "sms_monthly_quota": 10})
    assert t.domain == "renamed.test"
    r.delete(db, setup.op, t.id)
    db.commit()
    with pytest.raises(NotFound):
        r.get(db, setup.op, t.id)


def test_nodes_as_tenant_admin(db, setup):
    r = resource("nodes")
    other = make(db, "nodes", setup, setup.b)
    # They see their own tenant's node (never its secret) and nothing else.
    assert [n.id for n in r.list(db, setup.adm).items] == [setup.node.id]
    assert "secret" not in r.serialize(r.get(db, setup.adm, setup.node.id))
    with pytest.raises(NotFound):
        r.get(db, setup.adm, other.id)
    with pytest.raises(Forbidden):
        r.create(db, setup.adm, sample("nodes", setup, setup.a, 2))
    with pytest.raises(Forbidden):
        r.update(db, setup.adm, setup.node.id, {"host": "192.0.2.1"})
    with pytest.raises(Forbidden):
        r.delete(db, setup.adm, setup.node.id)
    with pytest.raises(NotFound):
        r.update(db, setup.adm, other.id, {"host": "192.0.2.1"})


def test_nodes_as_operator(db, setup):
    r = resource("nodes")
    n = r.create(db, setup.op, {"name": "fs1", "kind": "freeswitch", "secret": "ClueCon",
                                "options": "context=default\ntimezone=America/Montreal"})
    assert (n.port, n.host, n.secret) == (8021, "127.0.0.1", "ClueCon")
    assert n.options == {"context": "default", "timezone": "America/Montreal"}
    data = r.serialize(n)
    assert "secret" not in data and data["kind"] == "freeswitch"
    assert data["options"] == "context=default\ntimezone=America/Montreal"
    r.update(db, setup.op, n.id, {"secret": ""})  # empty secret: unchanged
    assert n.secret == "ClueCon"
    r.update(db, setup.op, n.id, {"secret": "other"})
    assert n.secret == "other"
    with pytest.raises(Invalid) as exc:
        r.delete(db, setup.op, setup.node.id)
    assert exc.value.errors == {"": "Tenants still live on this node."}
    r.delete(db, setup.op, n.id)


def test_users_role_limits(db, setup):
    r = resource("users")
    with pytest.raises(Invalid) as exc:
        r.create(db, setup.adm, {**sample("users", setup, setup.a), "role": "operator"})
    assert exc.value.errors == {"role": "Only an operator may grant the operator role."}
    with pytest.raises(Invalid):
        r.update(db, setup.adm, setup.user_a.id, {"role": "operator"})
    r.update(db, setup.adm, setup.user_a.id, {"role": "tenant_admin"})
    assert setup.user_a.role is Role.TENANT_ADMIN
    # The operator account of the tenant: visible, not changeable by the tenant admin.
    assert r.get(db, setup.adm, setup.operator.id) is setup.operator
    with pytest.raises(Forbidden):
        r.update(db, setup.adm, setup.operator.id, {"first_name": "X"})
    with pytest.raises(Forbidden):
        r.delete(db, setup.adm, setup.operator.id)
    # Operators may grant it.
    r.update(db, setup.op, setup.user_a.id, {"role": "operator"})
    assert setup.user_a.role is Role.OPERATOR
    # Nobody deletes or disables their own account.
    with pytest.raises(Invalid) as exc:
        r.delete(db, setup.adm, setup.admin_a.id)
    assert exc.value.errors == {"": "You cannot delete your own account."}
    with pytest.raises(Invalid) as exc:
        r.update(db, setup.adm, setup.admin_a.id, {"active": False})
    assert exc.value.errors == {"active": "You cannot disable your own account."}


def test_every_change_is_audited_with_who(db, setup):
    for name in ALL:
        obj = make(db, name, setup, setup.a if name != "tenants" else setup.a, 5)
        actor = setup.op if name in ("tenants", "nodes") else setup.adm
        resource(name).update(db, actor, obj.id, UPDATES[name])
        resource(name).delete(db, actor, obj.id)
        db.commit()
        rows = db.scalars(select(AuditEntry).where(AuditEntry.object_type == name,
                                                   AuditEntry.object_id == str(obj.id))
                          .order_by(AuditEntry.id)).all()
        assert [e.action for e in rows] == ["create", "update", "delete"], name
        create, update, delete = rows
        assert create.before is None and create.after["id"] == obj.id
        assert create.actor_id is None and create.actor_label == "command line"
        assert update.actor_id == actor.user_id and update.actor_label == actor.label
        changed = {k for k in update.after if update.before.get(k) != update.after.get(k)}
        assert changed == set(UPDATES[name]) - {"can_use_blf"} | ({"can_use_blf"} if name == "users" else set()), name
        assert delete.before == update.after and delete.after is None
        if name == "tenants":
            # The deleted tenant's history stays (for operators), detached from it.
            assert [e.tenant_id for e in rows] == [None, None, None]
        elif name == "nodes":
            assert delete.tenant_id is None
        else:
            assert delete.tenant_id == setup.a.id


def test_unchanged_update_writes_no_entry(db, setup):
    r = resource("users")
    before = db.query(AuditEntry).count()
    r.update(db, setup.adm, setup.user_a.id, {"first_name": setup.user_a.first_name})
    assert db.query(AuditEntry).count() == before


def test_command_line_actor_is_operator(db, setup):
    cli = Actor.command_line()
    assert cli.is_operator and cli.user_id is None
    assert resource("tenants").list(db, cli).total == 2


def test_operator_deletes_a_tenant_with_everything_in_it(db, setup):
    from clusterpbx.control.models import Device, Extension, Queue, Tenant, User

    for name in ("devices", "queues", "destination_groups", "pause_reasons", "rates"):
        make(db, name, setup, setup.b)
    # Make sure the users are loaded in the session (the ORM must not try to detach them).
    assert len(setup.b.users) == 2
    tid = setup.b.id
    resource("tenants").delete(db, setup.op, tid)
    db.commit()
    db.expire_all()
    assert db.get(Tenant, tid) is None
    for model in (User, Extension, Device, Queue):
        assert db.scalars(select(model).where(model.tenant_id == tid)).first() is None
    # Its history stays, for operators.
    entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "tenants",
                                                AuditEntry.object_id == str(tid), AuditEntry.action == "delete")).one()
    assert entry.tenant_id is None and entry.before["domain"] == "other.test"
    assert audit_search_count(db, setup) > 0


def audit_search_count(db, setup):
    from clusterpbx.control import audit

    return audit.search(db, setup.op, object_type="devices").total
