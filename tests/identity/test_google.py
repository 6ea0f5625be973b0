"""Connexion avec Gmail end to end: the portal (Flask test client) and the local OpenID provider (a real
HTTP server), with the browser's redirects followed by hand between the two."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from tests.identity.conftest import PUBLIC_URL, local, page
from tests.identity.oidc_provider import Provider


def start(client: Any) -> str:
    resp = client.get("/login/google")
    assert resp.status_code == 302, page(resp)
    return str(resp.headers["Location"])


def at_provider(authorize_url: str) -> str:
    """What the browser does at Google: the account consents, Google redirects back with code and state."""
    resp = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = str(resp.headers["Location"])
    assert location.startswith(PUBLIC_URL + "/login/google/callback?")
    return location


def google_login(client: Any) -> Any:
    return client.get(local(at_provider(start(client))))


def logged_in(client: Any) -> bool:
    with client.session_transaction() as s:
        has_user = "_user_id" in s
    return has_user and client.get("/home").status_code == 200


@pytest.fixture
def google_tenant(world: Any) -> Any:
    return world.tenant(allow_google_login=True)


def test_gmail_button_on_login_page_when_configured(client):
    html = page(client.get("/login", headers={"Accept-Language": "fr"}))
    assert "Connexion avec Gmail" in html and 'href="/login/google"' in html


def test_happy_path_signs_in_and_stores_subject_and_picture(client, provider, google_tenant, world, db):
    user = world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("Marie@acme.test", sub="google-123")
    authorize_url = start(client)
    args = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    # Discovery gave the endpoint; state, nonce and PKCE S256 go along; the redirect URI comes from public_url.
    assert authorize_url.startswith(provider.url + "/authorize?")
    assert args["response_type"] == "code" and set(args["scope"].split()) == {"openid", "email", "profile"}
    assert args["state"] and args["nonce"] and args["code_challenge"] and args["code_challenge_method"] == "S256"
    assert args["redirect_uri"] == PUBLIC_URL + "/login/google/callback"

    resp = client.get(local(at_provider(authorize_url)))
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")
    assert logged_in(client)
    # The token request proved possession of the PKCE verifier (the provider checked it against the challenge).
    assert provider.token_requests[-1]["code_verifier"]
    db.expire_all()
    db.refresh(user)
    assert user.google_subject == "google-123"
    assert provider.picture_hits == 1
    # Stored as the portal's clean square PNG, and offered in "Mon image de profil".
    img = Image.open(__import__("io").BytesIO(user.google_picture))
    assert img.format == "PNG" and img.size == (256, 256)
    html = client.get("/profile/").get_data(as_text=True)
    assert 'value="google"' in html and "disabled aria-disabled" not in html
    assert client.get(f"/profile/picture/{user.id}/google").status_code == 200


def test_wrong_state_is_refused(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test")
    callback = at_provider(start(client))
    forged = callback.replace("state=", "state=forged", 1)
    resp = client.get(local(forged))
    assert resp.status_code == 400
    assert "n'a pas été lancée sur ce portail" in page(resp)
    assert not logged_in(client)


def test_callback_without_a_started_flow_is_refused(client, provider, google_tenant, world):
    # Login CSRF: a code and state obtained by someone else, replayed in the victim's browser.
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test")
    other = client.application.test_client()
    callback = at_provider(start(other))
    resp = client.get(local(callback))
    assert resp.status_code == 400 and not logged_in(client)


def test_wrong_nonce_is_refused(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test")
    provider.id_token_overrides = {"nonce": "not-the-one-we-sent"}
    resp = google_login(client)
    assert resp.status_code == 400
    assert "La réponse de Google n'a pas pu être vérifiée" in page(resp)
    assert not logged_in(client)


def test_expired_id_token_is_refused(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test")
    now = int(time.time())
    provider.id_token_overrides = {"iat": now - 7200, "exp": now - 3600}
    resp = google_login(client)
    assert resp.status_code == 400
    assert "La réponse de Google n'a pas pu être vérifiée" in page(resp)
    assert not logged_in(client)


def test_token_for_another_audience_is_refused(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test")
    provider.id_token_overrides = {"aud": ["someone-elses-client"]}
    resp = google_login(client)
    assert resp.status_code == 400 and not logged_in(client)


@pytest.mark.parametrize("verified", [False, "false"])
def test_unverified_email_is_refused(client, provider, google_tenant, world, verified):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test", verified=verified)
    resp = google_login(client)
    assert resp.status_code == 403
    assert "n'est pas vérifiée par Google" in page(resp)
    assert not logged_in(client)


def test_unknown_email_is_refused(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("stranger@gmail.com")
    resp = google_login(client)
    assert resp.status_code == 403
    assert "Aucun compte du portail n'utilise l'adresse" in page(resp)
    assert not logged_in(client)


def test_tenant_that_disallows_google_is_refused(client, provider, world, db):
    user = world.user(world.tenant(allow_google_login=False), email="marie@acme.test")
    provider.set_identity("marie@acme.test")
    resp = google_login(client)
    assert resp.status_code == 403
    assert "Votre entreprise ne permet pas la connexion avec Google" in page(resp)
    assert not logged_in(client)
    db.refresh(user)
    assert user.google_subject is None and user.google_picture is None


def test_account_linked_to_another_google_account_is_refused(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test", google_subject="google-original")
    provider.set_identity("marie@acme.test", sub="google-impostor")
    resp = google_login(client)
    assert resp.status_code == 403 and not logged_in(client)


def test_pending_signup_cannot_use_google(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test", email_confirmed=False, approved=False)
    provider.set_identity("marie@acme.test")
    resp = google_login(client)
    assert resp.status_code == 403 and not logged_in(client)


def test_cancelled_at_google(client, provider, google_tenant):
    start(client)
    with client.session_transaction() as s:
        state = next(k for k in s if k.startswith("_state_google_")).removeprefix("_state_google_")
    resp = client.get(f"/login/google/callback?error=access_denied&state={state}")
    assert resp.status_code == 400 and "annulée" in page(resp)
    assert not logged_in(client)


def test_picture_problems_do_not_block_the_sign_in(client, provider, google_tenant, world, db):
    user = world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test", picture=provider.url + "/huge.png")  # over the size limit
    client.application.config["CLUSTERPBX"].google_picture_max_bytes = 256 * 1024
    assert google_login(client).status_code == 302 and logged_in(client)
    db.refresh(user)
    assert user.google_picture is None


def test_picture_from_a_host_not_allowed_is_not_fetched(client, provider, google_tenant, world, db):
    user = world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("marie@acme.test", picture="http://169.254.169.254/latest/meta-data")
    assert google_login(client).status_code == 302
    db.refresh(user)
    assert user.google_picture is None and provider.picture_hits == 0


def test_picture_url_rules():
    from clusterpbx.control.identity import picture_url_allowed
    from clusterpbx.control.urlpolicy import UrlPolicy

    hosts = "googleusercontent.com"
    assert picture_url_allowed("https://lh3.googleusercontent.com/a/abc=s96-c", hosts)
    assert not picture_url_allowed("http://lh3.googleusercontent.com/a/abc", hosts)  # https only
    assert not picture_url_allowed("https://googleusercontent.com.evil.example/a", hosts)
    assert not picture_url_allowed("https://evilgoogleusercontent.com/a", hosts)
    assert not picture_url_allowed("file:///etc/passwd", hosts)
    assert not picture_url_allowed("https://169.254.169.254/x.png", "169.254.169.254")  # not a public host
    assert not picture_url_allowed("http://127.0.0.1:9/x.png", "127.0.0.1", UrlPolicy())
    # A loopback test provider only where the operator's configuration allows it.
    assert picture_url_allowed("http://127.0.0.1:9/x.png", "127.0.0.1", UrlPolicy(allow_http=True,
                                                                                  allow_private=True))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_routes_404_and_no_button_without_configuration(tmp_path, database_url):
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": {"database_url": database_url,
                                                    "instance_path": str(tmp_path / "i")}})
    client = app.test_client()
    assert "Gmail" not in client.get("/login").get_data(as_text=True)
    assert client.get("/login/google").status_code == 404
    assert client.get("/login/google/callback?code=x&state=y").status_code == 404
    app.extensions["clusterpbx.engine"].dispose()


def test_provider_unreachable_gives_clear_message(client, provider: Provider, google_tenant):
    provider.stop()
    resp = client.get("/login/google")
    assert resp.status_code == 503
    assert "Google est injoignable" in page(resp)


def test_refusal_page_form_posts_to_the_login_view(client, provider, google_tenant, world):
    world.user(google_tenant, email="marie@acme.test")
    provider.set_identity("stranger@gmail.com")
    resp = google_login(client)
    assert 'action="/login"' in page(resp)
