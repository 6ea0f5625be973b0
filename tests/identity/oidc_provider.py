"""The local OpenID Connect provider standing in for Google in the tests: the demo's provider
(clusterpbx.demo_oidc.OidcProvider: Authlib's authorization server with PKCE, discovery, JWKS) for a fixed
test client, with one RSA key per test session, on an ephemeral loopback port, and a profile picture.

Knobs let a test play a misbehaving or hostile provider: `identity` is the Google account that "signs in"
(at once, no sign-in page), `id_token_overrides` replaces claims of the next ID tokens (a wrong nonce, an
expired token); `authorize_requests` and `token_requests` record what the portal sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request
from joserfc.jwk import RSAKey

from clusterpbx.demo_oidc import OidcProvider, new_signing_key, picture_png

CLIENT_ID = "clusterpbx-test.apps.example"
CLIENT_SECRET = "test-client-secret"  # noqa: S105 (a test value)
_KEY: RSAKey | None = None


def signing_key() -> RSAKey:
    global _KEY
    if _KEY is None:  # one RSA key per test session: generating it is the slow part
        _KEY = new_signing_key("test-key-1")
    return _KEY


class Provider(OidcProvider):
    def __init__(self, redirect_uri: str):
        self.identity: dict[str, Any] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.picture = picture_png((219, 68, 55), size=120)
        self.picture_hits = 0
        super().__init__(redirect_uri, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, key=signing_key(),
                         name="test-oidc")

    def set_identity(self, email: str, *, sub: str = "google-sub-1", verified: Any = True,
                     picture: str | None = "default", name: str = "Test Google") -> None:
        self.identity = {"sub": sub, "email": email, "email_verified": verified, "name": name}
        if picture == "default":
            picture = self.url + "/picture.png"
        if picture:
            self.identity["picture"] = picture

    def sign_in(self) -> dict[str, Any]:
        return dict(self.identity)  # no sign-in page: the account in `identity` consents at once

    def add_routes(self, app: Flask) -> None:
        @app.before_request
        def record() -> None:
            if request.path == "/authorize":
                self.authorize_requests.append(request.args.to_dict())
            elif request.path == "/token":
                self.token_requests.append(request.form.to_dict())

        @app.get("/picture.png")
        def picture() -> Any:
            self.picture_hits += 1
            return Response(self.picture, mimetype="image/png")

        @app.get("/huge.png")
        def huge() -> Any:
            def chunks() -> Iterator[bytes]:
                for _ in range(64):
                    yield b"\0" * 65536
            return Response(chunks(), mimetype="image/png")
