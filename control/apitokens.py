"""REST API bearer tokens: created once (only the SHA-256 of the secret is stored), listed by prefix,
revoked, and resolved to the `Actor` a request acts as.

A per-user token acts as its user (whatever role the user has *now*, and only while the account is
active and approved). An integration token has no user: it acts with its stored role in its tenant
(an operator integration token has no tenant)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .admin import Actor
from .models import ApiToken, Role, Tenant, User, utcnow
from .validation import has_control_chars

TOKEN_PREFIX = "cpbx_"  # noqa: S105 - a visible prefix, not a secret
MAX_TOKENS_PER_USER = 20
NAME_MAX = 80


class TokenRefused(ValueError):
    """`field` and an English message (also a translatable msgid)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def hash_token(token: str) -> str:
    # The secret is 256 random bits: a fast hash is enough (nothing to brute-force), and lets the
    # lookup be one indexed equality.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise TokenRefused("name", "Give the token a name.")
    if len(name) > NAME_MAX or has_control_chars(name):
        raise TokenRefused("name", "The name must be at most 80 printable characters.")
    return name


def _new(db: Session, token_row: ApiToken) -> str:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_row.token_hash = hash_token(secret)
    token_row.prefix = secret[:12]
    db.add(token_row)
    db.flush()
    return secret


def create_user_token(db: Session, user: User, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """A token acting as `user`; returns the row and the secret (shown once, never stored)."""
    name = _clean_name(name)
    live = [t for t in user_tokens(db, user) if is_usable(t)]
    if len(live) >= MAX_TOKENS_PER_USER:
        raise TokenRefused("name", "You have too many tokens; revoke one first.")
    row = ApiToken(user_id=user.id, name=name, expires_at=expires_at)
    return row, _new(db, row)


def create_integration_token(db: Session, name: str, role: Role, tenant: Tenant | None,
                             expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    name = _clean_name(name)
    if role is Role.USER:
        raise TokenRefused("role", "An integration token is for a tenant admin or an operator.")
    if role is Role.TENANT_ADMIN and tenant is None:
        raise TokenRefused("tenant", "A tenant admin integration token needs a tenant.")
    row = ApiToken(user_id=None, name=name, role=role, tenant_id=tenant.id if tenant else None,
                   expires_at=expires_at)
    return row, _new(db, row)


def user_tokens(db: Session, user: User) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def all_tokens(db: Session) -> list[ApiToken]:
    return list(db.scalars(select(ApiToken).order_by(ApiToken.id)))


def is_usable(token: ApiToken, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def revoke(db: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    db.flush()


def revoke_own(db: Session, user: User, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; another user's id is `LookupError` like a missing one."""
    token = db.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if token is None:
        raise LookupError("no such token")
    revoke(db, token)
    return token


@dataclass(frozen=True)
class Resolved:
    token: ApiToken
    actor: Actor
    user: User | None  # the user a per-user token acts as


def resolve(db: Session, presented: str) -> Resolved | None:
    """The actor behind a presented bearer token, or None (unknown, revoked, expired, disabled user)."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > 200:
        return None
    token = db.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(presented)))
    if token is None or not is_usable(token):
        return None
    if token.user_id is not None:
        user = db.get(User, token.user_id)
        if user is None or not (user.active and user.approved):
            return None
        actor = Actor.of(user)
    else:
        if token.role is None or token.role is Role.USER:
            return None
        user = None
        tenant_id = None if token.role is Role.OPERATOR else token.tenant_id
        if token.role is Role.TENANT_ADMIN and tenant_id is None:
            return None
        actor = Actor(role=token.role, tenant_id=tenant_id, user_id=None, label=f"api:{token.name}")
    now = utcnow()
    # Written at most once a minute per token, not on every request.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token.last_used_at = now
        db.commit()
    return Resolved(token, actor, user)
