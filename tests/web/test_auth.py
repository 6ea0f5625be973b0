"""Login, logout, throttling, CSRF and session cookie settings."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD


def test_login_page_has_guide_fields_in_french(client):
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    for text in ("Langue", "Courriel", "Mot de passe", "Connexion", "Français", "English"):
        assert text in html
    # The guide's other two options are always there; "Connexion avec Gmail" only once Google is configured
    # (tests/identity/test_google.py checks the button with a configured provider).
    assert "S'enregistrer" in html and 'href="/signup"' in html
    assert "Mot de passe oublié ?" in html and 'href="/password/forgot"' in html
    assert "Gmail" not in html and "/login/google" not in html


def test_login_and_logout(client, auth, world):
    t = world.tenant()
    u = world.user(t, first_name="Marie", last_name="Tremblay")
    resp = auth.login(u.email)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")
    home = client.get("/home").get_data(as_text=True)
    assert "Marie Tremblay" in home and "acme.test" in home
    resp = auth.logout()
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert client.get("/home").status_code == 302  # back to login


def test_login_is_case_insensitive_on_email(client, auth, world):
    u = world.user(world.tenant())
    assert auth.login(u.email.upper()).status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_answer(client, auth, world):
    u = world.user(world.tenant())
    wrong = auth.login(u.email, "nope")
    unknown = auth.login("nobody@acme.test", "nope")
    assert wrong.status_code == unknown.status_code == 401
    msg = "Courriel ou mot de passe incorrect."
    wrong_html, unknown_html = wrong.get_data(as_text=True), unknown.get_data(as_text=True)
    assert msg in wrong_html and msg in unknown_html
    assert client.get("/home").status_code == 302


def test_disabled_user_cannot_log_in(client, auth, world):
    u = world.user(world.tenant(), active=False)
    assert auth.login(u.email).status_code == 401


def test_repeated_failures_slow_down_the_sender(client, auth, world):
    # The full policy (pairs, clients, the account lock and the reset link) is in test_login_throttle.py.
    u = world.user(world.tenant())
    for _ in range(3):
        assert auth.login(u.email, "bad").status_code == 401
    # Blocked now for this sender: even the right password is not looked at, with a clear message.
    resp = auth.login(u.email)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 30
    assert "Trop de tentatives" in resp.get_data(as_text=True)


def test_lock_does_not_reveal_whether_the_account_exists(client, auth, world):
    u = world.user(world.tenant())
    answers = []
    for email in (u.email, "ghost@acme.test"):
        for _ in range(3):
            auth.login(email, "bad")
        resp = auth.login(email, "bad")
        flash = re.search(r'<p class="flash [^"]*">(.*?)</p>', resp.get_data(as_text=True), re.S)
        answers.append((resp.status_code, flash and flash.group(1).strip()))
    assert answers[0] == answers[1]  # same behaviour as for a real account
    assert answers[0][0] == 429 and "30" in answers[0][1]


def test_ip_rate_limit_gives_clear_message(app, client, auth, world):
    app.config["CLUSTERPBX"].login_rate_limit = "3 per minute"
    u = world.user(world.tenant())
    responses = [auth.login(u.email, "bad") for _ in range(4)]
    assert [r.status_code for r in responses] == [401, 401, 401, 429]
    assert "Trop de tentatives" in responses[3].get_data(as_text=True)


def test_csrf_rejected(client, world):
    u = world.user(world.tenant())
    resp = client.post("/login", data={"email": u.email, "password": PASSWORD, "language": "fr"})
    assert resp.status_code == 400
    assert "formulaire a expiré" in resp.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_csrf_rejected_on_logout(client, auth, world):
    u = world.user(world.tenant())
    auth.login(u.email)
    assert client.post("/logout").status_code == 400
    assert client.get("/home").status_code == 200  # still logged in


def test_open_redirect_refused(client, auth, world):
    u = world.user(world.tenant())
    data = {"email": u.email, "password": PASSWORD, "language": "fr", "csrf_token": auth.csrf()}
    resp = client.post("/login?next=//evil.example/x", data=data)
    assert resp.headers["Location"].endswith("/home")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cookie_flags_in_production_settings(tmp_path, database_url, world):
    from clusterpbx.web import create_app
    from tests.conftest import AuthActions

    app = create_app({"SETTINGS": {"database_url": database_url, "instance_path": str(tmp_path / "i")}})
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    u = world.user(world.tenant())
    client = app.test_client()
    auth = AuthActions(client)
    resp = auth.login(u.email, remember=True)
    cookies = resp.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("clusterpbx_session="))
    remember_cookie = next(c for c in cookies if c.startswith("clusterpbx_remember="))
    for c in (session_cookie, remember_cookie):
        assert "Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c
    m = re.search(r"Expires=([^;]+)", remember_cookie)
    assert m  # a bounded remember duration
    app.extensions["clusterpbx.engine"].dispose()


def test_secret_key_generated_once_in_instance_folder(tmp_path):
    from clusterpbx.control.config import load_settings

    a = load_settings({"instance_path": str(tmp_path)})
    b = load_settings({"instance_path": str(tmp_path)})
    assert a.secret_key == b.secret_key and len(a.secret_key) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert load_settings({"instance_path": str(tmp_path / "other")}).secret_key != a.secret_key


def test_password_change_ends_other_sessions(app, world):
    from tests.conftest import AuthActions

    u = world.user(world.tenant())
    first, second = app.test_client(), app.test_client()
    a1, a2 = AuthActions(first), AuthActions(second)
    a1.login(u.email)
    a2.login(u.email)
    token = a1.csrf("/settings/account")
    resp = first.post("/settings/account", data={"csrf_token": token, "current_password": PASSWORD,
                                                "new_password": "Another-pass2", "confirm_password": "Another-pass2"})
    assert resp.status_code == 302
    assert first.get("/home").status_code == 200  # this session stays
    assert second.get("/home").status_code == 302  # the other one ended
