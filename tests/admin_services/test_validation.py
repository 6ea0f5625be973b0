"""Every resource's validation: bad values refused field by field with the message that the screens
translate, nothing written on a refusal; users' extension, secrets, groups and queues."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from clusterpbx.control.admin import Actor, Invalid, resource
from clusterpbx.control.models import AuditEntry, Extension, QueueMembership, User
from clusterpbx.control.passwords import verify_password

from .conftest import sample

# (resource, bad data merged into a valid sample, expected errors)
CASES = [
    ("tenants", {"domain": "not a domain"}, {"domain": "Enter a domain name such as example.com."}),
    ("tenants", {"domain": "acme.test"}, {"domain": "A tenant with this domain already exists."}),
    ("tenants", {"name": "", "pw_min_length": "abc", "default_language": "de"},
     {"name": "This field is required.", "pw_min_length": "Enter a whole number.",
      "default_language": "Choose one of the proposed values."}),
    ("tenants", {"pw_min_length": 20, "pw_max_length": 10}, {"pw_min_length": "The minimum is larger than the maximum."}),
    ("tenants", {"pw_min_length": 0}, {"pw_min_length": "This number is too small."}),
    ("tenants", {"timezone": "Mars/Olympus"}, {"timezone": "Unknown time zone."}),
    ("tenants", {"email_domains": "a.test, not_a domain"}, {"email_domains": "Enter domain names separated by commas."}),
    ("tenants", {"provisioning_networks": "10.0.0.0/8, 300.1.1.1"},
     {"provisioning_networks": "Enter networks such as 192.0.2.0/24, separated by commas."}),
    ("tenants", {"conference_prefix": "*9a"}, {"conference_prefix": "Use digits, * and # only."}),
    ("tenants", {"name": "Acme\r\nX-Injected: 1"}, {"name": "Control characters are not allowed."}),
    ("tenants", {"node_id": 987654}, {"node_id": "This object does not exist."}),
    ("tenants", {"pw_numeric_only": True}, {"pw_numeric_only":
                                            "A numeric-only password cannot require letters or special characters."}),
    ("nodes", {"name": "bad name!"}, {"name": "Use letters, digits, '.', '_' and '-' only."}),
    ("nodes", {"name": "n1"}, {"name": "A node with this name already exists."}),
    ("nodes", {"kind": "kamailio", "port": 70000}, {"kind": "Choose one of the proposed values.",
                                                    "port": "This number is too large."}),
    ("nodes", {"host": "evil.test\r\nAction: Originate"}, {"host": "Control characters are not allowed."}),
    ("nodes", {"host": "a b"}, {"host": "Enter a host name or an IP address."}),
    ("nodes", {"options": "context=default\nshell=rm"}, {"options": "Enter one KEY=VALUE per line with a known key."}),
    ("users", {"email": "nope"}, {"email": "Enter a valid e-mail address."}),
    ("users", {"email": "user@acme.test"}, {"email": "A user with this e-mail address already exists."}),
    ("users", {"extension": "1x"}, {"extension": "An extension is 2 to 10 digits."}),
    ("users", {"extension": "101"}, {"extension": "This extension is already taken in this tenant."}),
    ("users", {"password": "short"}, {"password": "The password breaks the tenant's password policy."}),
    ("users", {"vm_pin": "12ab"}, {"vm_pin": "A voicemail PIN has digits only."}),
    ("users", {"vm_pin": "12"}, {"vm_pin": "The PIN length does not follow the tenant's policy."}),
    ("users", {"sip_password": "short"},
     {"sip_password": "A SIP password is 12 to 128 letters, digits or _ . - + = ! @ # % ^ * ~."}),
    ("users", {"sip_password": "a\"quote;in-it-long"},
     {"sip_password": "A SIP password is 12 to 128 letters, digits or _ . - + = ! @ # % ^ * ~."}),
    ("users", {"extension": "", "vm_pin": "4321"}, {"extension": "Give the user an extension first."}),
    ("users", {"language": "de", "role": "root", "active": "maybe"},
     {"language": "Choose one of the proposed values.", "role": "Choose one of the proposed values.",
      "active": "Enter yes or no."}),
    ("users", {"first_name": "x" * 81}, {"first_name": "This value is too long."}),
    ("users", {"timezone": "Nowhere/City"}, {"timezone": "Unknown time zone."}),
    ("users", {"destination_groups": "abc"}, {"destination_groups": "This object does not exist."}),
    ("users", {"queues": [987654]}, {"queues": "This object does not exist."}),
    ("devices", {"mac": "00:15:65:zz:00:01"}, {"mac": "Enter a MAC address such as 00:15:65:12:34:56."}),
    ("devices", {"vendor": "nokia"}, {"vendor": "Choose one of the proposed values."}),
    ("devices", {"model": "T99"}, {"model": "Unknown model for this vendor."}),
    ("devices", {"prov_username": "a b"}, {"prov_username": "Use letters, digits, '.', '_' and '-' only."}),
    ("devices", {"prov_password": "short"},
     {"prov_password": "A provisioning password is 12 to 128 letters, digits or _ . - ~."}),
    ("queues", {"name": "sup port"}, {"name": "Use letters, digits, '.', '_' and '-' only."}),
    ("queues", {"number": "6x"}, {"number": "A queue number is 2 to 10 digits."}),
    ("queues", {"strategy": "everyone"}, {"strategy": "Choose one of the proposed values."}),
    ("destination_groups", {"prefixes": "1514\n15x4"},
     {"prefixes": "Enter prefixes of 1 to 20 digits (an optional + first), one per line."}),
    ("destination_groups", {"name": "A;B"}, {"name": "A name cannot contain ';' (it separates names in CSV files)."}),
    ("pause_reasons", {"label": ""}, {"label": "This field is required."}),
    ("pause_reasons", {"label": "Dîner\x00"}, {"label": "Control characters are not allowed."}),
    ("rates", {"prefix": "15a"}, {"prefix": "Enter a prefix of 1 to 20 digits (an optional + first)."}),
    ("rates", {"per_minute": "0.00001"}, {"per_minute": "Enter a price such as 0.0250 (at most 4 decimals)."}),
    ("rates", {"per_minute": "-1"}, {"per_minute": "Enter a price such as 0.0250 (at most 4 decimals)."}),
    ("rates", {"per_minute": "NaN"}, {"per_minute": "Enter a price such as 0.0250 (at most 4 decimals)."}),
    ("rates", {"increment_seconds": 0}, {"increment_seconds": "This number is too small."}),
]


@pytest.mark.parametrize(("name", "bad", "expected"), CASES,
                         ids=[f"{c[0]}-{'-'.join(c[1])}" for c in CASES])
def test_refusals(db, setup, name, bad, expected):
    r = resource(name)
    actor = setup.op
    before = db.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(Invalid) as exc:
        r.create(db, actor, {**sample(name, setup, setup.a, 7), **bad})
    assert exc.value.errors == expected
    assert db.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_duplicates_within_tenant_only(db, setup):
    for name, field in (("queues", "name"), ("destination_groups", "name"), ("pause_reasons", "label"),
                        ("rates", "prefix")):
        r = resource(name)
        r.create(db, setup.op, sample(name, setup, setup.a, 1))
        with pytest.raises(Invalid) as exc:
            r.create(db, setup.op, sample(name, setup, setup.a, 1))
        assert list(exc.value.errors) == [field]
        r.create(db, setup.op, sample(name, setup, setup.b, 1))  # the other tenant may use it


def test_references_must_be_in_the_same_tenant(db, setup):
    theirs_group = resource("destination_groups").create(db, setup.op, sample("destination_groups", setup, setup.b))
    theirs_queue = resource("queues").create(db, setup.op, sample("queues", setup, setup.b))
    r = resource("users")
    with pytest.raises(Invalid) as exc:
        r.update(db, setup.adm, setup.user_a.id, {"destination_groups": [theirs_group.id],
                                                  "queues": [theirs_queue.id]})
    assert exc.value.errors == {"destination_groups": "This object does not exist.",
                                "queues": "This object does not exist."}
    with pytest.raises(Invalid) as exc:
        resource("queues").create(db, setup.adm, {"name": "q", "agents": [setup.user_b.id]})
    assert exc.value.errors == {"agents": "This object does not exist."}
    with pytest.raises(Invalid) as exc:
        resource("devices").create(db, setup.adm, {**sample("devices", setup, setup.a), "user_id": setup.user_b.id})
    assert exc.value.errors == {"user_id": "This object does not exist."}


def test_user_extension_and_secrets(db, setup):
    r = resource("users")
    u = r.create(db, setup.adm, {"email": "Nouvel.Usager@ACME.test", "extension": "310", "vm_pin": "2468",
                                 "sip_password": "Abcdefghijkl-123", "password": "Secret123", "role": "tenant_admin"})
    assert u.email == "nouvel.usager@acme.test" and u.tenant_id == setup.a.id
    ext = u.primary_extension
    assert (ext.number, ext.mailbox, ext.vm_pin, ext.sip_password) == ("310", "310", "2468", "Abcdefghijkl-123")
    assert verify_password(u.password_hash, "Secret123")
    data = r.serialize(u)
    assert data["extension"] == "310" and data["role"] == "tenant_admin"
    assert not {"password", "sip_password", "vm_pin", "password_hash"} & set(data)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "users", AuditEntry.object_id == str(u.id))
                       ).one()
    assert entry.after["sip_password"] == "(set)" and entry.after["vm_pin"] == "(set)"
    assert "Abcdefghijkl-123" not in str(entry.after) and "2468" not in str(entry.after)
    # Empty secrets on update: unchanged.
    r.update(db, setup.adm, u.id, {"sip_password": "", "vm_pin": "", "password": ""})
    assert (ext.vm_pin, ext.sip_password) == ("2468", "Abcdefghijkl-123")
    # A new number moves the extension; the PIN change is logged masked.
    version = u.session_version
    r.update(db, setup.adm, u.id, {"extension": "311", "vm_pin": "1357", "password": "Other1234"})
    db.flush()
    ext = db.scalar(select(Extension).where(Extension.user_id == u.id))
    assert (ext.number, ext.mailbox, ext.sip_username, ext.vm_pin) == ("311", "311", "311", "1357")
    assert verify_password(u.password_hash, "Other1234") and u.session_version == version + 1
    last = db.scalars(select(AuditEntry).where(AuditEntry.object_id == str(u.id)).order_by(AuditEntry.id.desc())).first()
    assert last.before["extension"] == "310" and last.after["extension"] == "311"
    assert last.after["vm_pin"] == "(changed)" and last.after["password"] == "(changed)"
    # Disabling ends every session.
    r.update(db, setup.adm, u.id, {"active": False})
    assert not u.active and u.session_version == version + 2
    # No extension any more.
    r.update(db, setup.adm, u.id, {"extension": ""})
    db.flush()
    assert db.scalar(select(Extension).where(Extension.user_id == u.id)) is None
    assert r.serialize(u)["extension"] == ""


def test_user_groups_queues_and_delete(db, setup):
    g = resource("destination_groups").create(db, setup.adm, {"name": "Local", "prefixes": "1514, 1438 1514"})
    assert resource("destination_groups").serialize(g)["prefixes"] == "1438\n1514"
    q1 = resource("queues").create(db, setup.adm, {"name": "support"})
    q2 = resource("queues").create(db, setup.adm, {"name": "ventes", "agents": [setup.user_a.id]})
    r = resource("users")
    r.update(db, setup.adm, setup.user_a.id, {"destination_groups": [g.id], "queues": f"{q1.id},{q2.id}",
                                              "can_use_blf": "yes", "record_calls": True})
    data = r.serialize(setup.user_a)
    assert data["destination_groups"] == [g.id] and data["queues"] == sorted([q1.id, q2.id])
    assert data["can_use_blf"] is True and data["record_calls"] is True
    assert resource("queues").serialize(q1)["agents"] == [setup.user_a.id]
    r.update(db, setup.adm, setup.user_a.id, {"queues": []})
    assert db.scalar(select(func.count()).select_from(QueueMembership)
                     .where(QueueMembership.user_id == setup.user_a.id)) == 0
    uid = setup.user_a.id
    r.delete(db, setup.adm, uid)
    db.commit()
    assert db.get(User, uid) is None
    assert db.scalar(select(Extension).where(Extension.number == "101", Extension.tenant_id == setup.a.id)) is None


def test_devices_defaults_and_update(db, setup):
    r = resource("devices")
    d = r.create(db, setup.adm, {"mac": "00-15-65-AB-CD-EF", "vendor": "cisco", "model": "cp-8841"})
    assert (d.mac, d.model, d.prov_username) == ("001565abcdef", "CP-8841", "001565abcdef")
    assert len(d.prov_password) >= 20 and "prov_password" not in r.serialize(d)
    old = d.prov_password
    r.update(db, setup.adm, d.id, {"label": "Réception", "prov_password": ""})
    assert d.prov_password == old and d.label == "Réception"
    r.update(db, setup.adm, d.id, {"user_id": setup.user_a.id})
    assert d.user_id == setup.user_a.id
    r.update(db, setup.adm, d.id, {"user_id": None})
    assert d.user_id is None


def test_list_search_sort_and_pages(db, setup):
    r = resource("users")
    page = r.list(db, setup.adm, search="ADMIN@", per_page=10)
    assert [u.email for u in page.items] == ["admin@acme.test"] and page.total == 1
    page = r.list(db, setup.adm, sort="-email", per_page=2)
    assert [u.email for u in page.items] == ["user@acme.test", "op@acme.test"] and page.total == 3
    page2 = r.list(db, setup.adm, sort="-email", per_page=2, page=2)
    assert [u.email for u in page2.items] == ["admin@acme.test"]
    # Unknown sort columns fall back; LIKE wildcards are literal.
    assert r.list(db, setup.adm, sort="password_hash").total == 3
    assert r.list(db, setup.adm, search="%").total == 0
    assert r.list(db, Actor.command_line(), search="user@").total == 2
