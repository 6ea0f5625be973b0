"""Admin scoping (issue 21, "tenants are namespaces"): a tenant admin places users, phones and queues
only in their own tenant, through the services, the screens and the CSV import alike; nobody gives a
user an address in another tenant's e-mail domain; nothing moves to another tenant; another tenant's
ids look like ids that do not exist. (The REST API: tests/api/test_admin_tenant_scope.py.)

The reproduced bug: Acme's telephony administrator created a user with an address in Démo Inc.'s
e-mail domain."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pytest

from clusterpbx.control.accounts import create_tenant
from clusterpbx.control.admin import Actor, Invalid, NotFound, resource
from clusterpbx.control.admin.csvio import import_devices, import_users
from clusterpbx.control.models import AuditEntry, Device, Queue, QueueMembership, Role, Tenant, User
from tests.admin_web.scene import post, raw, text

OWN_TENANT_ONLY = "You can only add objects to your own tenant."
NO_TENANT_CHANGE = "An object cannot move to another tenant."
OTHER_DOMAIN = "This address's e-mail domain belongs to another tenant."
DOMAIN_IN_USE = "Users of another tenant have e-mail addresses in this domain."
OWN_TENANT_ONLY_FR = "Vous ne pouvez ajouter des objets qu'à votre propre domaine."
OTHER_DOMAIN_FR = "Le domaine de courriel de cette adresse appartient à un autre domaine."


@dataclass
class Two:
    acme: Tenant
    demo: Tenant
    admin_acme: User
    user_acme: User
    admin_demo: User
    user_demo: User
    operator: User
    device_demo: Device
    queue_acme: Queue
    queue_demo: Queue

    def actor(self, user: User) -> Actor:
        return Actor.of(user)


@pytest.fixture
def two(db: Any, world: Any) -> Two:
    acme = world.tenant("acme.test")
    # Démo Inc.: its portal domain and a second e-mail domain for sign-ups.
    demo = create_tenant(db, "Démo Inc.", "demo.test", email_domains="demo.test,demo-inc.test")
    db.commit()
    admin_acme = world.user(acme, email="admin@acme.test", role=Role.TENANT_ADMIN, extension="100", language="fr")
    user_acme = world.user(acme, email="alice@acme.test", extension="101")
    admin_demo = world.user(demo, email="admin@demo.test", role=Role.TENANT_ADMIN, extension="100", language="en")
    user_demo = world.user(demo, email="bob@demo-inc.test", extension="101")
    operator = world.user(acme, email="ops@acme.test", role=Role.OPERATOR, extension="199")
    cli = Actor.command_line("test setup")
    device_demo = resource("devices").create(db, cli, {"tenant_id": demo.id, "mac": "00:15:65:00:00:99",
                                                       "vendor": "yealink", "model": "T46S",
                                                       "user_id": user_demo.id})
    queue_acme = resource("queues").create(db, cli, {"tenant_id": acme.id, "name": "ventes", "agents": [user_acme.id]})
    queue_demo = resource("queues").create(db, cli, {"tenant_id": demo.id, "name": "soutien", "agents": [user_demo.id]})
    db.commit()
    return Two(acme, demo, admin_acme, user_acme, admin_demo, user_demo, operator, device_demo, queue_acme,
               queue_demo)


def new_data(kind: str, two: Two, n: int = 1) -> dict[str, Any]:
    """Valid create data for Acme, without a tenant."""
    return {
        "users": {"email": f"new{n}@acme.test", "first_name": "Nouvel", "extension": f"30{n}"},
        "devices": {"mac": f"00:15:65:00:01:0{n}", "vendor": "yealink", "model": "T46S", "user_id": two.user_acme.id},
        "queues": {"name": f"file{n}", "agents": [two.user_acme.id]},
    }[kind]


def counts(db: Any) -> tuple[int, int, int, int]:
    db.expire_all()
    return (db.query(User).count(), db.query(Device).count(), db.query(Queue).count(), db.query(AuditEntry).count())


# ---- services ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["users", "devices", "queues"])
def test_tenant_admin_naming_another_tenant_is_refused_not_rewritten(db, two, kind):
    before = counts(db)
    r = resource(kind)
    for tenant_id in (two.demo.id, str(two.demo.id), 987654):
        # Démo's id and an id that does not exist get the same answer: nothing is learnt about tenants.
        with pytest.raises(Invalid) as exc:
            r.create(db, two.actor(two.admin_acme), {**new_data(kind, two), "tenant_id": tenant_id})
        assert exc.value.errors == {"tenant_id": OWN_TENANT_ONLY}
    assert counts(db) == before
    # Their own tenant, named or not, is fine.
    mine = r.create(db, two.actor(two.admin_acme), {**new_data(kind, two, 1), "tenant_id": two.acme.id})
    also = r.create(db, two.actor(two.admin_acme), new_data(kind, two, 2))
    assert mine.tenant_id == also.tenant_id == two.acme.id


@pytest.mark.parametrize("kind", ["users", "devices", "queues"])
def test_nothing_moves_to_another_tenant(db, two, kind):
    mine = resource(kind).create(db, two.actor(two.admin_acme), new_data(kind, two))
    db.commit()
    for who in (two.admin_acme, two.operator):
        with pytest.raises(Invalid) as exc:
            resource(kind).update(db, two.actor(who), mine.id, {"tenant_id": two.demo.id})
        assert exc.value.errors == {"tenant_id": NO_TENANT_CHANGE}
        db.rollback()
    db.expire_all()
    assert db.get(type(mine), mine.id).tenant_id == two.acme.id
    # Naming the tenant it is in changes nothing.
    resource(kind).update(db, two.actor(two.operator), mine.id, {"tenant_id": two.acme.id})


def test_an_address_in_another_tenants_domain_is_refused_for_everyone(db, two):
    users = resource("users")
    before = counts(db)
    for who in (two.admin_acme, two.operator):
        # Démo's portal domain and its sign-up domain, in any case.
        for email in ("intrus@demo.test", "intrus@DEMO-INC.test"):
            with pytest.raises(Invalid) as exc:
                users.create(db, two.actor(who), {"tenant_id": two.acme.id, "email": email})
            assert exc.value.errors == {"email": OTHER_DOMAIN}
        # An existing account of Démo gets the same answer as a new address (nothing learnt about it).
        with pytest.raises(Invalid) as exc:
            users.create(db, two.actor(who), {"tenant_id": two.acme.id, "email": two.user_demo.email})
        assert exc.value.errors == {"email": OTHER_DOMAIN}
        # Changing an Acme user's address to Démo's domain, too.
        with pytest.raises(Invalid) as exc:
            users.update(db, two.actor(who), two.user_acme.id, {"email": "alice@demo.test"})
        assert exc.value.errors == {"email": OTHER_DOMAIN}
        db.rollback()
    assert counts(db) == before
    db.expire_all()
    assert db.get(User, two.user_acme.id).email == "alice@acme.test"
    # A domain no tenant claims, a subdomain of Démo's (another domain) and one's own are fine; the
    # operator may put a Démo address in Démo.
    users.create(db, two.actor(two.admin_acme), {"email": "consultant@gmail.test"})
    users.create(db, two.actor(two.admin_acme), {"email": "x@paris.demo.test"})
    users.create(db, two.actor(two.admin_acme), {"email": "nouveau@acme.test"})
    users.create(db, two.actor(two.operator), {"tenant_id": two.demo.id, "email": "carole@demo-inc.test"})
    # Editing another field of a user keeps their address as it is.
    users.update(db, two.actor(two.admin_acme), two.user_acme.id, {"email": "alice@acme.test", "first_name": "Alice"})


def test_a_tenant_cannot_claim_a_domain_other_tenants_users_have(db, two):
    tenants = resource("tenants")
    op = two.actor(two.operator)
    users = resource("users")
    users.create(db, op, {"tenant_id": two.acme.id, "email": "alice@partenaire.test"})
    db.commit()
    with pytest.raises(Invalid) as exc:
        tenants.update(db, op, two.demo.id, {"email_domains": "demo.test,partenaire.test"})
    assert exc.value.errors == {"email_domains": DOMAIN_IN_USE}
    db.rollback()
    with pytest.raises(Invalid) as exc:
        tenants.create(db, op, {"name": "Partenaire", "domain": "partenaire.test"})
    assert exc.value.errors == {"domain": DOMAIN_IN_USE}
    db.rollback()
    # Nor take as its own domain one another tenant accepts addresses in.
    with pytest.raises(Invalid) as exc:
        tenants.create(db, op, {"name": "Usurpateur", "domain": "demo-inc.test"})
    assert exc.value.errors == {"domain": "Another tenant accepts e-mail addresses in this domain."}
    db.rollback()
    # Acme itself may claim it (its own users), and Démo may keep its own domains.
    tenants.update(db, op, two.acme.id, {"email_domains": "acme.test,partenaire.test"})
    tenants.update(db, op, two.demo.id, {"email_domains": "demo.test,demo-inc.test", "name": "Démo Inc"})


def test_cross_tenant_references_look_like_missing_objects(db, two):
    """Already enforced before issue 21's scoping work; kept here so that the whole rule is in one place."""
    adm = two.actor(two.admin_acme)
    op = two.actor(two.operator)
    devices, queues, users = resource("devices"), resource("queues"), resource("users")
    missing = "This object does not exist."
    for who in (adm, op):
        with pytest.raises(Invalid) as exc:
            devices.create(db, who, {**new_data("devices", two), "tenant_id": two.acme.id,
                                     "user_id": two.user_demo.id})
        assert exc.value.errors == {"user_id": missing}
        with pytest.raises(Invalid) as exc:
            queues.update(db, who, two.queue_acme.id, {"agents": [two.user_acme.id, two.user_demo.id]})
        assert exc.value.errors == {"agents": missing}
        with pytest.raises(Invalid) as exc:
            users.update(db, who, two.user_acme.id, {"queues": [two.queue_demo.id]})
        assert exc.value.errors == {"queues": missing}
        db.rollback()
    for call in (lambda: users.update(db, adm, two.user_demo.id, {"first_name": "Pwned"}),
                 lambda: devices.update(db, adm, two.device_demo.id, {"user_id": two.user_acme.id}),
                 lambda: queues.update(db, adm, two.queue_demo.id, {"agents": [two.user_acme.id]})):
        with pytest.raises(NotFound):
            call()
        db.rollback()
    db.expire_all()
    assert db.query(QueueMembership).filter_by(user_id=two.user_demo.id).count() == 1
    assert db.get(Device, two.device_demo.id).user_id == two.user_demo.id


# ---- CSV import (service) ---------------------------------------------------------------------------

def test_csv_import_refuses_addresses_of_another_tenants_domain(db, two):
    before = counts(db)
    text_ = ("email,first_name,extension\n"
             "ok@acme.test,Oscar,310\n"
             "intrus@demo-inc.test,Ivan,311\n"
             "bob@demo-inc.test,Pwned,312\n")
    for who in (two.admin_acme, two.operator):
        report = import_users(db, two.actor(who), two.acme.id, text_, dry_run=False)
        assert [(e.line, e.field, e.message) for e in report.errors] == [
            (3, "email", OTHER_DOMAIN), (4, "email", OTHER_DOMAIN)]
    assert counts(db) == before
    assert db.get(User, two.user_demo.id).first_name != "Pwned"


def test_csv_import_into_another_tenant_is_not_found(db, two):
    """A guard: the CSV services already treated another tenant as one that does not exist."""
    with pytest.raises(NotFound):
        import_users(db, two.actor(two.admin_acme), two.demo.id, "email\nx@demo.test\n", dry_run=False)
    with pytest.raises(NotFound):
        import_devices(db, two.actor(two.admin_acme), two.demo.id,
                       "mac,vendor,model\n00:15:65:00:02:01,yealink,T46S\n", dry_run=False)
    # A phone line naming a Démo owner: no such user in Acme.
    report = import_devices(db, two.actor(two.admin_acme), two.acme.id,
                            "mac,vendor,model,owner\n00:15:65:00:02:02,yealink,T46S,bob@demo-inc.test\n", dry_run=False)
    assert [(e.line, e.field) for e in report.errors] == [(2, "owner")]


# ---- screens ----------------------------------------------------------------------------------------

def error_of(page: str, field: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', page)
    return m.group(1) if m else ""


def test_screens_refuse_another_tenant_with_a_translated_error(client, auth, db, two):
    before = counts(db)
    auth.login(two.admin_acme.email)  # in French
    forms = {
        "users": {"email": "carl@acme.test", "first_name": "Carl", "extension": "250", "language": "fr",
                  "role": "user", "active": "y"},
        "devices": {"mac": "00:15:65:00:03:01", "vendor": "yealink", "model": "T46S", "user_id": str(two.user_acme.id)},
        "queues": {"name": "ventes2", "strategy": "ringall"},
    }
    for kind, form in forms.items():
        for tenant in (str(two.demo.id), "987654", "pas-un-id", "9" * 30):
            resp = post(client, f"/admin/{kind}/new", {**form, "tenant_id": tenant})
            assert resp.status_code == 400, (kind, tenant, resp.status_code)
            if tenant != "pas-un-id":
                assert OWN_TENANT_ONLY_FR in text(resp), kind
    assert counts(db) == before
    # Without a tenant (the form offers none) each lands in Acme.
    for kind, form in forms.items():
        assert post(client, f"/admin/{kind}/new", form).status_code == 302, kind
    db.expire_all()
    assert db.query(User).filter_by(email="carl@acme.test").one().tenant_id == two.acme.id


def test_screens_refuse_an_address_of_another_tenants_domain(client, auth, db, two):
    auth.login(two.admin_acme.email)  # French
    form = {"email": "intrus@demo.test", "first_name": "Ivan", "extension": "251", "language": "fr",
            "role": "user", "active": "y"}
    resp = post(client, "/admin/users/new", form)
    assert resp.status_code == 400
    assert error_of(text(resp), "email") == OTHER_DOMAIN_FR
    resp = post(client, f"/admin/users/{two.user_acme.id}", {**form, "email": "alice@demo-inc.test",
                                                             "extension": "101"})
    assert resp.status_code == 400
    assert error_of(text(resp), "email") == OTHER_DOMAIN_FR
    db.expire_all()
    assert db.query(User).filter_by(email="intrus@demo.test").count() == 0
    assert db.get(User, two.user_acme.id).email == "alice@acme.test"
    # Démo's admin reads it in English, about Acme's domain.
    auth.logout()
    auth.login(two.admin_demo.email)
    resp = post(client, "/admin/users/new", {**form, "email": "intrus@acme.test", "language": "en"})
    assert resp.status_code == 400
    assert error_of(text(resp), "email") == OTHER_DOMAIN


def test_screens_keep_other_tenants_objects_out_of_reach(client, auth, db, two):
    """Guards of rules that held before issue 21's scoping work (404 for another tenant's ids, only
    their own users offered as owners and agents)."""
    auth.login(two.admin_acme.email)
    for path in (f"/admin/users/{two.user_demo.id}", f"/admin/devices/{two.device_demo.id}",
                 f"/admin/queues/{two.queue_demo.id}"):
        assert client.get(path).status_code == 404, path
        assert post(client, path, {"label": "Pwned", "first_name": "Pwned"}).status_code == 404, path
    resp = post(client, f"/admin/queues/{two.queue_acme.id}",
                {"name": "ventes", "strategy": "ringall", "agents": [str(two.user_acme.id), str(two.user_demo.id)]})
    assert resp.status_code == 400
    resp = post(client, "/admin/devices/new", {"mac": "00:15:65:00:03:02", "vendor": "yealink", "model": "T46S",
                                               "user_id": str(two.user_demo.id)})
    assert resp.status_code == 400
    db.expire_all()
    assert db.query(QueueMembership).filter_by(queue_id=two.queue_acme.id).count() == 1
    assert db.query(Device).filter_by(mac="001565000302").count() == 0


# ---- CSV import (screens) ---------------------------------------------------------------------------

def upload(client: Any, kind: str, content: str, **extra: Any) -> Any:
    data = {"step": "check", "file": (io.BytesIO(content.encode("utf-8")), "import.csv"), **extra}
    return post(client, f"/admin/csv/{kind}/import", data, page=f"/admin/csv/{kind}/import",
                content_type="multipart/form-data")


def test_csv_screen_refuses_another_tenant_and_its_domain(client, auth, db, two):
    before = counts(db)
    auth.login(two.admin_acme.email)  # French
    users_csv = "email,first_name,extension\r\nok@acme.test,Oscar,320\r\n"
    devices_csv = "mac,vendor,model\r\n00:15:65:00:04:01,yealink,T46S\r\n"
    # Naming Démo's tenant: 404 like a tenant that does not exist, for the check and the import.
    assert upload(client, "users", users_csv, tenant=str(two.demo.id)).status_code == 404
    assert upload(client, "devices", devices_csv, tenant=str(two.demo.id)).status_code == 404
    import base64
    content = base64.b64encode(users_csv.encode()).decode()
    assert post(client, "/admin/csv/users/import", {"step": "import", "content": content, "tenant": str(two.demo.id)},
                page="/admin/csv/users/import").status_code == 404
    # An address in Démo's domain: the line's error, in French; nothing imported.
    resp = upload(client, "users", users_csv + "intrus@demo-inc.test,Ivan,321\r\n")
    assert resp.status_code == 400
    assert OTHER_DOMAIN_FR in text(resp)
    assert "Confirmer l'importation" not in text(resp)
    assert counts(db) == before
    # Their own tenant, named or not, is fine.
    assert upload(client, "users", users_csv, tenant=str(two.acme.id)).status_code == 200
    assert 'name="content"' in raw(upload(client, "devices", devices_csv))
