"""The Digest challenge of a known phone past its first boot is answered in front of Flask
(web/provision/fastpath.py), with the endpoint's checks; everything else reaches the endpoint."""

from __future__ import annotations

from sqlalchemy import select

from clusterpbx.control.models import ProvisioningFetch
from clusterpbx.provisioning import digest
from clusterpbx.web.provision import config_cache, fetchlog
from tests.provisioning.helpers import phone_setup

MAC = "0015651a2b3c"


def url(tenant, name):
    return f"/prov/{tenant.provisioning_key}/{name}"


def endpoint_calls(app):
    calls = []

    @app.before_request
    def _count():
        from flask import request

        if request.path.startswith("/prov/"):
            calls.append(request.path)

    return calls


def armed_phone(world, db, **overrides):
    tenant, user, device = phone_setup(world, db)
    device.prov_username, device.prov_password = MAC, "prov-pass"
    device.overrides = {"_prov": {"armed": True}, **overrides}
    db.commit()
    return tenant, user, device


def test_the_challenge_never_reaches_the_endpoint_and_is_logged(app, client, db, world):
    tenant, _user, device = armed_phone(world, db)
    calls = endpoint_calls(app)
    path = url(tenant, f"{MAC}.cfg")
    first = client.get(path, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert first.status_code == 401 and calls == []
    assert first.get_data(as_text=True) == "unauthorized\n"
    assert first.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert first.headers["X-Content-Type-Options"] == "nosniff" and "frame-ancestors 'none'" in first.headers[
        "Content-Security-Policy"]
    challenge = first.headers["WWW-Authenticate"]
    assert challenge.startswith('Digest realm="clusterpbx-provisioning", qop="auth"')
    header = digest.client_header(MAC, "prov-pass", "GET", path, challenge)
    ok = client.get(path, headers={"Authorization": header}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 200 and calls == []  # rendered in front of Flask too
    fetchlog.flush_all()
    rows = db.scalars(select(ProvisioningFetch).order_by(ProvisioningFetch.id)).all()
    assert [(r.outcome, r.result, r.device_id, r.tenant_id, r.mac, r.address, r.path) for r in rows] == [
        ("challenge", 401, device.id, tenant.id, MAC, "10.1.2.3", f"{MAC}.cfg"),
        ("served", 200, device.id, tenant.id, MAC, "10.1.2.3", f"{MAC}.cfg")]


def test_everything_but_a_known_phones_challenge_goes_to_the_endpoint(app, client, db, world):
    tenant, user, device = armed_phone(world, db)
    calls = endpoint_calls(app)
    other = world.tenant("other.test")
    cases = [
        (url(tenant, "001565000000.cfg"), {}, 404),  # unknown MAC
        (url(other, f"{MAC}.cfg"), {}, 404),  # the phone of another company
        (f"/prov/{'x' * 20}/{MAC}.cfg", {}, 404),  # unknown key
        (url(tenant, "y000000000000.cfg"), {}, 200),  # a generic file
        (url(tenant, f"{MAC}.xml"), {}, 404),  # a file this phone does not have
        (url(tenant, f"{MAC}.cfg") + "?x=1", {}, 401),
    ]
    for path, headers, status in cases:
        before = len(calls)
        assert client.get(path, headers=headers).status_code == status, path
        assert len(calls) == before + 1, path
    # A first boot (window re-opened) gets its file from the endpoint, with the tenant key alone.
    device.overrides = {"_prov": {"armed": False}}
    db.commit()
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 200 and len(calls) == len(cases) + 1
    # Source networks are checked before any challenge.
    tenant.provisioning_networks = "192.0.2.0/24"
    db.commit()
    assert client.get(url(tenant, f"{MAC}.cfg")).status_code == 404


def test_a_phone_over_its_limit_gets_429_even_for_the_challenge(app, client, db, world):
    app.config["CLUSTERPBX"].extra["provisioning_failure_limit"] = "2 per minute"
    tenant, _user, _device = armed_phone(world, db, require_digest=True)
    path = url(tenant, f"{MAC}.cfg")
    challenge = client.get(path).headers["WWW-Authenticate"]
    wrong = digest.client_header(MAC, "wrong", "GET", path, challenge)
    assert [client.get(path, headers={"Authorization": wrong}).status_code for _ in range(3)] == [401, 401, 429]
    assert client.get(path).status_code == 429  # no fresh challenge for it while it is over
    assert client.get(path, environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 401  # another address


def test_the_limit_window_passes_and_the_challenge_comes_back(app, client, db, world, limiter_clock):
    app.config["CLUSTERPBX"].extra["provisioning_failure_limit"] = "1 per minute"
    tenant, _user, _device = armed_phone(world, db)
    path = url(tenant, f"{MAC}.cfg")
    wrong = digest.client_header(MAC, "wrong", "GET", path, client.get(path).headers["WWW-Authenticate"])
    assert client.get(path, headers={"Authorization": wrong}).status_code == 401
    assert client.get(path).status_code == 429
    limiter_clock.advance(61)
    assert client.get(path).status_code == 401


def _digest_get(client, path, username, password):
    challenge = client.get(path).headers["WWW-Authenticate"]
    return client.get(path, headers={"Authorization": digest.client_header(username, password, "GET", path, challenge)})


def test_a_file_is_rendered_and_served_in_front_of_flask_as_the_endpoint_serves_it(app, client, db, world):
    tenant, _user, device = armed_phone(world, db)
    calls = endpoint_calls(app)
    cache = config_cache(app)
    for name in (f"{MAC}.cfg", f"{MAC}-phonebook.xml"):
        path = url(tenant, name)
        # The endpoint's own answer: with the fast path's cache empty and a require_digest policy the fast
        # path leaves alone (a query string), the endpoint renders the file.
        by_endpoint = _digest_get(client, path + "?from=endpoint", MAC, "prov-pass")
        assert by_endpoint.status_code == 200 and calls[-1] == path
        cache.clear()
        before = len(calls)
        first = _digest_get(client, path, MAC, "prov-pass")  # rendered in front of Flask, kept
        assert first.status_code == 200 and len(calls) == before and len(cache) == 1
        assert first.data == by_endpoint.data
        again = _digest_get(client, path, MAC, "prov-pass")
        assert again.status_code == 200 and len(calls) == before  # neither request reached the endpoint
        assert again.data == first.data and cache.hits >= 1
        for header in ("Content-Type", "Cache-Control", "X-Frame-Options", "Content-Security-Policy"):
            assert again.headers[header] == by_endpoint.headers[header] == first.headers[header], header
        cache.clear()
    # A wrong or stale response, or another phone's credentials, is the endpoint's to refuse and count.
    before = len(calls)
    refused = _digest_get(client, url(tenant, f"{MAC}.cfg"), MAC, "wrong")
    assert refused.status_code == 401 and len(calls) == before + 1
    fetchlog.flush_all()
    outcomes = [r.outcome for r in db.scalars(select(ProvisioningFetch).order_by(ProvisioningFetch.id))]
    assert outcomes == ["challenge", "served"] * 6 + ["challenge", "bad_credentials"]


def test_credentials_sent_during_the_first_boot_window_go_to_the_endpoint(app, client, db, world):
    """A phone not armed yet that answers a challenge anyway: the endpoint serves it and closes the window."""
    tenant, _user, device = armed_phone(world, db)
    calls = endpoint_calls(app)
    path = url(tenant, f"{MAC}.cfg")
    assert _digest_get(client, path, MAC, "prov-pass").status_code == 200  # rendered and kept
    device.overrides = {"_prov": {"armed": False}}
    db.commit()
    calls.clear()
    challenge = client.get(url(tenant, f"{MAC}-phonebook.xml"))  # first boot: served without credentials
    assert challenge.status_code == 200 and len(calls) == 1
    db.refresh(device)
    assert not device.overrides["_prov"]["armed"]  # the phonebook has no credentials in it
    header = digest.client_header(MAC, "prov-pass", "GET", path, 'Digest realm="clusterpbx-provisioning", '
                                  f'nonce="{digest.make_nonce(app.config["SECRET_KEY"])}", qop="auth"')
    assert client.get(path, headers={"Authorization": header}).status_code == 200 and len(calls) == 2
    db.refresh(device)
    assert device.overrides["_prov"]["armed"] is True
