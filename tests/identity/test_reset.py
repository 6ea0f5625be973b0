"""Mot de passe oublié ? end to end through a real SMTP server: the link, the tenant's policy, every other
session ending, expired and reused links, the same answer for unknown addresses, throttling."""

from __future__ import annotations

import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from tests.conftest import PASSWORD, AuthActions
from tests.identity.conftest import csrf_of, html_part, link_in, local, page, text_part

NEW = "Tout-neuf-2026"


def forgot(client: Any, email: str, **kw: Any) -> Any:
    return client.post("/password/forgot", data={"csrf_token": csrf_of(client, "/password/forgot"),
                                                 "email": email}, **kw)


def choose(client: Any, link: str, password: str, confirm: str | None = None) -> Any:
    path = local(link)
    return client.post(path, data={"csrf_token": csrf_of(client, path), "new_password": password,
                                   "confirm_password": password if confirm is None else confirm})


@pytest.fixture
def tenant(world: Any) -> Any:
    return world.tenant("acme.test")


def test_reset_ends_other_sessions_and_link_works_once(app, client, smtp, tenant, world, db):
    user = world.user(tenant, email="marie@acme.test", first_name="Marie")
    other, another = app.test_client(), app.test_client()
    AuthActions(other).login(user.email)
    AuthActions(another).login(user.email, remember=True)
    assert other.get("/home").status_code == 200

    resp = forgot(client, "MARIE@acme.test")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/password/forgot/sent")
    [msg] = smtp.wait(1)
    assert msg["To"] == "marie@acme.test" and msg["Subject"] == "Choisir un nouveau mot de passe"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    link = link_in(msg, "/password/reset/")
    assert "Bonjour Marie," in text_part(msg) and f'href="{link}"' in html_part(msg)

    form = client.get(local(link))
    assert form.status_code == 200
    assert "Restriction(s) :" in page(form) or "Restriction(s):" in page(form)

    weak = choose(client, link, "faible")
    assert weak.status_code == 400 and "caractère numérique" in page(weak)
    mismatch = choose(client, link, NEW, "Autre-chose-1")
    assert mismatch.status_code == 400 and "ne correspondent pas" in page(mismatch)

    done = choose(client, link, NEW)
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert "Votre mot de passe a été changé" in page(client.get("/login"))

    # Every other session and remember-me cookie ended.
    assert other.get("/home").status_code == 302
    assert another.get("/home").status_code == 302
    auth = AuthActions(app.test_client())
    assert auth.login(user.email, PASSWORD).status_code == 401
    assert auth.login(user.email, NEW).status_code == 302

    # Single use.
    again = client.get(local(link))
    assert again.status_code == 400 and "Ce lien a déjà été utilisé" in page(again)
    assert choose_blind(client, link).status_code == 400


def choose_blind(client: Any, link: str) -> Any:
    # A POST with a token from another page: the link itself is refused before the form is read.
    return client.post(local(link), data={"csrf_token": csrf_of(client, "/password/forgot"),
                                          "new_password": "Encore-un-3", "confirm_password": "Encore-un-3"})


def test_same_answer_whether_or_not_the_address_exists(client, smtp, tenant, world):
    world.user(tenant, email="marie@acme.test")
    known, unknown = forgot(client, "marie@acme.test"), forgot(client, "personne@acme.test")
    assert (known.status_code, known.headers["Location"]) == (unknown.status_code, unknown.headers["Location"])
    assert known.get_data() == unknown.get_data()
    assert [m["To"] for m in smtp.wait(1)] == ["marie@acme.test"]
    assert len(smtp.settle()) == 1
    assert "Si un compte utilise cette adresse" in page(client.get("/password/forgot/sent"))


def test_mail_in_the_users_language(client, smtp, tenant, world):
    world.user(tenant, email="emma@acme.test", first_name="Emma", language="en")
    forgot(client, "emma@acme.test")
    [msg] = smtp.wait(1)
    assert msg["Subject"] == "Choose a new password" and "Hello Emma," in text_part(msg)
    assert msg["Content-Language"] == "en"


def test_expired_link_is_refused(client, smtp, tenant, world, monkeypatch):
    world.user(tenant, email="marie@acme.test")
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 61 * 60)
    forgot(client, "marie@acme.test")
    link = link_in(smtp.wait(1)[0], "/password/reset/")
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    resp = client.get(local(link))
    assert resp.status_code == 400 and "Ce lien a expiré" in page(resp)


def test_a_confirmation_link_is_not_a_reset_link(client, smtp, world):
    world.tenant("acme.test", allow_self_signup=True)
    client.post("/signup", data={"csrf_token": csrf_of(client, "/signup"), "first_name": "Léa",
                                 "last_name": "Gagnon", "email": "lea@acme.test", "password": NEW,
                                 "confirm_password": NEW})
    token = link_in(smtp.wait(1)[0], "/signup/confirm/").rsplit("/", 1)[1]
    resp = client.get(f"/password/reset/{token}")
    assert resp.status_code == 400 and "Ce lien n'est pas valide" in page(resp)


def test_disabled_account_gets_no_mail(client, smtp, tenant, world):
    world.user(tenant, email="marie@acme.test", active=False)
    assert forgot(client, "marie@acme.test").status_code == 302
    assert smtp.settle() == []


def test_forgot_form_is_throttled_per_ip_and_per_address(app, client, smtp, tenant):
    app.config["CLUSTERPBX"].forgot_rate_limit = "2 per minute"
    codes = [forgot(client, f"p{i}@acme.test").status_code for i in range(3)]
    assert codes == [302, 302, 429]
    assert "Trop de requêtes pour ce formulaire" in page(forgot(client, "p9@acme.test"))

    app.config["CLUSTERPBX"].forgot_rate_limit = "100 per minute"
    codes = [forgot(client, "cible@acme.test", environ_base={"REMOTE_ADDR": f"10.0.1.{i}"}).status_code
             for i in range(4)]
    assert codes == [302, 302, 302, 429]  # mail_per_address_rate_limit defaults to 3 per hour
