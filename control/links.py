"""Signed single-use links: the e-mail confirmation of "S'enregistrer" and the password reset of "Mot de
passe oublié ?" (sent by the page itself or by an administrator, control/admin/users.py). A link names
the user and a fingerprint of what using it changes, so a used link stops working without a table of
used ids."""

from __future__ import annotations

import enum
import hashlib
import hmac

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from .models import User


class LinkPurpose(enum.StrEnum):
    CONFIRM_EMAIL = "confirm-email"
    RESET_PASSWORD = "reset-password"  # noqa: S105 (a salt label, not a secret)


class LinkProblem(Exception):
    """The link cannot be used; `code` is "expired", "invalid" or "used"."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _fingerprint(user: User) -> str:
    # Everything that a use of the link changes: a confirmation flips email_confirmed, a reset changes the
    # password hash and the session version. So a used link no longer matches, without a table of used ids.
    state = f"{user.id}|{user.email}|{user.password_hash}|{user.session_version}|{int(bool(user.email_confirmed))}"
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def _serializer(secret_key: str, purpose: LinkPurpose) -> URLSafeTimedSerializer:
    # A salt per purpose: a confirmation token is never accepted as a reset token, and the reverse. (The
    # salt still names control/identity.py, where this lived: links sent before the move keep working.)
    return URLSafeTimedSerializer(secret_key, salt=f"clusterpbx.identity.{purpose.value}")


def make_link_token(secret_key: str, purpose: LinkPurpose, user: User) -> str:
    return str(_serializer(secret_key, purpose).dumps([user.id, _fingerprint(user)]))


def check_link_token(db: Session, secret_key: str, purpose: LinkPurpose, token: str, max_age_seconds: int) -> User:
    """The user the link was made for, if it is genuine, not expired and not used yet."""
    try:
        user_id, fingerprint = _serializer(secret_key, purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired:
        raise LinkProblem("expired") from None
    except (BadSignature, ValueError, TypeError):
        raise LinkProblem("invalid") from None
    user = db.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not isinstance(fingerprint, str):
        raise LinkProblem("invalid")
    if not hmac.compare_digest(fingerprint, _fingerprint(user)):
        raise LinkProblem("used")
    return user
