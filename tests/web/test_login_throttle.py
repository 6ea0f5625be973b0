"""Login throttling (control/logins.py, docs/deploy.md "Login throttling"): wrong passwords slow down the
client that sends them, not the owner of the address; an address is locked only after many failures from
anywhere, and its owner still gets in with "Mot de passe oublié ?", which lifts the lock."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from clusterpbx.control.links import LinkPurpose, make_link_token
from clusterpbx.control.logins import ACCOUNT, CLIENT, PAIR, client_key
from clusterpbx.control.models import LoginThrottle, utcnow
from tests.conftest import PASSWORD

ATTACKER, VICTIM, OTHER = "198.51.100.7", "203.0.113.20", "192.0.2.99"


@pytest.fixture(autouse=True)
def _frozen_clock(monkeypatch):
    """The login's clock stands still during a test: "Réessayez dans 30 secondes" right after a block,
    however long a busy machine takes between two requests (time passes only in expire_blocks)."""
    import clusterpbx.web.auth

    now = utcnow()
    monkeypatch.setattr(clusterpbx.web.auth, "utcnow", lambda: now)
    monkeypatch.setitem(globals(), "utcnow", lambda: now)


@pytest.fixture(autouse=True)
def _no_flask_limiter(app):
    # Flask-Limiter's per-address limit is tested in test_auth.py; here only the database throttling.
    app.config["CLUSTERPBX"].login_rate_limit = "10000 per minute"


def login(client, email, password=PASSWORD, ip=ATTACKER):
    html = client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": ip})


def flash(resp) -> str:
    m = re.search(r'<p class="flash [^"]*">(.*?)</p>', resp.get_data(as_text=True), re.S)
    return m.group(1).strip() if m else ""


def expire_blocks(db):
    """Time passes: every current block ends (the counts stay)."""
    db.execute(update(LoginThrottle).values(blocked_until=utcnow() - dt.timedelta(seconds=1)))
    db.commit()


def test_wrong_passwords_from_an_attacker_do_not_stop_the_owner(app, world):
    u = world.user(world.tenant())
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(12):
        login(attacker, u.email, "guess", ATTACKER)
    assert login(attacker, u.email, PASSWORD, ATTACKER).status_code == 429  # the attacker is blocked...
    resp = login(owner, u.email, PASSWORD, VICTIM)  # ...the owner, elsewhere, is not
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")


def test_pair_back_off_doubles_and_ends_on_success(app, world, db):
    u = world.user(world.tenant())
    client = app.test_client()
    for _ in range(2):
        assert login(client, u.email, "bad").status_code == 401
    assert login(client, u.email, "bad").status_code == 401  # the third: blocked from now on
    resp = login(client, u.email)  # the right password is not even looked at
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 30
    assert flash(resp) == "Trop de tentatives infructueuses. Réessayez dans 30 secondes."
    waits = []
    for _ in range(3):
        expire_blocks(db)
        assert login(client, u.email, "bad").status_code == 401
        waits.append(flash(login(client, u.email, "bad")))
    assert waits == ["Trop de tentatives infructueuses. Réessayez dans 1 minutes.",
                     "Trop de tentatives infructueuses. Réessayez dans 2 minutes.",
                     "Trop de tentatives infructueuses. Réessayez dans 4 minutes."]
    expire_blocks(db)
    assert login(client, u.email).status_code == 302
    assert db.scalar(select(LoginThrottle).where(LoginThrottle.scope == PAIR)) is None


def test_back_off_is_capped(app, world, db):
    app.config["CLUSTERPBX"].login_backoff_max_seconds = 100
    u = world.user(world.tenant())
    client = app.test_client()
    for _ in range(8):
        expire_blocks(db)
        login(client, u.email, "bad")
    resp = login(client, u.email, "bad")
    assert flash(resp) == "Trop de tentatives infructueuses. Réessayez dans 2 minutes."  # 100 s, not 30×2⁵
    row = db.scalar(select(LoginThrottle).where(LoginThrottle.scope == PAIR))
    assert (row.blocked_until - row.updated_at) == dt.timedelta(seconds=100)


def test_one_client_trying_many_addresses_is_slowed_down(app, world):
    world.tenant()
    client = app.test_client()
    for i in range(20):
        assert login(client, f"user{i}@acme.test", "bad").status_code == 401
    resp = login(client, "someone-new@acme.test", "bad")
    assert resp.status_code == 429
    assert login(app.test_client(), "someone-new@acme.test", "bad", OTHER).status_code == 401


def test_same_answer_whether_or_not_the_address_has_an_account(app, world):
    u = world.user(world.tenant())
    answers = []
    for email in (u.email, "ghost@acme.test"):
        client = app.test_client()
        for _ in range(3):
            login(client, email, "bad")
        resp = login(client, email, "bad")
        answers.append((resp.status_code, flash(resp)))
    assert answers[0] == answers[1] and answers[0][0] == 429


def test_account_lock_from_everywhere_and_the_reset_link_lifts_it(app, world, db):
    settings = app.config["CLUSTERPBX"]
    settings.account_lock_failures = 6
    u = world.user(world.tenant())
    for i in range(6):  # a distributed attack: two failures from each of three addresses
        assert login(app.test_client(), u.email, "bad", f"198.51.100.{10 + i // 2}").status_code == 401
    owner = app.test_client()
    resp = login(owner, u.email, PASSWORD, VICTIM)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 3600 - 5
    assert "Réessayez dans 60 minutes" in flash(resp) and "« Mot de passe oublié ? »" in flash(resp)
    # The same for an address without an account.
    for i in range(6):
        login(app.test_client(), "ghost@acme.test", "bad", f"198.51.100.{10 + i // 2}")
    assert flash(login(app.test_client(), "ghost@acme.test", "x", VICTIM)) == flash(resp)

    # "Mot de passe oublié ?" still works, and choosing a new password lifts the lock.
    token = make_link_token(settings.secret_key, LinkPurpose.RESET_PASSWORD, u)
    page = owner.get(f"/password/reset/{token}")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    new = "Nouveau-mot-de-passe-2026!"
    resp = owner.post(f"/password/reset/{token}", data={"csrf_token": csrf, "new_password": new,
                                                        "confirm_password": new})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert db.scalar(select(LoginThrottle).where(LoginThrottle.scope == ACCOUNT,
                                                 LoginThrottle.key == u.email)) is None
    assert login(owner, u.email, new, VICTIM).status_code == 302
    # The attacking clients' own counters are not wiped by the owner's reset.
    assert db.scalar(select(LoginThrottle).where(LoginThrottle.scope == CLIENT,
                                                 LoginThrottle.key == "198.51.100.10")) is not None


def test_counters_are_forgotten_after_the_window(app, world, db):
    u = world.user(world.tenant())
    client = app.test_client()
    for _ in range(2):
        login(client, u.email, "bad")
    db.execute(update(LoginThrottle).values(updated_at=utcnow() - dt.timedelta(hours=25)))
    db.commit()
    for _ in range(2):
        assert login(client, u.email, "bad").status_code == 401  # counting starts again: not blocked yet
    assert login(client, u.email).status_code == 302


@pytest.mark.parametrize("address, key", [
    ("192.0.2.1", "192.0.2.1"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same /64: the same client
    ("::ffff:192.0.2.1", "192.0.2.1"),
    ("", "unknown"),
    ("not an address", "unknown"),
])
def test_client_key(address, key):
    assert client_key(address) == key
