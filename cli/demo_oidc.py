"""The demo's stand-in for Google: a small OpenID Connect provider on loopback that `clusterpbx run` starts
so that "Connexion avec Gmail" can be tried without a Google project. The portal talks to it exactly as
it talks to Google (web/identity/google.py: discovery, state, nonce, PKCE S256, ID token signature,
issuer, audience, expiry, then the `picture` fetched server-side); only the discovery URL and the client
differ. Its sign-in page says plainly that it is the demo's local provider, not Google, and offers a few
made-up "Google accounts" to sign in with, one per demo user it is meant to show, plus one that matches
no portal account (the portal's refusal).

`OidcProvider` is the provider itself: Authlib's authorization server (authorization code + OpenID
Connect + PKCE S256) for one client, with its own RSA key, a discovery document and a JWKS, served by
werkzeug in a thread; codes live in memory, no consent is remembered. A subclass says who signs in
(`sign_in`) and may add routes (`add_routes`): `DemoOidcProvider` here, with its sign-in page; the
tests' provider (tests/identity/oidc_provider.py), which also plays a hostile provider through
`id_token_overrides`."""

from __future__ import annotations

import html
import io
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.models import AuthorizationCodeMixin
from flask import Flask, Response, jsonify, request
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "clusterpbx-demo.local"  # the client secret is a fresh one per run, known to this process only
DEMO_PORT = 8001
ID_TOKEN_SECONDS = 600


def new_signing_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def picture_png(color: tuple[int, int, int], initials: str = "", size: int = 128) -> bytes:
    """A square PNG of one colour, with the initials written on it when given."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), color)
    if initials:
        ImageDraw.Draw(img).text((size // 2, size // 2), initials, fill=(255, 255, 255), anchor="mm",
                                 font_size=size // 2)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class _Client(ClientMixin):
    def __init__(self, redirect_uri: str, client_id: str, secret: str):
        self.redirect_uri = redirect_uri
        self.client_id = client_id
        self.secret = secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in ("openid", "email", "profile"))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri  # exact match, as Google does

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class _Code(AuthorizationCodeMixin):
    code: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    claims: dict[str, Any]
    auth_time: int = field(default_factory=lambda: int(time.time()))
    expires_at: float = field(default_factory=lambda: time.monotonic() + 300)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


@dataclass
class _Account:
    """The Google account signing in (what `grant_user` is to Authlib)."""

    claims: dict[str, Any]

    def get_user_id(self) -> str:
        return str(self.claims["sub"])


def _refused(error: OAuth2Error) -> Response:
    return Response(f"authorization refused: {error.error}", status=400, mimetype="text/plain")


class OidcProvider:
    """An OpenID Connect provider for one client on `host`:`port` (0: an ephemeral port). Start it with
    `start()`; the portal finds it at `discovery_url`. `id_token_overrides` replaces claims of the ID
    tokens it signs (applied last: nonce, exp, aud included)."""

    def __init__(self, redirect_uri: str, *, client_id: str, client_secret: str, key: RSAKey,
                 host: str = "127.0.0.1", port: int = 0, name: str = "oidc-provider"):
        self.client_id = client_id
        self.client_secret = client_secret
        self.client = _Client(redirect_uri, client_id, client_secret)
        self.key = key
        self.id_token_overrides: dict[str, Any] = {}
        self.codes: dict[str, _Code] = {}
        self._lock = threading.Lock()
        self.app = Flask(__name__)
        self.app.config.update(SECRET_KEY=secrets.token_hex(16),
                               OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": 3600})
        self.authorization = self._authorization_server()
        self._add_provider_routes()
        self.add_routes(self.app)
        self._server = make_server(host, port, self.app, threaded=True)
        self.url = f"http://{host}:{self._server.server_port}"
        # stop() waits for the serving loop's next poll: a twentieth of a second, not the default half.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=name, daemon=True)

    @property
    def discovery_url(self) -> str:
        return self.url + "/.well-known/openid-configuration"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()  # refuse new connections at once instead of leaving them queued
        self._thread.join(5)

    # -- what a subclass says
    def sign_in(self) -> dict[str, Any] | Response:
        """At /authorize (PKCE S256 checked): the claims of the account that consents, or a response to
        send instead (a sign-in page, a refusal)."""
        raise NotImplementedError

    def add_routes(self, app: Flask) -> None:
        """The subclass's own routes (pictures, request hooks)."""

    # -- the provider
    def _authorization_server(self) -> AuthorizationServer:
        provider = self

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

            def save_authorization_code(self, code: str, req: Any) -> None:
                data = req.payload.data
                with provider._lock:
                    now = time.monotonic()
                    for old in [c for c, v in provider.codes.items() if v.expires_at < now]:
                        provider.codes.pop(old, None)
                    provider.codes[code] = _Code(
                        code=code, redirect_uri=req.payload.redirect_uri, scope=req.scope,
                        nonce=data.get("nonce"), code_challenge=data.get("code_challenge"),
                        code_challenge_method=data.get("code_challenge_method"), claims=dict(req.user.claims))

            def query_authorization_code(self, code: str, client: Any) -> _Code | None:
                with provider._lock:
                    found = provider.codes.get(code)
                return found if found is not None and found.expires_at >= time.monotonic() else None

            def delete_authorization_code(self, authorization_code: _Code) -> None:
                with provider._lock:
                    provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: _Code) -> _Account:
                return _Account(authorization_code.claims)

        class OpenIDExtension(OpenIDCode):
            def exists_nonce(self, nonce: str, req: Any) -> bool:
                return False

            def resolve_client_private_key(self, client: Any) -> RSAKey:
                return provider.key

            def get_encode_header(self, client: Any) -> dict[str, str]:
                return {"alg": "RS256", "kid": str(provider.key.kid)}

            def get_client_claims(self, client: Any) -> dict[str, Any]:
                now = int(time.time())
                return {"iss": provider.url, "aud": [provider.client_id], "iat": now, "exp": now + ID_TOKEN_SECONDS}

            def generate_user_info(self, user: _Account, scope: str) -> UserInfo:
                info = UserInfo(user.claims)
                info.update(provider.id_token_overrides)  # applied last (claims.update(user_info))
                return info

        server = AuthorizationServer(
            self.app, query_client=lambda cid: provider.client if cid == provider.client_id else None,
            save_token=lambda token, req: None)
        server.register_grant(CodeGrant, [OpenIDExtension(require_nonce=True), CodeChallenge(required=True)])
        return server

    def _add_provider_routes(self) -> None:
        provider, app, server = self, self.app, self.authorization

        @app.after_request
        def headers(resp: Response) -> Response:
            resp.headers["X-Frame-Options"] = "DENY"
            resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
            resp.headers["Cache-Control"] = "no-store"
            return resp

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

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize() -> Any:
            # Like Google for a confidential client, PKCE S256 is insisted on, so a regression shows.
            if request.args.get("code_challenge_method") != "S256":
                return Response("PKCE S256 required", status=400, mimetype="text/plain")
            signing_in = provider.sign_in()
            if isinstance(signing_in, Response):
                return signing_in
            end_user = _Account(signing_in)
            try:
                grant = server.get_consent_grant(end_user=end_user)
            except OAuth2Error as error:
                return _refused(error)
            return server.create_authorization_response(grant_user=end_user, grant=grant)

        @app.post("/token")
        def token() -> Any:
            return server.create_token_response()


@dataclass(frozen=True)
class DemoAccount:
    """A made-up Google account of the stand-in provider."""

    sub: str
    email: str
    name: str
    color: tuple[int, int, int]
    note: str = ""


ACCOUNTS = [
    DemoAccount("demo-google-marie", "marie.tremblay@demo.clusterpbx.test", "Marie Tremblay", (66, 133, 244),
                "Marie Tremblay, utilisatrice de la démo"),
    DemoAccount("demo-google-emma", "emma.wilson@demo.clusterpbx.test", "Emma Wilson", (15, 157, 88),
                "Emma Wilson, demo user (English)"),
    DemoAccount("demo-google-stranger", "quelquun@gmail.example", "Quelqu'un d'autre", (219, 68, 55),
                "aucun compte du portail : la connexion est refusée / no portal account: refused"),
]


PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Fournisseur OpenID local de la démo</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#222}}
.banner{{background:#fff3cd;border:1px solid #e0c060;padding:.75rem 1rem;border-radius:6px}}
button{{display:block;width:100%;text-align:left;margin:.5rem 0;padding:.75rem 1rem;font-size:1rem;
border:1px solid #bbb;border-radius:6px;background:#fafafa;cursor:pointer}}button:hover{{background:#eef}}
small{{color:#555}}</style></head><body>
<p class="banner"><strong>Démo ClusterPBX : fournisseur OpenID local — ce n'est pas Google.</strong><br>
ClusterPBX demo: local OpenID provider standing in for Google. The portal uses the same sign-in code as
with Google; only the provider differs. No password is asked here.</p>
<h1>Choisissez un compte / Choose an account</h1>
<form method="post">{buttons}</form>
</body></html>"""


class DemoOidcProvider(OidcProvider):
    """Start with `start()`; `discovery_url`, `client_secret` and `portal_settings()` wire the portal to it."""

    def __init__(self, redirect_uri: str, host: str = "127.0.0.1", port: int = DEMO_PORT):
        super().__init__(redirect_uri, client_id=CLIENT_ID, client_secret=secrets.token_urlsafe(24),
                         key=new_signing_key("clusterpbx-demo"), host=host, port=port, name="demo-oidc")

    def portal_settings(self) -> dict[str, Any]:
        """The portal settings of the demo: Google's client pointed at this provider, and the outbound URL
        policy's documented switches (docs/deploy.md) opened for its loopback http address, for this demo
        process only; the defaults (https, public hosts) stay as they are for every real configuration."""
        return {"google_client_id": CLIENT_ID, "google_client_secret": self.client_secret,
                "google_discovery_url": self.discovery_url, "google_picture_hosts": "127.0.0.1",
                "outbound_allow_http": True, "outbound_allow_private": True}

    def claims_of(self, account: DemoAccount) -> dict[str, Any]:
        return {"sub": account.sub, "email": account.email, "email_verified": True, "name": account.name,
                "picture": f"{self.url}/picture/{account.sub}.png"}

    def sign_in(self) -> dict[str, Any] | Response:
        if request.method == "GET":
            try:
                self.authorization.get_consent_grant(end_user=None)  # checks client, redirect URI, scope first
            except OAuth2Error as error:
                return _refused(error)
            # The form posts back to this very URL: the authorization request stays in its query.
            buttons = "".join(
                f'<button type="submit" name="account" value="{html.escape(a.sub)}"><strong>'
                f"{html.escape(a.name)}</strong><br>{html.escape(a.email)}<br><small>{html.escape(a.note)}"
                "</small></button>" for a in ACCOUNTS)
            return Response(PAGE.format(buttons=buttons), mimetype="text/html")
        account = next((a for a in ACCOUNTS if a.sub == request.form.get("account")), None)
        if account is None:
            return Response("choose one of the demo accounts", status=400, mimetype="text/plain")
        return self.claims_of(account)

    def add_routes(self, app: Flask) -> None:
        @app.get("/picture/<sub>.png")
        def picture(sub: str) -> Any:
            account = next((a for a in ACCOUNTS if a.sub == sub), None)
            if account is None:
                return Response(status=404)
            initials = "".join(w[0] for w in account.name.split()[:2]).upper()
            return Response(picture_png(account.color, initials), mimetype="image/png")
