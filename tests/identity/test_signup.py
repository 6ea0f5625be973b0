"""S'enregistrer end to end through a real SMTP server: confirmation link, approval, the same answer for
every case, expired and reused links, throttling."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from itsdangerous import TimestampSigner

from clusterpbx.control.models import User
from tests.identity.conftest import PUBLIC_URL, csrf_of, html_part, link_in, local, page, text_part

GOOD = "Nouveau-pass1"


def signup(client: Any, email: str, password: str = GOOD, confirm: str | None = None, first: str = "Léa",
           last: str = "Gagnon", lang: str = "fr", **kw: Any) -> Any:
    token = csrf_of(client, "/signup")
    data = {"csrf_token": token, "first_name": first, "last_name": last, "email": email, "password": password,
            "confirm_password": password if confirm is None else confirm}
    headers = {"Accept-Language": lang, **kw.pop("headers", {})}
    return client.post("/signup", data=data, headers=headers, **kw)


def confirm(client: Any, link: str) -> Any:
    path = local(link)
    shown = client.get(path)
    if shown.status_code != 200:
        return shown
    assert "Confirmer mon adresse" in page(shown)
    return client.post(path, data={"csrf_token": csrf_of(client, path)})


def login(client: Any, email: str, password: str = GOOD) -> Any:
    return client.post("/login", data={"csrf_token": csrf_of(client, "/login"), "email": email,
                                       "password": password, "language": "fr"})


@pytest.fixture
def tenant(world: Any) -> Any:
    return world.tenant("acme.test", allow_self_signup=True, email_domains="acme.test, acme-corp.test")


def test_login_page_links_to_signup(client):
    html = page(client.get("/login", headers={"Accept-Language": "fr"}))
    assert "S'enregistrer" in html and 'href="/signup"' in html
    assert "Mot de passe oublié ?" in html and 'href="/password/forgot"' in html


def test_signup_confirm_then_wait_for_approval(client, smtp, tenant, db):
    resp = signup(client, "Lea.Gagnon@ACME-corp.test")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/signup/sent")
    assert "Consultez vos courriels" in page(client.get("/signup/sent"))

    [msg] = smtp.wait(1)
    assert msg["To"] == "lea.gagnon@acme-corp.test" and msg["From"] == "Portail <portail@acme.test>"
    assert msg["Subject"] == "Confirmez votre adresse courriel"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    link = link_in(msg, "/signup/confirm/")
    assert "Bonjour Léa," in text_part(msg) and f'href="{link}"' in html_part(msg)

    user = db.query(User).filter_by(email="lea.gagnon@acme-corp.test").one()
    assert user.tenant_id == tenant.id and not user.email_confirmed and not user.approved
    assert user.language == "fr" and (user.first_name, user.last_name) == ("Léa", "Gagnon")
    assert login(client, user.email).status_code == 401  # not before confirmation

    resp = confirm(client, link)
    assert resp.status_code == 200
    assert "doit maintenant approuver votre compte" in page(resp)
    db.refresh(user)
    assert user.email_confirmed and not user.approved
    assert login(client, user.email).status_code == 401  # not before approval

    user.approved = True  # what the tenant admin's approval does
    db.commit()
    assert login(client, user.email).status_code == 302


def test_auto_approve_tenant_logs_in_right_after_confirmation(client, smtp, world, db):
    world.tenant("acme.test", allow_self_signup=True, auto_approve_signup=True)
    signup(client, "lea@acme.test")
    [msg] = smtp.wait(1)
    resp = confirm(client, link_in(msg, "/signup/confirm/"))
    assert "Vous pouvez vous connecter dès maintenant" in page(resp)
    assert login(client, "lea@acme.test").status_code == 302


def test_english_signup_gets_english_mail(client, smtp, tenant):
    signup(client, "liam@acme.test", first="Liam", last="Smith", lang="en")
    [msg] = smtp.wait(1)
    assert msg["Subject"] == "Confirm your e-mail address" and msg["Content-Language"] == "en"
    assert "Hello Liam," in text_part(msg)


def test_same_answer_for_new_existing_and_unknown_domain(client, smtp, tenant, world):
    existing = world.user(tenant, email="marie@acme.test", first_name="Marie")
    answers = [signup(client, "nouveau@acme.test"), signup(client, "marie@acme.test"),
               signup(client, "quelquun@inconnu.example")]
    assert {(r.status_code, r.headers["Location"]) for r in answers} == {(302, "/signup/sent")}
    assert {r.get_data() for r in answers} == {answers[0].get_data()}

    messages = smtp.wait(2)
    assert len(smtp.settle()) == 2  # nothing for the unknown domain
    by_to = {m["To"]: m for m in messages}
    assert by_to["nouveau@acme.test"]["Subject"] == "Confirmez votre adresse courriel"
    already = by_to["marie@acme.test"]
    assert already["Subject"] == "Vous avez déjà un compte"
    assert PUBLIC_URL + "/password/forgot" in text_part(already) and "Bonjour Marie," in text_part(already)
    assert existing.email_confirmed  # untouched


def test_password_policy_and_confirmation_are_checked(client, smtp, tenant):
    resp = signup(client, "lea@acme.test", password="court")
    assert resp.status_code == 400
    html = page(resp)
    assert "Le mot de passe doit contenir entre 8 et 64 caractères." in html
    assert "Le mot de passe doit contenir un caractère numérique." in html
    resp = signup(client, "lea@acme.test", confirm="Autre-pass1")
    assert resp.status_code == 400 and "ne correspondent pas" in page(resp)
    resp = signup(client, "pas-une-adresse")
    assert resp.status_code == 400 and "Entrez une adresse courriel valide." in page(resp)
    assert smtp.settle(0.3) == []


def test_reused_link_is_refused(client, smtp, tenant):
    signup(client, "lea@acme.test")
    link = link_in(smtp.wait(1)[0], "/signup/confirm/")
    assert confirm(client, link).status_code == 200
    again = client.get(local(link))
    assert again.status_code == 400 and "Ce lien a déjà été utilisé" in page(again)


def test_expired_link_is_refused(client, smtp, tenant, monkeypatch):
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 49 * 3600)
    signup(client, "lea@acme.test")
    link = link_in(smtp.wait(1)[0], "/signup/confirm/")
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    resp = client.get(local(link))
    assert resp.status_code == 400 and "Ce lien a expiré" in page(resp)


def test_tampered_link_is_refused(client, smtp, tenant):
    signup(client, "lea@acme.test")
    link = link_in(smtp.wait(1)[0], "/signup/confirm/")
    resp = client.get(local(link[:-3] + "xyz"))
    assert resp.status_code == 400 and "Ce lien n'est pas valide" in page(resp)


def test_signing_up_again_replaces_an_unconfirmed_registration(client, smtp, tenant, db):
    # Someone else registered the address first: its owner starts over, and the earlier link dies.
    signup(client, "lea@acme.test", password="Squatter-pass1")
    first_link = link_in(smtp.wait(1)[0], "/signup/confirm/")
    signup(client, "lea@acme.test")
    second_link = link_in(smtp.wait(2)[1], "/signup/confirm/")
    assert client.get(local(first_link)).status_code == 400
    assert confirm(client, second_link).status_code == 200
    user = db.query(User).filter_by(email="lea@acme.test").one()
    user.approved = True
    db.commit()
    assert login(client, "lea@acme.test", "Squatter-pass1").status_code == 401
    assert login(client, "lea@acme.test").status_code == 302


def test_links_use_public_url_not_the_host_header(client, smtp, tenant):
    evil = {"Host": "evil.example"}
    html = client.get("/signup", headers=evil).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    resp = client.post("/signup", headers=evil, data={
        "csrf_token": token, "first_name": "Léa", "last_name": "Gagnon", "email": "lea@acme.test",
        "password": GOOD, "confirm_password": GOOD})
    assert resp.status_code == 302
    text = text_part(smtp.wait(1)[0])
    assert "evil.example" not in text and PUBLIC_URL + "/signup/confirm/" in text


def test_signup_is_throttled_per_address_and_per_ip(app, client, smtp, tenant):
    app.config["CLUSTERPBX"].signup_rate_limit = "3 per minute"
    codes = [signup(client, f"p{i}@acme.test").status_code for i in range(4)]
    assert codes == [302, 302, 302, 429]
    resp = signup(client, "p9@acme.test")
    assert resp.status_code == 429 and "Trop de requêtes pour ce formulaire" in page(resp)

    app.config["CLUSTERPBX"].signup_rate_limit = "100 per minute"
    app.config["CLUSTERPBX"].mail_per_address_rate_limit = "2 per hour"
    # The same address from other connections: the mail one address receives is bounded.
    codes = [signup(client, "cible@acme.test", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code
             for i in range(3)]
    assert codes == [302, 302, 429]
