"""The HTTP endpoint phones fetch from: tenant URL key, first-boot window then per-device Digest,
source networks, uniform 404/401 refusals, rate limit, fail2ban log line and the fetch log."""

from __future__ import annotations

import logging
import re
import time

import pytest
from sqlalchemy import select

from clusterpbx.control.models import Device, ProvisioningFetch
from clusterpbx.provisioning import digest
from clusterpbx.web.provision import fetchlog
from tests.provisioning.helpers import phone_setup

FAIL2BAN = re.compile(r"provisioning refused: address=(?P<host>\S+) reason=\S+ path=\S+")


def url(tenant, name):
    return f"/prov/{tenant.provisioning_key}/{name}"


def fetches(db):
    fetchlog.flush_all()  # the log is written in batches; the test reads it now
    db.expire_all()
    return db.scalars(select(ProvisioningFetch).order_by(ProvisioningFetch.id)).all()


def digest_get(client, path, username, password, **kw):
    first = client.get(path, **kw)
    assert first.status_code == 401
    header = digest.client_header(username, password, "GET", path, first.headers["WWW-Authenticate"])
    return client.get(path, headers={"Authorization": header, **kw.pop("headers", {})}, **kw)


def test_first_boot_then_digest_required(client, db, world):
    tenant, _user, device = phone_setup(world, db)
    resp = client.get(url(tenant, "0015651a2b3c.cfg"))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    db.refresh(device)
    body = resp.get_data(as_text=True)
    # Credentials were generated and written into the config so the phone keeps using them.
    assert device.prov_password and f"static.auto_provision.server.password = {device.prov_password}" in body
    assert "linekey.2.type = 16" in body and "linekey.2.label = JP & co" in body
    # From now on the MAC alone (plus the tenant key) is not enough.
    again = client.get(url(tenant, "0015651a2b3c.cfg"))
    assert again.status_code == 401
    challenge = again.headers["WWW-Authenticate"]
    assert challenge.startswith("Digest ") and 'qop="auth"' in challenge and "realm=" in challenge
    ok = digest_get(client, url(tenant, "0015651a2b3c.cfg"), device.prov_username, device.prov_password)
    assert ok.status_code == 200 and b"account.1.user_name" in ok.data
    rows = fetches(db)
    # Every request is in the log, the Digest challenges too (not counted as failures).
    assert [(r.result, r.outcome, r.device_id, r.path) for r in rows] == [
        (200, "served", device.id, "0015651a2b3c.cfg"), (401, "challenge", device.id, "0015651a2b3c.cfg"),
        (401, "challenge", device.id, "0015651a2b3c.cfg"), (200, "served", device.id, "0015651a2b3c.cfg")]
    assert {r.tenant_id for r in rows} == {tenant.id}
    assert rows[0].address == "127.0.0.1" and rows[0].mac == "0015651a2b3c"


def test_wrong_credentials_refused_and_logged(client, db, world, caplog):
    tenant, _user, device = phone_setup(world, db, vendor="grandstream", model="GXP2170")
    device.prov_username, device.prov_password = "0015651a2b3c", "right-password"
    device.overrides = {"require_digest": True}
    db.commit()
    caplog.set_level(logging.WARNING, logger="clusterpbx.web.provision")
    bad = digest_get(client, url(tenant, "cfg0015651a2b3c.xml"), "0015651a2b3c", "wrong-password")
    assert bad.status_code == 401 and bad.get_data(as_text=True) == "unauthorized\n"
    assert b"right-password" not in bad.data
    line = next(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
    assert FAIL2BAN.search(line).group("host") == "127.0.0.1" and "reason=bad_credentials" in line
    assert fetches(db)[-1].result == 401
    good = digest_get(client, url(tenant, "cfg0015651a2b3c.xml"), "0015651a2b3c", "right-password")
    assert good.status_code == 200 and b"<P1361>right-password</P1361>" in good.data


def test_digest_for_another_uri_or_user_is_refused(client, db, world):
    tenant, _user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = "0015651a2b3c", "pw"
    device.overrides = {"require_digest": True}
    db.commit()
    path = url(tenant, "0015651a2b3c.cfg")
    challenge = client.get(path).headers["WWW-Authenticate"]
    other = digest.client_header("0015651a2b3c", "pw", "GET", url(tenant, "0015651a2b3c-phonebook.xml"), challenge)
    assert client.get(path, headers={"Authorization": other}).status_code == 401
    user = digest.client_header("someone", "pw", "GET", path, challenge)
    assert client.get(path, headers={"Authorization": user}).status_code == 401
    basic = client.get(path, headers={"Authorization": "Basic MDAxNTY1MWEyYjNjOnB3"})
    assert basic.status_code == 401


def test_expired_nonce_is_stale(client, db, world, app):
    tenant, _user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = "0015651a2b3c", "pw"
    device.overrides = {"require_digest": True}
    db.commit()
    path = url(tenant, "0015651a2b3c.cfg")
    old = digest.make_nonce(app.config["SECRET_KEY"], now=time.time() - 3600)
    header = digest.client_header("0015651a2b3c", "pw", "GET", path,
                                  f'Digest realm="{digest.REALM}", qop="auth", nonce="{old}"')
    resp = client.get(path, headers={"Authorization": header})
    assert resp.status_code == 401 and "stale=true" in resp.headers["WWW-Authenticate"]
    forged = header.replace(old.split(".")[2], "0" * 32)
    assert client.get(path, headers={"Authorization": forged}).status_code == 401


@pytest.mark.parametrize("name", ["0015651a2b3d.cfg", "../0015651a2b3c.cfg", "..%2F..%2Fetc%2Fpasswd",
                                  "0015651a2b3c.cfg/../../secret", "x/../0015651a2b3c.cfg", "%00.cfg",
                                  "0015651a2b3c.cfg%0a", "cfg0015651a2b3c.xml"])
def test_unknown_or_malformed_names_get_the_same_404(client, db, world, name):
    tenant, _user, _device = phone_setup(world, db)  # a Yealink: cfg<mac>.xml is not one of its files
    resp = client.get(f"/prov/{tenant.provisioning_key}/{name}")
    assert resp.status_code == 404
    assert resp.get_data(as_text=True) in ("not found\n",) or resp.status_code == 404


def test_bad_key_and_other_tenant(client, db, world):
    tenant, _user, _device = phone_setup(world, db)
    other = world.tenant("other.test")
    assert client.get("/prov/short/0015651a2b3c.cfg").status_code == 404
    assert client.get(f"/prov/{tenant.provisioning_key}x/0015651a2b3c.cfg").status_code == 404
    assert client.get(url(other, "0015651a2b3c.cfg")).status_code == 404
    assert client.get(url(tenant, "0015651a2b3c.cfg")).status_code == 200


def test_generic_files_carry_no_secret(client, db, world):
    tenant, _user, _device = phone_setup(world, db)
    for name in ("y000000000066.cfg", "000000000000.cfg", "spa8841.cfg", "snomD785.htm"):
        resp = client.get(url(tenant, name))
        assert resp.status_code == 200, name
        assert b"password" not in resp.data.lower() and b"s3cr" not in resp.data
    assert b"lang.gui = French" in client.get(url(tenant, "y000000000066.cfg")).data
    assert f"/prov/{tenant.provisioning_key}/$MA.xml".encode() in client.get(url(tenant, "spa8841.cfg")).data


def test_yealink_boot_by_user_agent(client, db, world):
    tenant, _user, _device = phone_setup(world, db)
    ua = {"User-Agent": "Yealink SIP-T46S 66.86.0.15 00:15:65:1a:2b:3c"}
    resp = client.get(url(tenant, "y000000000000.boot"), headers=ua)
    assert resp.status_code == 200
    assert b'include:config "y000000000066.cfg"' in resp.data and b'include:config "0015651a2b3c.cfg"' in resp.data
    assert client.get(url(tenant, "y000000000000.boot")).status_code == 404


def test_source_networks(client, db, world):
    tenant, _user, _device = phone_setup(world, db, provisioning_networks="10.0.0.0/8, 192.0.2.0/24")
    assert client.get(url(tenant, "0015651a2b3c.boot")).status_code == 404
    ok = client.get(url(tenant, "0015651a2b3c.boot"), environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 200


def test_failures_are_rate_limited_per_address(app, client, db, world):
    # A scanner trying MAC after MAC from one address meets the per-address ceiling.
    app.config["CLUSTERPBX"].extra["provisioning_address_failure_limit"] = "3 per minute"
    tenant, _user, _device = phone_setup(world, db)
    env = {"REMOTE_ADDR": "198.51.100.7"}
    codes = [client.get(url(tenant, f"00156500000{i}.cfg"), environ_base=env).status_code for i in range(5)]
    assert codes[:3] == [404, 404, 404] and codes[3:] == [429, 429]
    # Another address is not affected, and successful fetches do not count.
    for _ in range(5):
        assert client.get(url(tenant, "0015651a2b3c.boot"), environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code == 200


def test_phonebook_and_reopen(client, db, world):
    from clusterpbx.control.models import PersonalContact

    tenant, user, device = phone_setup(world, db, vendor="cisco", model="CP-8841")
    db.add(PersonalContact(user_id=user.id, name="Fournisseur <ACME>", number="5145550000"))
    db.commit()
    assert client.get(url(tenant, "0015651a2b3c.xml")).status_code == 200
    db.refresh(device)
    resp = digest_get(client, url(tenant, "0015651a2b3c-directory.xml"), device.prov_username, device.prov_password)
    assert resp.status_code == 200 and b"Fournisseur &lt;ACME&gt;" in resp.data
    db.expire_all()
    assert db.scalar(select(Device)).overrides["_prov"]["armed"] is True


def test_require_digest_false_keeps_url_key_only(client, db, world):
    tenant, _user, device = phone_setup(world, db)
    device.overrides = {"require_digest": False}
    db.commit()
    for _ in range(3):
        assert client.get(url(tenant, "0015651a2b3c.cfg")).status_code == 200


def test_grandstream_phonebook_in_its_folder(client, db, world):
    tenant, _user, _device = phone_setup(world, db, vendor="grandstream", model="GXP2160")
    resp = client.get(url(tenant, "gs0015651a2b3c/phonebook.xml"))
    assert resp.status_code == 200 and resp.data.startswith(b"<?xml") and b"<AddressBook>" in resp.data
    assert client.get(url(tenant, "gs0015651a2b3c/../phonebook.xml")).status_code == 404


def test_a_misconfigured_phone_behind_a_nat_does_not_lock_out_its_neighbours(app, client, db, world):
    """200 wrong-credential requests from one phone: the phone itself is throttled after its allowance,
    every request is in the fetch log with its outcome, and the real phone behind the same address
    still gets its configuration."""
    app.config["CLUSTERPBX"].extra["provisioning_failure_limit"] = "5 per minute"
    tenant, _user, device = phone_setup(world, db, vendor="grandstream", model="GXP2170")
    device.prov_username, device.prov_password = "0015651a2b3c", "right-password"
    device.overrides = {"require_digest": True}
    neighbour = Device(tenant_id=tenant.id, mac="0015651a2b3d", vendor="grandstream", model="GXP2170",
                       user_id=device.user_id, prov_username="0015651a2b3d", prov_password="its-own",
                       overrides={"require_digest": True})
    db.add(neighbour)
    db.commit()
    nat = {"REMOTE_ADDR": "203.0.113.9"}
    path = url(tenant, "cfg0015651a2b3c.xml")
    challenge = client.get(path, environ_base=nat).headers["WWW-Authenticate"]
    header = digest.client_header("0015651a2b3c", "wrong-password", "GET", path, challenge)
    codes = [client.get(path, headers={"Authorization": header}, environ_base=nat).status_code for _ in range(200)]
    assert codes == [401] * 5 + [429] * 195
    good = digest_get(client, url(tenant, "cfg0015651a2b3d.xml"), "0015651a2b3d", "its-own", environ_base=nat)
    assert good.status_code == 200 and b"its-own" in good.data
    rows = fetches(db)
    assert len(rows) == 1 + 200 + 2  # challenge, the 200 tries, the neighbour's challenge and fetch
    outcomes = [(r.outcome, r.result) for r in rows]
    assert outcomes[:6] == [("challenge", 401)] + [("bad_credentials", 401)] * 5
    assert outcomes[6:201] == [("rate_limited", 429)] * 195
    assert outcomes[201:] == [("challenge", 401), ("served", 200)]
    assert {r.address for r in rows} == {"203.0.113.9"}
    assert {r.mac for r in rows[:201]} == {"0015651a2b3c"} and {r.mac for r in rows[201:]} == {"0015651a2b3d"}


def test_the_log_is_written_in_batches_not_per_request(app, client, db, world):
    tenant, _user, _device = phone_setup(world, db)
    for _ in range(3):
        assert client.get(url(tenant, "0015651a2b3c.boot")).status_code == 200
    writer = app.extensions["clusterpbx.fetchlog"]
    # Queued in the process (the background thread writes every half second or so) ...
    deadline = time.monotonic() + 30
    while writer.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    # ... and all of them reached the database without anyone asking.
    db.expire_all()
    assert [r.outcome for r in db.scalars(select(ProvisioningFetch).order_by(ProvisioningFetch.id))] == ["served"] * 3


def test_rows_being_written_still_count_as_pending(app, db, world):
    """pending() is what is not in the database yet: a batch taken off the queue but not committed counts
    (a reader that waited for pending() == 0 found the table empty on a loaded machine)."""
    import threading

    from sqlalchemy.orm import sessionmaker

    from clusterpbx.web.provision.fetchlog import FetchLogWriter

    started, release = threading.Event(), threading.Event()
    real = sessionmaker(bind=db.get_bind())

    def slow_session():
        started.set()
        assert release.wait(10)
        return real()

    writer = FetchLogWriter(slow_session, interval=3600)  # type: ignore[arg-type]
    try:
        writer.add(outcome="served", result=200, path="a.cfg")
        flushing = threading.Thread(target=writer.flush)
        flushing.start()
        assert started.wait(10)
        assert writer.pending() == 1
        release.set()
        flushing.join(10)
        assert writer.pending() == 0
        db.expire_all()
        assert [r.path for r in db.scalars(select(ProvisioningFetch))] == ["a.cfg"]
    finally:
        release.set()
        writer.close()


def test_a_busy_database_keeps_the_rows_for_the_next_batch(app, db, world):
    from sqlalchemy.orm import sessionmaker

    from clusterpbx.web.provision.fetchlog import FetchLogWriter

    class Refusing:
        def __call__(self):
            raise RuntimeError("database is locked")

    writer = FetchLogWriter(Refusing(), interval=3600)  # type: ignore[arg-type]
    writer.add(outcome="served", result=200, mac="0015651a2b3c", address="192.0.2.1", path="a.cfg")
    writer.add(outcome="bad_key", result=404, address="192.0.2.2", path="b.cfg")
    assert writer.flush() == 0 and writer.pending() == 2
    writer._sessions = sessionmaker(bind=db.get_bind())  # the database is back
    writer.add(outcome="served", result=200, path="c.cfg")
    assert writer.flush() == 3 and writer.pending() == 0
    db.expire_all()
    assert [r.path for r in db.scalars(select(ProvisioningFetch).order_by(ProvisioningFetch.id))] == [
        "a.cfg", "b.cfg", "c.cfg"]


def test_a_phone_deleted_before_the_batch_keeps_its_fetch_without_the_link(app, db, world):
    from sqlalchemy.orm import sessionmaker

    tenant, _user, device = phone_setup(world, db)
    writer = fetchlog.FetchLogWriter(sessionmaker(bind=db.get_bind()), interval=3600)
    writer.add(outcome="served", result=200, mac=device.mac, path="gone.cfg", device_id=device.id,
               tenant_id=tenant.id)
    writer.add(outcome="bad_key", result=404, path="other.cfg")
    db.delete(device)
    db.commit()
    # The foreign key refuses the first row as it stands; retrying it unchanged would fail for ever.
    assert writer.flush() == 2 and writer.pending() == 0
    db.expire_all()
    rows = db.scalars(select(ProvisioningFetch).order_by(ProvisioningFetch.id)).all()
    assert [(r.path, r.device_id, r.tenant_id) for r in rows] == [
        ("gone.cfg", None, tenant.id), ("other.cfg", None, None)]


def test_a_closed_writer_stops_its_thread_and_writes_what_it_held(app, db, world):
    from sqlalchemy.orm import sessionmaker

    writer = fetchlog.FetchLogWriter(sessionmaker(bind=db.get_bind()), interval=3600)
    writer.add(outcome="served", result=200, path="last.cfg")
    thread = writer._thread
    assert thread is not None and thread.is_alive()
    writer.close()
    assert not thread.is_alive() and writer.pending() == 0
    db.expire_all()
    assert [r.path for r in db.scalars(select(ProvisioningFetch))] == ["last.cfg"]
