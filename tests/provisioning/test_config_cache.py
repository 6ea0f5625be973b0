"""Rendered configuration files kept per device (web/provision/cache.py): a second fetch with nothing
changed is served from the cache, and every kind of change that goes into a phone's files is seen by
the next fetch. Each change is made through another session, committed, as another portal worker, the
command line or an import would: the cache must learn of it from the database, not from this process."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import delete, select

from clusterpbx.control.models import (
    Device,
    Extension,
    NodeKind,
    PbxNode,
    PersonalContact,
    PhoneKey,
    SyncState,
    Tenant,
    User,
)
from clusterpbx.provisioning import digest
from clusterpbx.provisioning.render import render_all
from clusterpbx.provisioning.vendors import VENDORS
from tests.provisioning.helpers import phone_setup

MAC = "0015651a2b3c"


def url(tenant, name):
    return f"/prov/{tenant.provisioning_key}/{name}"


def fetch(client, tenant, device, name):
    """One phone's fetch: the Digest challenge, then the authenticated request. The file is also the
    one the ORM's `device_config` builds (`clusterpbx provision render`): the endpoint builds it from
    its one-statement row instead."""
    path = url(tenant, name)
    first = client.get(path)
    assert first.status_code == 401, first.status_code
    header = digest.client_header(device.prov_username, device.prov_password, "GET", path,
                                  first.headers["WWW-Authenticate"])
    resp = client.get(path, headers={"Authorization": header})
    assert resp.status_code == 200, resp.status_code
    app = client.application
    with app.extensions["clusterpbx.sessions"]() as db:
        current = db.get(Device, device.id)
        reference = render_all(db, current, app.config["CLUSTERPBX"].public_url)
        canonical = VENDORS[current.vendor].canonical(name, current.mac, current.model)
    assert resp.data == reference[canonical].body
    return resp.get_data(as_text=True)


def cache(app):
    return app.extensions["clusterpbx.provcache"]


def colleague(db, tenant, number="219"):
    return db.scalar(select(User).join(Extension, Extension.user_id == User.id)
                     .where(Extension.tenant_id == tenant.id, Extension.number == number))


# Each change: (what is changed, the file, what must be in it afterwards, what must no longer be).
CHANGES = {
    "user_name": (lambda db, c: setattr(c["user"], "first_name", "Marielle"), "cfg",
                  "account.1.display_name = Marielle Tremblay", "display_name = Marie Tremblay"),
    "user_language": (lambda db, c: setattr(c["user"], "language", "en"), "cfg", "lang.gui = English",
                      "lang.gui = French"),
    "user_timezone": (lambda db, c: setattr(c["user"], "timezone", "America/Vancouver"), "cfg",
                      "local_time.time_zone = -8", "local_time.time_zone = -5"),
    "device_overrides": (lambda db, c: setattr(c["device"], "overrides", {"require_digest": True, "transport": "tls"}),
                         "cfg", "transport_type = 2", "transport_type = 0"),
    "device_template_params": (lambda db, c: setattr(c["device"], "overrides",
                                                      {"require_digest": True, "params": {"features.x": "7"}}),
                               "cfg", "features.x = 7", None),
    "device_password_rotated": (lambda db, c: setattr(c["device"], "prov_password", "prov-pass-2"), "cfg",
                                "server.password = prov-pass-2", "prov-pass-1"),
    "device_owner": (lambda db, c: setattr(c["device"], "user_id", colleague(db, c["tenant"]).id), "cfg",
                     "display_name = JP Vallée", "Marie"),
    "tenant_timezone": (lambda db, c: setattr(c["tenant"], "timezone", "Europe/Paris"), "cfg",
                        "local_time.time_zone = +1", "local_time.time_zone = -5"),
    "tenant_domain": (lambda db, c: setattr(c["tenant"], "domain", "acme2.test"), "cfg",
                      "sip_server.1.address = acme2.test", "address = acme.test"),
    "tenant_node": (lambda db, c: _on_node(db, c, "pbx.acme.test"), "cfg",
                    "sip_server.1.address = pbx.acme.test", "address = acme.test"),
    "node_sip_domain": (lambda db, c: _node_renamed(db, c), "cfg", "sip_server.1.address = pbx2.acme.test",
                        "address = pbx.acme.test"),
    "node_kind": (lambda db, c: _node_kind(db, c), "cfg", "outbound_proxy.1.address = pbx.acme.test",
                  "outbound_proxy.1.address = %NULL%"),
    "extension_password": (lambda db, c: setattr(c["user"].extensions[0], "sip_password", "new-sip-secret"),
                           "cfg", "account.1.password = new-sip-secret", None),
    "extension_added": (lambda db, c: db.add(Extension(tenant_id=c["tenant"].id, user_id=c["user"].id, number="251",
                                                       sip_username="acme-251", sip_password="x251")),
                        "cfg", "account.2.user_name = acme-251", None),
    "key_label": (lambda db, c: setattr(_key(db, c, 2), "label", "Jean-Pierre"), "cfg",
                  "linekey.2.label = Jean-Pierre", "JP & co"),
    "key_removed": (lambda db, c: db.delete(_key(db, c, 2)), "cfg", "linekey.2.type = 0", "linekey.2.type = 16"),
    "blf_target_deleted": (lambda db, c: db.execute(delete(Extension).where(Extension.number == "219")), "cfg",
                           "linekey.2.type = 0", "linekey.2.type = 16"),
    "contact_added": (lambda db, c: db.add(PersonalContact(user_id=c["user"].id, name="Fournisseur", number="5145550000")),
                      "phonebook", "<Name>Fournisseur</Name>", None),
    "colleague_renamed": (lambda db, c: _colleague_renamed(db, c), "phonebook", "<Name>Jean-Pierre Vallée</Name>",
                          "<Name>JP Vallée</Name>"),
    "colleague_deactivated": (lambda db, c: _colleague_set(db, c, active=False), "phonebook", None,
                              "<Name>JP Vallée</Name>"),
    "colleague_left_the_tenant": (lambda db, c: _colleague_elsewhere(db, c), "phonebook", None,
                                  "<Name>JP Vallée</Name>"),
    "colleague_extension_renumbered": (lambda db, c: _colleague_renumbered(db, c), "phonebook",
                                       "<Telephone>229</Telephone>", "<Telephone>219</Telephone>"),
}
NEEDS_CONTACT = {"colleague_renamed", "colleague_deactivated", "colleague_left_the_tenant",
                 "colleague_extension_renumbered"}


def _key(db, c, position):
    return db.scalar(select(PhoneKey).where(PhoneKey.user_id == c["user"].id, PhoneKey.position == position))


def _on_node(db, c, sip_domain, kind=NodeKind.ASTERISK):
    node = PbxNode(name="n1", kind=kind, host="10.0.0.5", port=5038, sip_domain=sip_domain)
    db.add(node)
    db.flush()
    c["tenant"].node_id = node.id


def _node_renamed(db, c):
    # The tenant was on the node already when the phone fetched; only the node changes.
    node = db.get(PbxNode, c["tenant"].node_id)
    node.sip_domain = "pbx2.acme.test"


def _node_kind(db, c):
    db.get(PbxNode, c["tenant"].node_id).kind = NodeKind.FREESWITCH


def _colleague_renamed(db, c):
    colleague(db, c["tenant"]).first_name = "Jean-Pierre"


def _colleague_set(db, c, **values):
    user = colleague(db, c["tenant"])
    for k, v in values.items():
        setattr(user, k, v)


def _colleague_elsewhere(db, c):
    other = Tenant(name="Other", domain="other.test", provisioning_key="o" * 24)
    db.add(other)
    db.flush()
    colleague(db, c["tenant"]).tenant_id = other.id


def _colleague_renumbered(db, c):
    db.scalar(select(Extension).where(Extension.tenant_id == c["tenant"].id, Extension.number == "219")).number = "229"


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_that_goes_into_the_files_is_served_at_once(app, client, db, world, change):
    tenant, user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = MAC, "prov-pass-1"
    device.overrides = {"require_digest": True}
    db.commit()
    if change in NEEDS_CONTACT:
        db.add(PersonalContact(user_id=user.id, ref_user_id=colleague(db, tenant).id))
        db.commit()
    if change == "node_sip_domain" or change == "node_kind":
        _on_node(db, {"tenant": tenant}, "pbx.acme.test")
        db.commit()
    apply, which, present, gone = CHANGES[change]
    name = f"{MAC}.cfg" if which == "cfg" else f"{MAC}-phonebook.xml"
    before = fetch(client, tenant, device, name)
    hits = cache(app).hits
    assert fetch(client, tenant, device, name) == before and cache(app).hits == hits + 1
    if gone is not None:
        assert gone in before
    apply(db, {"tenant": tenant, "user": user, "device": device})
    db.commit()
    db.expire_all()
    after = fetch(client, tenant, db.get(Device, device.id), name)
    assert after != before
    if present is not None:
        assert present in after
    if gone is not None:
        assert gone not in after
    # And the new file is the one kept from now on.
    hits = cache(app).hits
    assert fetch(client, tenant, db.get(Device, device.id), name) == after and cache(app).hits == hits + 1


def test_a_presence_key_appears_when_its_extension_is_created(app, client, db, world):
    tenant, user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = MAC, "prov-pass-1"
    device.overrides = {"require_digest": True}
    db.add(PhoneKey(user_id=user.id, position=3, kind="blf", value="230", label="New", sync_state=SyncState.APPLIED))
    db.commit()
    before = fetch(client, tenant, device, f"{MAC}.cfg")
    assert "linekey.3.value = 230" not in before and fetch(client, tenant, device, f"{MAC}.cfg") == before
    db.add(Extension(tenant_id=tenant.id, number="230", sip_username="acme-230", sip_password="x"))
    db.commit()
    assert "linekey.3.value = 230" in fetch(client, tenant, device, f"{MAC}.cfg")


def test_an_extension_of_another_company_never_makes_a_presence_key_appear(app, client, db, world):
    tenant, user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = MAC, "prov-pass-1"
    device.overrides = {"require_digest": True}
    db.add(PhoneKey(user_id=user.id, position=3, kind="blf", value="230", label="New", sync_state=SyncState.APPLIED))
    db.commit()
    before = fetch(client, tenant, device, f"{MAC}.cfg")
    other = world.tenant("other.test")
    world.user(other, extension="230")
    assert fetch(client, tenant, device, f"{MAC}.cfg") == before
    assert "linekey.3.value = 230" not in before


def test_a_colleagues_new_picture_of_the_same_size_reaches_the_snom_phonebook(app, client, db, world):
    """A new Google picture is stored without a new time stamp, and two pictures can have the same length:
    the picture's bytes are part of what the cache compares."""
    tenant, user, device = phone_setup(world, db, vendor="snom", model="D785")
    device.prov_username, device.prov_password = MAC, "prov-pass-1"
    device.overrides = {"require_digest": True}
    jp = colleague(db, tenant)
    jp.google_picture, jp.picture_source = b"\x89PNG-picture-one", "google"
    db.add(PersonalContact(user_id=user.id, ref_user_id=jp.id))
    db.commit()
    name = f"snomD785-{MAC.upper()}.htm"
    before = fetch(client, tenant, device, name)
    assert base64.b64encode(b"\x89PNG-picture-one").decode() in before
    assert fetch(client, tenant, device, name) == before
    jp.google_picture = b"\x89PNG-picture-two"
    db.commit()
    after = fetch(client, tenant, device, name)
    assert base64.b64encode(b"\x89PNG-picture-two").decode() in after


def test_a_new_tenant_key_or_network_or_a_deleted_phone_is_refused_at_once(app, client, db, world):
    tenant, _user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = MAC, "prov-pass-1"
    device.overrides = {"require_digest": True}
    db.commit()
    old_key = tenant.provisioning_key
    fetch(client, tenant, device, f"{MAC}.cfg")
    tenant.provisioning_key = "n" * 32
    db.commit()
    assert client.get(f"/prov/{old_key}/{MAC}.cfg").status_code == 404
    fetch(client, tenant, device, f"{MAC}.cfg")
    tenant.provisioning_networks = "192.0.2.0/24"
    db.commit()
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 404
    tenant.provisioning_networks = ""
    db.commit()
    fetch(client, tenant, device, f"{MAC}.cfg")
    db.delete(device)
    db.commit()
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 404


def test_a_phone_moved_to_another_company_gets_nothing_under_the_old_key(app, client, db, world):
    tenant, _user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = MAC, "prov-pass-1"
    device.overrides = {"require_digest": True}
    db.commit()
    fetch(client, tenant, device, f"{MAC}.cfg")
    other = world.tenant("other.test")
    device.tenant_id, device.user_id = other.id, None
    db.commit()
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 404
    assert "display_name = Marie" not in fetch(client, other, device, f"{MAC}.cfg")


def test_first_boot_window_reopened_after_the_config_was_cached(app, client, db, world):
    """The first-boot rule with the cache: a phone re-opened (`clusterpbx provision reopen`) or deleted
    and added again with the same MAC gets its file with the tenant key alone on its next fetch, and
    Digest is required again after it."""
    tenant, user, device = phone_setup(world, db)
    first = client.get(url(tenant, f"{MAC}.cfg"))
    assert first.status_code == 200
    db.refresh(device)
    assert device.overrides["_prov"]["armed"] is True
    fetch(client, tenant, device, f"{MAC}.cfg")
    fetch(client, tenant, device, f"{MAC}.cfg")  # now kept in the cache
    device.overrides = {"_prov": {"armed": False}}  # what `provision reopen` writes
    db.commit()
    again = client.get(url(tenant, f"{MAC}.cfg"))
    assert again.status_code == 200 and device.prov_password in again.get_data(as_text=True)
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 401
    # Deleted, then the same MAC added again: a new phone, a new first boot.
    db.delete(device)
    db.commit()
    new = Device(tenant_id=tenant.id, user_id=user.id, mac=MAC, vendor="yealink", model="T46S", overrides={})
    db.add(new)
    db.commit()
    resp = client.get(url(tenant, f"{MAC}.cfg"))
    assert resp.status_code == 200
    db.refresh(new)
    assert new.prov_password and new.prov_password in resp.get_data(as_text=True)
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 401


def test_the_cache_is_bounded():
    from clusterpbx.provisioning.model import Rendered
    from clusterpbx.web.provision.cache import ConfigCache

    cache = ConfigCache(max_entries=3, max_bytes=1000)
    for i in range(5):
        cache.put(i, "f", ("fp",), Rendered(b"x" * 10, "text/plain"))
    assert len(cache) == 3 and cache.get(0, "f", ("fp",)) is None and cache.get(4, "f", ("fp",)) is not None
    cache.put(9, "f", ("fp",), Rendered(b"y" * 900, "text/plain"))  # too big for a sixteenth: not kept
    assert cache.get(9, "f", ("fp",)) is None
    cache.put(10, "f", ("fp",), Rendered(b"y" * 60, "text/plain"))
    cache.put(11, "f", ("fp",), Rendered(b"y" * 60, "text/plain"))
    assert cache.get(4, "f", ("fp",)) is not None and cache.get(11, "f", ("fp",)) is not None
    assert cache.get(11, "f", ("other fingerprint",)) is None


def test_clean_fast_path_gives_what_the_character_walk_gives():
    """clean() skips its per-character walk for printable text: for every code point, alone and inside
    text, the result is the walk's (control, format and line/paragraph separators become spaces)."""
    import sys
    import unicodedata

    from clusterpbx.provisioning.model import clean

    def walk(value, max_length=200):
        text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in str(value))
        return text.strip()[:max_length]

    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        assert clean(f"a{c}b") == walk(f"a{c}b"), hex(cp)
    assert clean("  Réception\r\nligne 2\u202e ", 12) == walk("  Réception\r\nligne 2\u202e ", 12)
