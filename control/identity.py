"""Identity services behind "S'enregistrer", "Mot de passe oublié ?" and "Connexion avec Gmail": self
sign-up by e-mail domain, a new password from a reset link, and matching a verified Google identity to an
account. The signed single-use links themselves are in control/links.py."""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from . import audit, logins, urlpolicy, validation
from .accounts import AccountError, NewUser, create_user
from .admin import Actor
from .images import clean_profile_image
from .models import Tenant, User
from .passwords import PasswordPolicy, hash_password

# --- self sign-up -----------------------------------------------------------------------------------------


class SignupOutcome(enum.StrEnum):
    CREATED = "created"  # new (or still unconfirmed) account: send the confirmation link
    EXISTS = "exists"  # the address already has an account: send "you already have an account"
    UNKNOWN_DOMAIN = "unknown_domain"  # no tenant takes sign-ups from this domain: send nothing


@dataclass
class SignupResult:
    outcome: SignupOutcome
    user: User | None = None


class PolicyViolation(ValueError):
    def __init__(self, codes: list[str], policy: PasswordPolicy):
        super().__init__(", ".join(codes))
        self.codes = codes
        self.policy = policy


def _domains(tenant: Tenant) -> set[str]:
    return {d.strip().lower().lstrip("@") for d in (tenant.email_domains or "").split(",") if d.strip()}


def signup_tenant(db: Session, email: str) -> Tenant | None:
    """The one tenant that takes self sign-ups from the address's domain; None if none or ambiguous."""
    domain = email.rsplit("@", 1)[-1].lower()
    tenants = db.scalars(select(Tenant).where(Tenant.allow_self_signup.is_(True)).order_by(Tenant.id)).all()
    matches = [t for t in tenants if domain in _domains(t)]
    # Two tenants claiming the same domain is a configuration error: placing the person in either could
    # leak them into the wrong company, so neither gets them.
    return matches[0] if len(matches) == 1 else None


def find_user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def sign_up(db: Session, email: str, first_name: str, last_name: str, password: str, language: str) -> SignupResult:
    """Register (or refresh a still unconfirmed registration). Raises AccountError for a malformed
    address or name and PolicyViolation for a password the tenant's policy refuses. Flushes, the caller
    commits."""
    try:
        email = validation.normalise_email(email)
    except validation.InvalidValue:
        raise AccountError("invalid e-mail address") from None
    existing = find_user_by_email(db, email)
    tenant = existing.tenant if existing is not None else signup_tenant(db, email)
    # An unknown domain is judged by the default policy so that the answer does not say which domains exist.
    policy = PasswordPolicy.for_tenant(tenant) if tenant is not None else PasswordPolicy()
    broken = policy.violations(password)
    if broken:
        raise PolicyViolation(broken, policy)
    if existing is not None and not existing.email_confirmed and existing.tenant.allow_self_signup:
        # Nobody proved this address yet: whoever can read its mail may start over. The new password
        # changes the link fingerprint, so an earlier confirmation link (maybe someone else's) stops working.
        existing.first_name, existing.last_name, existing.language = _checked_names(first_name, last_name, language)
        existing.password_hash = hash_password(password)
        db.flush()
        return SignupResult(SignupOutcome.CREATED, existing)
    if existing is not None:
        hash_password(password)  # same work as the other branches: the response time tells nothing
        return SignupResult(SignupOutcome.EXISTS, existing)
    if tenant is None:
        hash_password(password)
        return SignupResult(SignupOutcome.UNKNOWN_DOMAIN)
    user = create_user(db, tenant, NewUser(email=email, first_name=first_name, last_name=last_name,
                                           password=password, language=language), check_policy=False,
                       actor=Actor.command_line("self sign-up"))
    user.email_confirmed = False
    user.approved = False  # until the address is confirmed, and then the tenant decides
    db.flush()
    return SignupResult(SignupOutcome.CREATED, user)


def _checked_names(first_name: str, last_name: str, language: str) -> tuple[str, str, str]:
    """The names and language validated as create_user validates them, for a pending sign-up's update."""
    try:
        first = validation.display_name(first_name, "first_name")
        last = validation.display_name(last_name, "last_name")
    except validation.InvalidValue as exc:
        raise AccountError(f"{exc.field}: {exc.code}") from None
    if language not in ("fr", "en"):
        raise AccountError("language must be 'fr' or 'en'")
    return first, last, language


def confirm_email(user: User) -> bool:
    """Mark the address as proven; approve at once where the tenant says so. True if the account may
    log in now."""
    user.email_confirmed = True
    if not user.approved and user.tenant.auto_approve_signup:
        user.approved = True
    return bool(user.approved and user.active)


def set_password_from_link(user: User, new_password: str) -> list[str]:
    """Set a new password under the tenant's policy and end every session; violated rule codes if refused."""
    broken = PasswordPolicy.for_tenant(user.tenant).violations(new_password)
    if broken:
        return broken
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    db = object_session(user)
    if db is not None:
        audit.user_change(db, user, "password", {"password": ""}, {"password": "x"}, secrets=("password",),
                          action="reset_password_link")
        # The reset link proved the address is theirs: a lock on it (failures from anywhere) goes.
        logins.lift_account_lock(db, user.email)
    if not user.email_confirmed:
        # Reading the reset mail proves the address, as the confirmation link would have.
        confirm_email(user)
    return []


# --- Google ----------------------------------------------------------------------------------------------


class GoogleRefused(Exception):
    """A Google identity that may not sign in; `code` says why (for a translated message)."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def _claim_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def google_user(db: Session, claims: Mapping[str, Any]) -> User:
    """The account a validated ID token's claims sign in, or GoogleRefused. Records the Google subject."""
    subject = str(claims.get("sub") or "")
    email = str(claims.get("email") or "").strip().lower()
    if not subject or not email:
        raise GoogleRefused("no_email")
    if not _claim_true(claims.get("email_verified")):
        raise GoogleRefused("unverified")
    user = find_user_by_email(db, email)
    if user is None:
        raise GoogleRefused("unknown")
    if not user.tenant.allow_google_login:
        raise GoogleRefused("tenant_disallows")
    if user.google_subject and user.google_subject != subject:
        raise GoogleRefused("other_google_account")
    holder = db.scalar(select(User).where(User.google_subject == subject, User.id != user.id))
    if holder is not None:
        raise GoogleRefused("other_google_account")
    # A Google-verified address does not confirm a pending sign-up: its password was chosen by whoever
    # filled the form, perhaps not the address's owner.
    if not (user.active and user.approved and user.email_confirmed):
        raise GoogleRefused("inactive")
    user.google_subject = subject
    return user


class PictureError(Exception):
    pass


def picture_url_allowed(url: str, allowed_hosts: str, policy: urlpolicy.UrlPolicy | None = None) -> bool:
    """The outbound URL policy (https, a public host, unless the operator allows otherwise) and one of
    the allowed host suffixes."""
    try:
        urlpolicy.check_url(url, policy=policy)
    except urlpolicy.UrlRefused:
        return False
    host = (urlsplit(url).hostname or "").lower()
    allowed = [h.strip().lower().lstrip(".") for h in allowed_hosts.split(",") if h.strip()]
    return any(host == h or host.endswith("." + h) for h in allowed)


def fetch_google_picture(url: str, *, allowed_hosts: str, max_bytes: int, timeout: float) -> bytes:
    """Download the `picture` claim server-side and return it as the portal's clean square PNG.
    Bounded in size and total time; redirects are not followed (they could lead anywhere)."""
    if not picture_url_allowed(url, allowed_hosts):
        raise PictureError(f"picture URL not allowed: {url!r}")
    deadline = time.monotonic() + timeout
    try:
        with urlpolicy.session() as http, http.get(url, timeout=timeout, stream=True,
                                                   allow_redirects=False) as resp:
            if resp.status_code != 200:
                raise PictureError(f"picture fetch answered {resp.status_code}")
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PictureError("picture too large")
            data = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                data += chunk
                if len(data) > max_bytes:
                    raise PictureError("picture too large")
                if time.monotonic() > deadline:
                    raise PictureError("picture fetch too slow")
    except requests.RequestException as exc:
        raise PictureError(f"picture fetch failed: {exc}") from exc
    return clean_profile_image(bytes(data), max_bytes=max_bytes).data
