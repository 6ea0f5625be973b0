"""The Flask portal: `create_app()` builds the app and registers one blueprint per screen."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import re
from typing import Any

from flask import Flask, Response, abort, g, render_template, request, session
from flask_babel import Babel
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from clusterpbx.control import commands
from clusterpbx.control.config import Settings, load_settings
from clusterpbx.control.db import BUSY_TIMEOUT, is_busy, make_engine, make_session_factory

from .db import end_transaction, reset_session
from .jsonresponse import error_response
from .limiter import config as limiter_config
from .limiter import limiter
from .uploads import too_large

LANGUAGES = {"fr": "Français", "en": "English"}

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
log = logging.getLogger("clusterpbx.web")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    test_config = dict(test_config or {})
    overrides = test_config.pop("SETTINGS", {})
    settings: Settings = load_settings(overrides)
    app = Flask(__name__, instance_path=settings.instance_path)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="clusterpbx_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=dt.timedelta(days=settings.remember_days),
        REMEMBER_COOKIE_NAME="clusterpbx_remember",
        WTF_CSRF_TIME_LIMIT=None,  # tied to the session instead of an arbitrary hour
        BABEL_DEFAULT_LOCALE=settings.default_language,
        BABEL_TRANSLATION_DIRECTORIES="translations",
        CLUSTERPBX=settings,
        **limiter_config(settings),
    )
    app.config.update(test_config)

    # A request waits at most this long for a database lock, then answers "busy, try again" (503).
    engine = make_engine(settings.database_url, busy_timeout=float(app.config.get("DATABASE_BUSY_TIMEOUT",
                                                                                  BUSY_TIMEOUT)))
    app.extensions["clusterpbx.engine"] = engine
    app.extensions["clusterpbx.sessions"] = make_session_factory(engine)

    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "auth.login"
    login_manager.login_message = None  # the login page itself is explanation enough

    # The blueprints import this package (csrf, login_manager, id_arg): they are loaded here, once it is
    # complete, as in Flask's application-factory pattern; so is web/api's error_response below.
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)

    @app.url_value_preprocessor
    def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        # Every id column is a 32-bit integer: a larger id in a URL is simply not found, rather than
        # an "integer out of range" from PostgreSQL. (Other numbers, such as an expiry time, pass.)
        if values and any(isinstance(v, int) and k.endswith("id") and not 0 <= v <= MAX_ID
                          for k, v in values.items()):
            abort(404)

    @app.teardown_appcontext
    def _close_db(_exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.close()

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"LANGUAGES": LANGUAGES, "menu": menu_items(app), "current_locale": str(select_locale())}

    @app.after_request
    def _security_headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        return resp

    @app.errorhandler(CSRFError)
    def _csrf_error(_e: CSRFError) -> Any:
        return render_template("error.html", code=400, kind="csrf"), 400

    @app.errorhandler(404)
    def _not_found(_e: Any) -> Any:
        return render_template("error.html", code=404, kind="not_found"), 404

    # A file over the upload limit: back to its form with the reason (web/uploads.py).
    app.register_error_handler(413, too_large)

    @app.errorhandler(429)
    def _too_many(_e: Any) -> Any:
        return render_template("error.html", code=429, kind="rate_limited"), 429

    @app.errorhandler(SQLAlchemyError)
    def _database_error(exc: SQLAlchemyError) -> Any:
        # The session is rolled back first: the error page itself reads the database (the menu, the
        # user's language), and a failed session would raise PendingRollbackError there.
        reset_session()
        if not is_busy(exc):
            log.error("database error on %s %s", request.method, request.path, exc_info=exc)
            return _server_error(exc)
        log.warning("database busy on %s %s: %s", request.method, request.path, exc)
        return busy_response()

    @app.errorhandler(500)
    def _server_error(_e: Any) -> Any:
        reset_session()
        if request.path.startswith("/api/"):
                return error_response(500, {"": "Internal error."})
        try:
            return render_template("error.html", code=500, kind="server"), 500
        except Exception:  # the page cannot be rendered either (the database is gone): plain text
            log.exception("the error page could not be rendered")
            return Response(FALLBACK_ERROR, 500, mimetype="text/plain")

    if end_transaction not in commands.BEFORE_CALL:
        commands.BEFORE_CALL.append(end_transaction)
    return app


FALLBACK_ERROR = ("Something went wrong on our side. Your data is safe; please try again.\n"
                  "Une erreur s'est produite de notre côté. Vos données sont intactes; veuillez réessayer.\n")
BUSY_RETRY_AFTER = 5  # seconds
# Form fields never written back into a page (the busy page's "send again" form).
SECRET_FIELD = re.compile(r"password|secret|pin|token|passcode", re.IGNORECASE)


def busy_response() -> Any:
    """503 with Retry-After when a database lock could not be had in time: JSON under /api, otherwise the
    portal's page in the user's language. A form that was being sent is offered again, with what the
    user typed (secrets excepted), so nothing is lost."""
    headers = {"Retry-After": str(BUSY_RETRY_AFTER), "Cache-Control": "no-store"}
    if request.path.startswith("/api/"):
        return error_response(503, {"": BUSY_API_MESSAGE}, headers)
    replay: list[tuple[str, str]] | None = None
    secret_fields = False
    if request.method == "POST" and not request.files:
        replay = []
        for key, value in request.form.items(multi=True):
            if key == "csrf_token":
                continue
            if SECRET_FIELD.search(key):
                secret_fields = True
                continue
            replay.append((key, value))
    try:
        html = render_template("errors/busy.html", replay=replay if not secret_fields else None,
                               secret_fields=secret_fields, action=request.full_path.rstrip("?"),
                               was_upload=bool(request.files))
    except Exception:  # the database is needed to draw the page (menu, user): plain text instead
        log.warning("the busy page could not be rendered", exc_info=True)
        return Response(FALLBACK_BUSY, 503, headers, mimetype="text/plain")
    return html, 503, headers


BUSY_API_MESSAGE = "The database is busy; nothing was changed. Try again in a few seconds."
FALLBACK_BUSY = ("The portal is very busy right now; nothing was lost. Try again in a few seconds.\n"
                 "Le portail est très occupé en ce moment; rien n'a été perdu. Réessayez dans quelques secondes.\n")


# One screen (or endpoint) per module, each on its own line.
MAX_ID = 2**31 - 1


def id_arg(value: str | None) -> int | None:
    """A positive id from a query string, or None for anything else (empty, "²", too large...)."""
    if value is None or not re.fullmatch(r"[0-9]{1,10}", value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


BLUEPRINTS = [
    "auth",
    "identity",
    "home",
    "profile",
    "settings",
    "guide",
    "cdr",
    "xmlcurl",
    "calls",
    "live",
    "voicemail",
    "provision",
    "phone",
    "softphone",
    "queues",
    "directory",
    "sms",
    "conference",
    "webconf",
    "health",
    "admin",
    "api",
]

# The guide's menu, in the guide's order. Every item is shown: a screen whose endpoint is missing makes
# url_for fail (tests/web/test_menu_endpoints.py) rather than silently dropping out of the menu.
MENU = [
    ("home.index", _l("Home")),
    ("profile.index", _l("My profile picture")),
    ("calls.index", _l("Call details")),
    ("voicemail.index", _l("Voicemail")),
    ("live.index", _l("Current calls")),
    ("softphone.index", _l("My softphone")),
    ("phone.index", _l("My phone")),
    ("queues.index", _l("My queues")),
    ("directory.index", _l("Directory")),
    ("sms.index", _l("SMS")),
    ("webconf.index", _l("Online conference")),
    ("conference.index", _l("Personal conference")),
    ("settings.index", _l("Settings")),
]


def menu_items(app: Flask) -> list[tuple[str, Any]]:
    return list(MENU)


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.language in LANGUAGES:
        return str(current_user.language)
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES)) or "fr"


def select_timezone() -> str | None:
    if current_user and current_user.is_authenticated:
        return current_user.timezone or current_user.tenant.timezone
    return None
