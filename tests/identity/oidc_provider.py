"""A local OpenID Connect provider standing in for Google in the tests: Authlib's authorization server
(authorization code grant + OpenID Connect + PKCE) with its own RSA key, a discovery document, a JWKS and
a profile picture, served by werkzeug on an ephemeral loopback port in a thread.

Knobs let a test play a misbehaving or hostile provider: `identity` is the Google account that "signs in",
`id_token_overrides` replaces claims of the next ID tokens (a wrong nonce, an expired token)."""

from __future__ import annotations

import io
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, Response, jsonify, request
from joserfc.jwk import RSAKey
from PIL import Image
from werkzeug.serving import make_server

CLIENT_ID = "clusterpbx-test.apps.example"
CLIENT_SECRET = "test-client-secret"  # noqa: S105 (a test value)
_KEY: RSAKey | None = None


def signing_key() -> RSAKey:
    global _KEY
    if _KEY is None:  # one RSA key per test session: generating it is the slow part
        _KEY = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig", "alg": "RS256"})
    return _KEY


def picture_png(color: tuple[int, int, int] = (219, 68, 55), size: int = 120) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


class Client(ClientMixin):
    def __init__(self, redirect_uri: str):
        self.redirect_uri = redirect_uri

    def get_client_id(self) -> str:
        return CLIENT_ID

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri  # exact match, as Google does

    def check_client_secret(self, client_secret: str) -> bool:
        return client_secret == CLIENT_SECRET

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    identity: dict[str, Any]
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class Account:
    """The Google account signing in (what `grant_user` is to Authlib)."""

    claims: dict[str, Any]

    def get_user_id(self) -> str:
        return str(self.claims["sub"])


class Provider:
    def __init__(self, redirect_uri: str):
        self.client = Client(redirect_uri)
        self.key = signing_key()
        self.codes: dict[str, Code] = {}
        self.identity: dict[str, Any] = {}
        self.id_token_overrides: dict[str, Any] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.picture = picture_png()
        self.picture_hits = 0
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle
    def start(self) -> Provider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # refuse new connections at once instead of leaving them queued
        self._thread.join(5)

    @property
    def discovery_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def set_identity(self, email: str, *, sub: str = "google-sub-1", verified: Any = True,
                     picture: str | None = "default", name: str = "Test Google") -> None:
        self.identity = {"sub": sub, "email": email, "email_verified": verified, "name": name}
        if picture == "default":
            picture = self.url + "/picture.png"
        if picture:
            self.identity["picture"] = picture

    # -- the Flask app
    def _build_app(self) -> Flask:
        provider = self
        app = Flask("test_oidc_provider")
        app.config.update(SECRET_KEY="provider", OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": 3600})

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                provider.codes[code] = Code(
                    code=code, redirect_uri=req.payload.redirect_uri, scope=req.scope, nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"), code_challenge_method=data.get("code_challenge_method"),
                    identity=dict(req.user.claims))

            def query_authorization_code(self, code: str, client: Any) -> Code | None:
                return provider.codes.get(code)

            def delete_authorization_code(self, authorization_code: Code) -> None:
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> Account:
                return Account(authorization_code.identity)

        class OpenIDExtension(OpenIDCode):
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return False

            def resolve_client_private_key(self, client: Any) -> RSAKey:
                return provider.key

            def get_encode_header(self, client: Any) -> dict[str, str]:
                return {"alg": "RS256", "kid": str(provider.key.kid)}

            def get_client_claims(self, client: Any) -> dict[str, Any]:
                now = int(time.time())
                return {"iss": provider.url, "aud": [CLIENT_ID], "iat": now, "exp": now + 3600}

            def generate_user_info(self, user: Account, scope: str) -> UserInfo:
                info = UserInfo(user.claims)
                # Applied last (claims.update(user_info)): a test can break any claim, nonce and exp included.
                info.update(provider.id_token_overrides)
                return info

        server = AuthorizationServer(app, query_client=lambda cid: provider.client if cid == CLIENT_ID else None,
                                     save_token=lambda token, req: None)
        server.register_grant(CodeGrant, [OpenIDExtension(require_nonce=True), CodeChallenge(required=True)])

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify({
                "issuer": provider.url,
                "authorization_endpoint": provider.url + "/authorize",
                "token_endpoint": provider.url + "/token",
                "jwks_uri": provider.url + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": ["sub", "email", "email_verified", "name", "picture"],
            })

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify({"keys": [provider.key.as_dict(private=False)]})

        @app.get("/authorize")
        def authorize() -> Any:
            provider.authorize_requests.append(request.args.to_dict())
            # Like Google for a confidential client we insist on PKCE S256, so a regression shows.
            if request.args.get("code_challenge_method") != "S256":
                return Response("PKCE S256 required", status=400)
            # No login screen: the account in `identity` consents at once.
            account = Account(dict(provider.identity))
            try:
                grant = server.get_consent_grant(end_user=account)
            except OAuth2Error as error:
                return Response(f"authorization refused: {error.error}", status=400)
            return server.create_authorization_response(grant_user=account, grant=grant)

        @app.post("/token")
        def token() -> Any:
            provider.token_requests.append(request.form.to_dict())
            return server.create_token_response()

        @app.get("/picture.png")
        def picture() -> Any:
            provider.picture_hits += 1
            return Response(provider.picture, mimetype="image/png")

        @app.get("/huge.png")
        def huge() -> Any:
            def chunks() -> Any:
                for _ in range(64):
                    yield b"\0" * 65536
            return Response(chunks(), mimetype="image/png")

        return app
