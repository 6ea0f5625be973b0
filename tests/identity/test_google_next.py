"""The login page's next= survives "Connexion avec Gmail" (kept in the session, checked on the way in
and again on the way back), and a hostile one is dropped."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.identity.conftest import PUBLIC_URL, local, page


def google_login_from(client: Any, next_value: str) -> Any:
    login = page(client.get("/login", query_string={"next": next_value}))
    start = client.get("/login/google", query_string={"next": next_value})
    assert start.status_code == 302, page(start)
    at_google = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert at_google.status_code == 302
    callback = str(at_google.headers["Location"])
    assert callback.startswith(PUBLIC_URL)
    return login, client.get(local(callback))


@pytest.fixture
def google_user(world: Any, provider: Any) -> Any:
    user = world.user(world.tenant(allow_google_login=True), email="marie@acme.test")
    provider.set_identity("marie@acme.test", sub="google-1")
    return user


def test_gmail_button_carries_next_and_the_callback_honours_it(client, google_user):
    login, resp = google_login_from(client, "/directory/?q=a")
    assert 'href="/login/google?next=/directory/?q%3Da"' in login or "/login/google?next=" in login
    assert resp.status_code == 302
    assert resp.headers["Location"] in ("/directory/?q=a", "http://localhost/directory/?q=a")


@pytest.mark.parametrize("target", ["//evil.com", "/\t/evil.com", "/\\evil.com", "https://evil.com/"])
def test_hostile_next_through_google_lands_home(client, google_user, target):
    _, resp = google_login_from(client, target)
    assert resp.status_code == 302
    assert resp.headers["Location"] in ("/home", "http://localhost/home")
