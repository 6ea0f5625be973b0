"""Installation configuration: a TOML file (path in CLUSTERPBX_CONFIG) overridden by
CLUSTERPBX_* environment variables, plus the instance folder that holds the secrets."""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import urlpolicy


@dataclass
class Settings:
    instance_path: str = ""
    database_url: str = ""
    secret_key: str = ""
    # Flask-Limiter storage: memory:// is per process; use redis://host:6379 under gunicorn.
    ratelimit_storage_url: str = "memory://"
    login_rate_limit: str = "10 per minute"
    # Login throttling (control/logins.py, docs/deploy.md "Login throttling"): wrong passwords slow down
    # the client sending them, per (e-mail address, client) pair and per client address, doubling the
    # wait with each further failure up to login_backoff_max_seconds. An address is locked (for everyone)
    # only after account_lock_failures failures from anywhere; its owner still gets in through "Forgot
    # your password?", and choosing a new password lifts the lock. Failures are forgotten after
    # login_failure_window_hours without any.
    login_pair_free_failures: int = 3
    login_client_free_failures: int = 20
    login_backoff_seconds: int = 30
    login_backoff_max_seconds: int = 900
    account_lock_failures: int = 50
    account_lock_minutes: int = 60
    login_failure_window_hours: int = 24
    session_cookie_secure: bool = True
    remember_days: int = 14
    max_upload_bytes: int = 5 * 1024 * 1024
    default_language: str = "fr"
    # Local command channel of the control daemon (loopback HTTP with a shared secret).
    control_url: str = "http://127.0.0.1:8765"
    control_timeout: float = 5.0
    # Several control daemons on one PostgreSQL (issue 26, control/cluster.py, docs/deploy.md): each owns
    # some PBX nodes through leases in the database and forwards commands for the others' nodes. Refused
    # on SQLite. control_advertise is the "host:port" the other daemons and the portals reach this daemon's
    # command channel at (default: control_url's host and port; the machine's name when bound to all
    # addresses). A node whose owner dies is taken over within control_node_lease + a third of it.
    control_cluster: bool = False
    control_advertise: str = ""
    control_node_lease: float = 6.0
    # How long a save waits for the daemon to push it to the PBX before the portal answers "being
    # applied" (the push goes on; the page shows "applied" once the PBX took it). Keeps a save's answer
    # short when the PBX or the daemon is slow (issue 20: p99 < 500 ms).
    apply_wait: float = 0.4
    # Absolute base of every link the portal sends by e-mail and of the Google redirect URI. Links are
    # never built from the Host header, which a client controls. Set it to the public https address.
    public_url: str = "http://127.0.0.1:8000"
    # Outgoing mail (sign-up confirmation, password reset). Without smtp_host, messages are written
    # as .eml files to <instance>/outbox and a warning is logged (handy for the demo).
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_ssl: bool = False  # implicit TLS (port 465) instead of STARTTLS
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_timeout: float = 10.0
    # "Connexion avec Gmail" (OpenID Connect); the button shows only when the client id and secret are set.
    google_client_id: str = ""
    google_client_secret: str = ""
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"
    google_timeout: float = 10.0
    # The Google profile picture is fetched server-side from these host suffixes only (comma-separated).
    google_picture_hosts: str = "googleusercontent.com"
    google_picture_max_bytes: int = 2 * 1024 * 1024
    # Self sign-up ("S'enregistrer") and "Mot de passe oublié ?": per-IP limits on the forms, a limit on
    # the e-mails sent to one address, and how long the e-mailed links stay valid.
    signup_rate_limit: str = "5 per hour"
    forgot_rate_limit: str = "5 per hour"
    mail_per_address_rate_limit: str = "3 per hour"
    signup_link_hours: int = 48
    reset_link_minutes: int = 60
    # URLs an operator or tenant sets (SMS gateway and webhook, Zoom, Jitsi, Google discovery) must be
    # https and public (control/urlpolicy.py), checked on save and at every connection. Allow plain http,
    # or targets on loopback, link-local and private networks (an in-house gateway), only if you mean it.
    outbound_allow_http: bool = False
    outbound_allow_private: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    return value


def default_instance_path() -> Path:
    return Path(os.environ.get("CLUSTERPBX_INSTANCE", Path.cwd() / "instance")).resolve()


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Read the TOML file, then the environment, then explicit overrides (tests)."""
    data: dict[str, Any] = {}
    path = os.environ.get("CLUSTERPBX_CONFIG")
    if path:
        with open(path, "rb") as fh:
            data.update(tomllib.load(fh))
    known = {f.name for f in fields(Settings)}
    settings = Settings(**{k: v for k, v in data.items() if k in known})
    settings.extra = {k: v for k, v in data.items() if k not in known}
    for f in fields(Settings):
        env = os.environ.get("CLUSTERPBX_" + f.name.upper())
        if env is not None and f.name != "extra":
            setattr(settings, f.name, _coerce(env, getattr(settings, f.name)))
    for k, v in (overrides or {}).items():
        setattr(settings, k, v)
    instance = Path(settings.instance_path) if settings.instance_path else default_instance_path()
    settings.instance_path = str(instance)
    if not settings.database_url:
        settings.database_url = f"sqlite:///{instance / 'clusterpbx.db'}"
    if not settings.secret_key:
        settings.secret_key = instance_secret(instance, "secret_key")
    urlpolicy.configure(urlpolicy.UrlPolicy.from_settings(settings))  # the process's outbound URL policy
    return settings


def instance_secret(instance: Path, name: str) -> str:
    """A random secret generated on first use and kept (mode 0600) in the instance folder."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value
