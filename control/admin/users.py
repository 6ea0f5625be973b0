"""Users and their extension: create, edit, disable, delete, reset password; destination groups,
queues, presence/pickup (BLF) permission, call recording, role.

A tenant admin may grant the user or tenant_admin role, never operator, and may not change an
operator's account. `create_user_values` is the one place an account is created (the CLI, the seed,
the CSV import and the screens all end here)."""

from __future__ import annotations

import re
import secrets
import zoneinfo
from collections.abc import Callable
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from .. import audit, validation
from ..config import load_settings
from ..links import LinkPurpose, make_link_token
from ..mail import Mail
from ..mail import send as send_mail
from ..models import (
    CallSettings,
    DestinationGroup,
    Extension,
    PersonalConference,
    Queue,
    QueueMembership,
    Role,
    Tenant,
    User,
    VoicemailSettings,
)
from ..passwords import PasswordPolicy, hash_password
from . import Actor, Field, FieldType, Forbidden, Invalid, register
from ._base import N_, ModelResource, domain_claimed_elsewhere, ids_in_scope, require_admin

F = FieldType

INVALID_EMAIL = N_("Enter a valid e-mail address.")
EMAIL_TAKEN = N_("A user with this e-mail address already exists.")
EMAIL_DOMAIN_OF_OTHER_TENANT = N_("This address's e-mail domain belongs to another tenant.")
INVALID_EXTENSION = N_("An extension is 2 to 10 digits.")
EXTENSION_TAKEN = N_("This extension is already taken in this tenant.")
NO_EXTENSION = N_("Give the user an extension first.")
INVALID_SIP_PASSWORD = N_("A SIP password is 12 to 128 letters, digits or _ . - + = ! @ # % ^ * ~.")  # noqa: S105 - a message
PIN_DIGITS = N_("A voicemail PIN has digits only.")
PIN_LENGTH = N_("The PIN length does not follow the tenant's policy.")
PASSWORD_POLICY = N_("The password breaks the tenant's password policy.")  # noqa: S105 - a message
OPERATOR_ROLE = N_("Only an operator may grant the operator role.")
DELETE_SELF = N_("You cannot delete your own account.")
DISABLE_SELF = N_("You cannot disable your own account.")
INVALID_TIMEZONE = N_("Unknown time zone.")
ACCOUNT_DISABLED = N_("This account is disabled.")

_SIP_PASSWORD = re.compile(r"[A-Za-z0-9_.\-+=!@#%^*~]{12,128}")


def _random_pin(tenant: Tenant) -> str:
    length = min(max(6, tenant.vm_pin_min_length), tenant.vm_pin_max_length)
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


@register
class Users(ModelResource):
    name = "users"
    label = N_("Users")
    model = User
    search_columns = ("email", "first_name", "last_name", "department")
    sort_columns = ("email", "last_name", "first_name", "department", "id", "created_at", "last_login_at")
    fields = (
        Field("tenant_id", F.REFERENCE, N_("Tenant"), ref="tenants"),
        Field("email", F.STRING, N_("E-mail"), required=True, max_length=255),
        Field("first_name", F.STRING, N_("First name"), max_length=80),
        Field("last_name", F.STRING, N_("Last name"), max_length=80),
        Field("department", F.STRING, N_("Department"), max_length=80),
        Field("language", F.CHOICE, N_("Language"), choices=("fr", "en")),
        Field("timezone", F.STRING, N_("Time zone"), max_length=64, help=N_("Empty: the tenant's")),
        Field("role", F.CHOICE, N_("Role"), choices=tuple(r.value for r in Role)),
        Field("active", F.BOOLEAN, N_("Active")),
        Field("approved", F.BOOLEAN, N_("Approved")),
        Field("password", F.SECRET, N_("Password"), max_length=256,
              help=N_("Empty: the user chooses one through the password reset e-mail")),
        Field("extension", F.STRING, N_("Extension"), max_length=10),
        Field("sip_password", F.SECRET, N_("SIP password"), max_length=128, help=N_("Empty: generated")),
        Field("vm_pin", F.SECRET, N_("Voicemail PIN"), max_length=20, help=N_("Empty: generated")),
        Field("can_use_blf", F.BOOLEAN, N_("Presence and pickup buttons")),
        Field("record_calls", F.BOOLEAN, N_("Record calls")),
        Field("destination_groups", F.REFERENCES, N_("Destination groups"), ref="destination_groups"),
        Field("queues", F.REFERENCES, N_("Queues"), ref="queues"),
        Field("last_login_at", F.STRING, N_("Last login"), read_only=True),
        Field("created_at", F.STRING, N_("Created"), read_only=True),
    )

    # ---- checks ------------------------------------------------------------------------------
    def may_change(self, db: Session, actor: Actor, obj: Any) -> None:
        if obj.role is Role.OPERATOR and not actor.is_operator:
            raise Forbidden("only an operator may change an operator's account")

    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        values = super().clean(db, actor, data, obj)
        errors: dict[str, str] = {}
        if "email" in values:
            try:
                values["email"] = validation.normalise_email(values["email"])
            except validation.InvalidValue:
                errors["email"] = INVALID_EMAIL
        if "timezone" in values:
            if values["timezone"]:
                try:
                    zoneinfo.ZoneInfo(values["timezone"])
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    errors["timezone"] = INVALID_TIMEZONE
            else:
                values["timezone"] = None
        if "role" in values and values["role"] == Role.OPERATOR.value and not actor.is_operator:
            if obj is None or obj.role is not Role.OPERATOR:
                errors["role"] = OPERATOR_ROLE
        if values.get("extension"):
            try:
                validation.extension(values["extension"])
            except validation.InvalidValue:
                errors["extension"] = INVALID_EXTENSION
        if values.get("sip_password") and not _SIP_PASSWORD.fullmatch(values["sip_password"]):
            errors["sip_password"] = INVALID_SIP_PASSWORD
        if obj is not None and obj.id == actor.user_id and values.get("active") is False:
            errors["active"] = DISABLE_SELF
        if errors:
            raise Invalid(errors)
        return values

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None,
              check_policy: bool = True) -> None:
        tenant = db.get(Tenant, values["tenant_id"])
        assert tenant is not None
        errors: dict[str, str] = {}
        if "email" in values:
            # An address in a domain another tenant claims (its domain or sign-up e-mail domains)
            # belongs to that tenant's people, whoever acts: checked when the address is set, and
            # before uniqueness, so that probing another tenant's addresses tells nothing.
            changed = obj is None or values["email"] != (obj.email or "").lower()
            if changed and domain_claimed_elsewhere(db, values["email"].rsplit("@", 1)[-1], tenant.id):
                errors["email"] = EMAIL_DOMAIN_OF_OTHER_TENANT
            else:
                other = db.scalar(select(User).where(func.lower(User.email) == values["email"]))
                if other is not None and other is not obj:
                    errors["email"] = EMAIL_TAKEN
        if values.get("password") and check_policy and PasswordPolicy.for_tenant(tenant).violations(values["password"]):
            errors["password"] = PASSWORD_POLICY
        ext = obj.primary_extension if obj is not None else None
        number = values["extension"] if "extension" in values else (ext.number if ext else "")
        if number and (ext is None or ext.number != number):
            if db.scalar(select(Extension).where(Extension.tenant_id == tenant.id, Extension.number == number)):
                errors["extension"] = EXTENSION_TAKEN
        if not number and (values.get("sip_password") or values.get("vm_pin")):
            errors["extension"] = NO_EXTENSION
        if values.get("vm_pin"):
            try:
                validation.pin(values["vm_pin"], tenant.vm_pin_min_length, tenant.vm_pin_max_length)
            except validation.InvalidValue as exc:
                errors["vm_pin"] = PIN_DIGITS if exc.code == "digits_only" else PIN_LENGTH
        for key, model in (("destination_groups", DestinationGroup), ("queues", Queue)):
            if key in values:
                try:
                    ids_in_scope(db, model, values[key], tenant.id, key)
                except Invalid as exc:
                    errors.update(exc.errors)
        if errors:
            raise Invalid(errors)

    # ---- write -------------------------------------------------------------------------------
    def create(self, db: Session, actor: Actor, data: dict[str, Any], *, check_policy: bool = True) -> Any:
        require_admin(actor)
        values = self.clean(db, actor, data, None)
        self.check(db, actor, values, None, check_policy=check_policy)
        user = self.build(db, actor, values)
        db.flush()
        audit.record(db, actor, "create", self.name, user.id, None,
                     self.audit_view(user) | self.secret_marks(values, True), user.tenant_id)
        return user

    def build(self, db: Session, actor: Actor, values: dict[str, Any]) -> Any:
        tenant = db.get(Tenant, values["tenant_id"])
        assert tenant is not None
        password = values.get("password", "")
        user = User(tenant=tenant, email=values["email"], role=Role(values.get("role") or "user"),
                    password_hash=hash_password(password) if password else "")
        db.add(user)
        self.apply(db, actor, user, {k: v for k, v in values.items() if k not in ("password", "role", "email")})
        db.add_all([CallSettings(user_id=user.id), VoicemailSettings(user_id=user.id),
                    PersonalConference(user_id=user.id)])
        return user

    def apply(self, db: Session, actor: Actor, obj: Any, values: dict[str, Any]) -> None:
        user: User = obj
        tenant = db.get(Tenant, values.get("tenant_id", user.tenant_id))
        assert tenant is not None
        for key in ("email", "first_name", "last_name", "department", "language", "timezone",
                    "approved", "can_use_blf", "record_calls"):
            if key in values:
                setattr(user, key, values[key])
        if "role" in values:
            user.role = Role(values["role"])
        if "active" in values:
            if user.active and not values["active"]:
                user.session_version = (user.session_version or 1) + 1  # disabling ends every session
            user.active = values["active"]
        if values.get("password") and user.id is not None:
            user.password_hash = hash_password(values["password"])
            user.session_version = (user.session_version or 1) + 1
        db.flush()
        self._apply_extension(db, user, tenant, values)
        if "destination_groups" in values:
            user.destination_groups = ids_in_scope(db, DestinationGroup, values["destination_groups"], tenant.id,
                                                   "destination_groups")
        if "queues" in values:
            set_user_queues(db, user.id, values["queues"])

    def _apply_extension(self, db: Session, user: User, tenant: Tenant, values: dict[str, Any]) -> None:
        ext = db.scalar(select(Extension).where(Extension.user_id == user.id).order_by(Extension.number))
        if "extension" in values:
            number = values["extension"]
            if not number:
                if ext is not None:
                    db.delete(ext)
                    db.flush()
                    db.expire(user, ["extensions"])
                return
            if ext is None:
                ext = Extension(tenant_id=tenant.id, user_id=user.id, number=number,
                                sip_username=_sip_username(db, number, tenant),
                                sip_password=secrets.token_urlsafe(18), mailbox=number, vm_pin=_random_pin(tenant))
                db.add(ext)
            elif ext.number != number:
                ext.number = number
                ext.mailbox = number
                ext.sip_username = _sip_username(db, number, tenant, ext)
        if ext is not None:
            if values.get("sip_password"):
                ext.sip_password = values["sip_password"]
            if values.get("vm_pin"):
                ext.vm_pin = values["vm_pin"]
        db.flush()
        db.expire(user, ["extensions"])

    def remove(self, db: Session, actor: Actor, obj: Any) -> None:
        if obj.id == actor.user_id:
            raise Invalid({"": DELETE_SELF})
        for ext in db.scalars(select(Extension).where(Extension.user_id == obj.id)):
            db.delete(ext)
        db.delete(obj)

    # ---- read --------------------------------------------------------------------------------
    def serialize(self, obj: Any) -> dict[str, Any]:
        user: User = obj
        ext = user.primary_extension
        return {
            "id": user.id, "tenant_id": user.tenant_id, "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "department": user.department, "language": user.language,
            "timezone": user.timezone or "", "role": user.role.value, "active": user.active,
            "approved": user.approved, "extension": ext.number if ext else "",
            "can_use_blf": user.can_use_blf, "record_calls": user.record_calls,
            "destination_groups": sorted(g.id for g in user.destination_groups),
            "queues": user_queue_ids(user),
            "last_login_at": user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else None,
            "created_at": user.created_at.isoformat(timespec="seconds") if user.created_at else None,
        }

    def audit_view(self, obj: Any) -> dict[str, Any]:
        out = self.serialize(obj)
        out.pop("last_login_at", None)
        out.pop("created_at", None)
        return out


def _sip_username(db: Session, number: str, tenant: Tenant, ext: Extension | None = None) -> str:
    # SIP usernames are global on an Asterisk node: keep the plain number when it is free.
    taken = db.scalar(select(Extension).where(Extension.sip_username == number))
    return number if taken is None or taken is ext else f"{number}-t{tenant.id}"


def user_queue_ids(user: User) -> list[int]:
    db = object_session(user)
    if db is None or user.id is None:
        return []
    return sorted(db.scalars(select(QueueMembership.queue_id).where(QueueMembership.user_id == user.id)))


def set_user_queues(db: Session, user_id: int, queue_ids: list[int]) -> None:
    """Make the user agent of exactly these queues (keeping the state of the memberships kept)."""
    current = {m.queue_id: m for m in db.scalars(select(QueueMembership).where(QueueMembership.user_id == user_id))}
    for qid, m in current.items():
        if qid not in queue_ids:
            db.delete(m)
    for qid in queue_ids:
        if qid not in current:
            db.add(QueueMembership(queue_id=qid, user_id=user_id))
    db.flush()


def create_user_values(db: Session, actor: Actor, data: dict[str, Any], *, check_policy: bool = True) -> User:
    """Create one account (see `Users.create`); `check_policy=False` for the seed and test fixtures."""
    users: Users = Users()  # stateless
    return users.create(db, actor, data, check_policy=check_policy)


# The password reset e-mail of the portal (web/identity/mailer.py) is composed with Flask templates;
# the screen and the API pass it as `send` so that an administrator's "reset password" sends the very
# same mail. Without it (command line), `_default_reset_mailer` sends the same link as plain text.
ResetMailer = Callable[[User], None]


def _default_reset_mailer(user: User) -> None:
    """Outside the portal (command line): the same single-use link, as a plain message."""
    settings = load_settings()
    token = make_link_token(settings.secret_key, LinkPurpose.RESET_PASSWORD, user)
    link = settings.public_url.rstrip("/") + "/password/reset/" + token
    minutes = settings.reset_link_minutes
    if user.language == "en":
        subject = "Choose a new password"
        text = (f"Hello {user.first_name or user.display_name},\n\nYour administrator asked that you choose a new "
                f"password for the ClusterPBX portal. Open this link within {minutes} minutes; it works once:\n\n"
                f"{link}\n\nChoosing a new password ends every other session of your account.\n")
    else:
        subject = "Choisissez un nouveau mot de passe"
        text = (f"Bonjour {user.first_name or user.display_name},\n\nVotre administrateur vous demande de choisir un "
                f"nouveau mot de passe pour le portail ClusterPBX. Ouvrez ce lien d'ici {minutes} minutes ; il ne "
                f"fonctionne qu'une fois :\n\n{link}\n\nChoisir un nouveau mot de passe ferme toutes les autres "
                f"sessions de votre compte.\n")
    html = "<p>" + "</p><p>".join(escape(p).replace("\n", "<br>") for p in text.split("\n\n")) + "</p>"
    send_mail(settings, Mail(to=user.email, subject=subject, text=text, html=html, language=user.language))


def send_password_reset(db: Session, actor: Actor, user_id: int, *, send: ResetMailer | None = None) -> None:
    """Send the user the single-use password reset link (the one of "Mot de passe oublié ?").
    The current password keeps working until the link is used."""
    users = Users()
    user = users.load(db, actor, user_id)
    users.may_change(db, actor, user)
    if not user.active:
        raise Invalid({"": ACCOUNT_DISABLED})
    mailer = send or _default_reset_mailer
    mailer(user)
    audit.record(db, actor, "reset_password", "users", user.id, None, {"email": user.email}, user.tenant_id)

