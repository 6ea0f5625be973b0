"""Softphone provisioning documents: Linphone's remote-provisioning XML (lpconfig) and the account
answer of Zoiper's token-based provisioning. Both are fetched once through a single-use URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .model import Rendered
from .vendors.base import render_template


@dataclass(frozen=True)
class SoftphoneAccount:
    username: str
    password: str
    domain: str
    server: str
    port: int
    transport: str
    display_name: str
    codecs: tuple[str, ...] = ()


def linphone(account: SoftphoneAccount) -> Rendered:
    body = render_template("softphone/linphone.xml.j2", a=account)
    return Rendered(body.encode(), "application/xml")


def zoiper(account: SoftphoneAccount) -> Rendered:
    body = render_template("softphone/zoiper.xml.j2", a=account)
    return Rendered(body.encode(), "application/xml")


# ---------------------------------------------------------------------------------------------
# Single-use QR tokens. The QR image carries only a signed token, never the SIP password. The token
# names the user, their session version (a password change or reset voids it) and a random nonce; it
# expires after a few minutes, and its first use is recorded in the ProvisioningFetch log
# (path "softphone/<app>/<nonce>"), which is what refuses a second use: no extra table is needed.

TOKEN_SALT = "clusterpbx-softphone-qr"  # noqa: S105 - a salt, not a secret
TOKEN_MINUTES = 10
APPS = ("linphone", "zoiper")


def issue_token(secret: str, user_id: int, session_version: int, app: str) -> str:
    import secrets as _secrets

    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(secret, salt=TOKEN_SALT).dumps(
        {"u": user_id, "v": session_version, "a": app, "n": _secrets.token_urlsafe(12)})


def redeem_token(db: Any, secret: str, token: str, app: str, address: str,
                 max_minutes: int = TOKEN_MINUTES) -> Any:
    """The user the token was issued to, the first time only; None if forged, expired, voided or used."""
    from itsdangerous import BadData, URLSafeTimedSerializer
    from sqlalchemy import func, select

    from clusterpbx.control.models import ProvisioningFetch, User

    try:
        data = URLSafeTimedSerializer(secret, salt=TOKEN_SALT).loads(token, max_age=max_minutes * 60)
        user_id, version, nonce = int(data["u"]), int(data["v"]), str(data["n"])
    except (BadData, KeyError, TypeError, ValueError):
        return None
    if data.get("a") != app:
        return None
    # Lock the user's row (PostgreSQL) so that two simultaneous uses cannot both see "unused";
    # on SQLite the INSERT below takes the write lock first, with the same effect.
    user = db.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None or user.session_version != version or not (user.active and user.approved):
        return None
    marker = f"softphone/{app}/{nonce}"
    db.add(ProvisioningFetch(device_id=None, mac="", address=address[:64], path=marker, result=200))
    db.flush()
    uses = db.scalar(select(func.count()).select_from(ProvisioningFetch).where(
        ProvisioningFetch.path == marker, ProvisioningFetch.result == 200))
    if uses != 1:
        db.rollback()
        return None
    db.commit()
    return user
