"""The "API tokens" page: a signed-in user creates a token (shown once, then usable on the API),
sees only their own tokens, and revokes them; CSRF is required there (a session page)."""

from __future__ import annotations

import html
import re

from clusterpbx.control.models import ApiToken
from tests.api.conftest import Api, user_token


def test_create_use_and_revoke(client, auth, db, world):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201", language="en")
    other = world.user(tenant, email="other@acme.test", extension="202")
    user_token(db, other, "other's secret laptop")
    auth.login(me.email, language="en")
    page = client.get("/api-tokens/")
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert "API tokens" in text and "You have no API token." in text and "other's secret laptop" not in text
    # No CSRF token: refused, nothing created.
    assert client.post("/api-tokens/", data={"name": "script", "expires": "30"}).status_code == 400
    assert db.query(ApiToken).filter_by(user_id=me.id).count() == 0
    resp = client.post("/api-tokens/", data={"name": "script", "expires": "30", "csrf_token": auth.csrf("/api-tokens/")})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<code class="token" id="new-token">(cpbx_[A-Za-z0-9_-]+)</code>', resp.get_data(as_text=True))
    assert secret, resp.get_data(as_text=True)
    token = secret.group(1)
    assert Api(client, token).get("/api/v1/me").get_json()["email"] == "me@acme.test"
    # Shown once only.
    assert token not in client.get("/api-tokens/").get_data(as_text=True)
    row = db.query(ApiToken).filter_by(user_id=me.id).one()
    assert row.expires_at is not None
    # Another user's token id cannot be revoked from here.
    theirs = db.query(ApiToken).filter_by(user_id=other.id).one()
    csrf = auth.csrf("/api-tokens/")
    assert client.post(f"/api-tokens/{theirs.id}/revoke", data={"csrf_token": csrf}).status_code == 404
    db.refresh(theirs)
    assert theirs.revoked_at is None
    resp = client.post(f"/api-tokens/{row.id}/revoke", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Token revoked." in resp.get_data(as_text=True) and "Revoked" in resp.get_data(as_text=True)
    assert Api(client, token).get("/api/v1/me").status_code == 401


def test_refusals_and_french(client, auth, db, world):
    tenant = world.tenant("acme.test")
    me = world.user(tenant, email="me@acme.test", extension="201")
    auth.login(me.email)
    text = html.unescape(client.get("/api-tokens/").get_data(as_text=True))
    assert "Jetons d'API" in text and "Créer un jeton" in text
    for name in ("", "x" * 81, "bad\x07name"):
        resp = client.post("/api-tokens/", data={"name": name, "expires": "0", "csrf_token": auth.csrf("/api-tokens/")})
        assert resp.status_code == 400, name
    assert db.query(ApiToken).count() == 0
    assert "Donnez un nom au jeton." in html.unescape(
        client.post("/api-tokens/", data={"name": " ", "expires": "0",
                                          "csrf_token": auth.csrf("/api-tokens/")}).get_data(as_text=True))
    assert client.get("/api-tokens/", headers={}).status_code == 200
    client.post("/logout", data={"csrf_token": auth.csrf("/api-tokens/")})
    assert client.get("/api-tokens/").status_code == 302  # sign-in required
