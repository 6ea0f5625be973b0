"""Connexion avec Gmail: OpenID Connect through Authlib (discovery, state, nonce, PKCE S256). A verified
Google address signs in the account with that login e-mail, where its tenant allows Google sign-in; the
Google picture is fetched server-side for "Mon image de profil"."""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from joserfc.errors import JoseError

from clusterpbx.control import urlpolicy
from clusterpbx.control.identity import GoogleRefused, PictureError, fetch_google_picture, google_user
from clusterpbx.control.images import ImageRejected
from clusterpbx.control.models import utcnow

from ..auth import LoginForm, PortalUser
from ..db import get_db
from ..limiter import limiter
from ..redirects import safe_redirect_target
from . import bp, mailer, remote_address, settings

log = logging.getLogger("clusterpbx.web.google")
EXTENSION = "clusterpbx.google"


def google_enabled(app: Flask) -> bool:
    return EXTENSION in app.extensions


def init_app(app: Flask) -> None:
    conf = app.config["CLUSTERPBX"]
    if not (conf.google_client_id and conf.google_client_secret):
        return  # not configured: no button, and the routes answer 404
    try:
        urlpolicy.check_url(conf.google_discovery_url)
    except urlpolicy.UrlRefused as exc:
        # An operator's mistake: say so at start-up rather than at the first sign-in.
        raise RuntimeError(f"google_discovery_url is not allowed ({exc}); see outbound_allow_http and "
                           "outbound_allow_private in docs/deploy.md") from None
    oauth = OAuth(app)
    client = oauth.register(
        "google",
        client_id=conf.google_client_id,
        client_secret=conf.google_client_secret,
        server_metadata_url=conf.google_discovery_url,
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                       "default_timeout": conf.google_timeout},
    )
    # Discovery, JWKS and token requests go through the outbound URL policy too (vetted connections).
    client.client_cls = _vetted_session_class()
    app.extensions[EXTENSION] = client


def _vetted_session_class() -> type:
    from authlib.integrations.requests_client import OAuth2Session

    class VettedOAuth2Session(OAuth2Session):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            urlpolicy.mount(self)

    return VettedOAuth2Session


def _client() -> Any:
    client = current_app.extensions.get(EXTENSION)
    if client is None:
        abort(404)
    return client


def refusal_message(code: str) -> str:
    return {
        "state": _("The Google sign-in could not be completed: it expired or did not start on this portal. "
                   "Please try again."),
        "token": _("Google's answer could not be verified. Please try again."),
        "cancelled": _("The Google sign-in was cancelled."),
        "provider": _("Google refused the sign-in. Please try again."),
        "unreachable": _("Google cannot be reached at the moment. Try again later, or log in with your e-mail "
                         "and password."),
        "no_email": _("Your Google account did not give an e-mail address, so it cannot be matched to a portal "
                      "account."),
        "unverified": _("Your Google account's e-mail address is not verified by Google, so it cannot be used "
                        "to sign in."),
        "unknown": _("No portal account uses the e-mail address of this Google account. Sign in with Google "
                     "using your company e-mail address."),
        "tenant_disallows": _("Your company does not allow signing in with Google. Log in with your e-mail and "
                              "password."),
        "other_google_account": _("This portal account is linked to a different Google account."),
        "inactive": _("This account is disabled, not confirmed yet, or waiting for approval."),
    }.get(code, _("The Google sign-in failed. Please try again."))


def _refuse(code: str, status: int = 403) -> Any:
    log.info("Google sign-in refused: %s", code)
    flash(refusal_message(code), "error")
    return render_template("auth/login.html", form=LoginForm()), status


@bp.route("/login/google")
def google_start() -> Any:
    client = _client()
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    # Authlib keeps each started flow (state, nonce, PKCE verifier) in the session cookie; flows started
    # and abandoned would pile up there, so only the latest one stays.
    for key in [k for k in session if k.startswith("_state_google_")]:
        session.pop(key)
    # Where to go after the sign-in (the login page's next=), checked now and again on the way back.
    session["google_next"] = safe_redirect_target(request.args.get("next"), "")
    try:
        # The redirect URI comes from public_url (it must match the one registered with Google exactly).
        return client.authorize_redirect(mailer.absolute_url("identity.google_callback"),
                                         prompt="select_account")
    except (requests.RequestException, ValueError, RuntimeError):
        log.exception("Google discovery failed")
        return _refuse("unreachable", 503)


@bp.route("/login/google/callback")
@limiter.limit(lambda: current_app.config["CLUSTERPBX"].login_rate_limit, key_func=remote_address)
def google_callback() -> Any:
    client = _client()
    try:
        # Checks the state against the session, sends the PKCE verifier, then validates the ID token:
        # signature (JWKS from discovery), issuer, audience, expiry and the nonce kept in the session.
        token = client.authorize_access_token()
    except MismatchingStateError:
        return _refuse("state", 400)
    except OAuthError as exc:
        return _refuse("cancelled" if exc.error == "access_denied" else "provider", 400)
    except JoseError as exc:
        log.warning("Google ID token rejected: %r", exc)
        return _refuse("token", 400)
    except requests.RequestException:
        log.exception("Google token endpoint unreachable")
        return _refuse("unreachable", 503)
    claims = token.get("userinfo")
    if not claims:
        return _refuse("token", 400)
    db = get_db()
    try:
        user = google_user(db, claims)
    except GoogleRefused as exc:
        db.rollback()
        return _refuse(exc.code)
    picture_url = claims.get("picture")
    if isinstance(picture_url, str) and picture_url:
        conf = settings()
        try:
            user.google_picture = fetch_google_picture(picture_url, allowed_hosts=conf.google_picture_hosts,
                                                       max_bytes=conf.google_picture_max_bytes,
                                                       timeout=conf.google_timeout)
        except (PictureError, ImageRejected) as exc:
            # The sign-in itself is fine; the previous picture (if any) stays.
            log.warning("Google picture of user %s not stored: %s", user.id, exc)
    user.last_login_at = utcnow()
    db.commit()
    target = safe_redirect_target(session.get("google_next"), url_for("home.index"))
    session.clear()  # a fresh session at login (no fixation); drops the used OAuth state too
    session["lang"] = user.language
    login_user(PortalUser(user))
    return redirect(target)
