"""Creating tenants, PBX nodes, users and extensions: the one service behind the CLI, the seed
and (later) the admin screens, with every field validated the same way."""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import validation
from .models import (
    CallSettings,
    Extension,
    NodeKind,
    PbxNode,
    PersonalConference,
    Role,
    Tenant,
    User,
    VoicemailSettings,
)
from .passwords import PasswordPolicy, hash_password


class AccountError(ValueError):
    pass


_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_NODE_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def normalise_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False, test_environment=True).normalized.lower()
    except EmailNotValidError as exc:
        raise AccountError(f"invalid e-mail address: {exc}") from None


def add_node(db: Session, name: str, kind: str, host: str, port: int | None = None, username: str = "",
             secret: str = "", spool_path: str = "", sip_domain: str = "") -> PbxNode:
    if not _NODE_NAME.fullmatch(name):
        raise AccountError("node name: letters, digits, '.', '_' and '-' only")
    try:
        node_kind = NodeKind(kind)
    except ValueError:
        raise AccountError("kind must be 'asterisk' or 'freeswitch'") from None
    if db.scalar(select(PbxNode).where(PbxNode.name == name)):
        raise AccountError(f"a node named {name!r} already exists")
    for v in (host, username, secret, spool_path, sip_domain):
        if validation.has_control_chars(v):
            raise AccountError("control characters are not allowed")
    node = PbxNode(name=name, kind=node_kind, host=host,
                   port=port or (5038 if node_kind is NodeKind.ASTERISK else 8021),
                   username=username, secret=secret, spool_path=spool_path, sip_domain=sip_domain)
    db.add(node)
    db.flush()
    return node


def create_tenant(db: Session, name: str, domain: str, node: PbxNode | None = None,
                  email_domains: str = "") -> Tenant:
    domain = domain.strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise AccountError(f"invalid domain name: {domain!r}")
    name = validation.display_name(name, "name", 120)
    if not name:
        raise AccountError("the tenant needs a name")
    if db.scalar(select(Tenant).where(Tenant.domain == domain)):
        raise AccountError(f"a tenant with domain {domain!r} already exists")
    tenant = Tenant(name=name, domain=domain, node=node, email_domains=email_domains or domain,
                    provisioning_key=secrets.token_urlsafe(24))
    db.add(tenant)
    db.flush()
    return tenant


@dataclass
class NewUser:
    email: str
    first_name: str = ""
    last_name: str = ""
    password: str = ""
    extension: str = ""
    department: str = ""
    language: str = "fr"
    role: str = "user"


def create_user(db: Session, tenant: Tenant, spec: NewUser, *, check_policy: bool = True) -> User:
    email = normalise_email(spec.email)
    if db.scalar(select(User).where(func.lower(User.email) == email)):
        raise AccountError(f"a user with e-mail {email} already exists")
    try:
        first = validation.display_name(spec.first_name, "first_name")
        last = validation.display_name(spec.last_name, "last_name")
        department = validation.display_name(spec.department, "department")
        number = validation.extension(spec.extension) if spec.extension else ""
    except validation.InvalidValue as exc:
        raise AccountError(f"{exc.field}: {exc.code}") from None
    if spec.language not in ("fr", "en"):
        raise AccountError("language must be 'fr' or 'en'")
    try:
        role = Role(spec.role)
    except ValueError:
        raise AccountError("role must be user, tenant_admin or operator") from None
    if check_policy:
        broken = PasswordPolicy.for_tenant(tenant).violations(spec.password)
        if broken:
            raise AccountError("password breaks the tenant's policy: " + ", ".join(broken))
    user = User(tenant=tenant, email=email, first_name=first, last_name=last, department=department,
                language=spec.language, role=role, password_hash=hash_password(spec.password))
    db.add(user)
    db.flush()
    if number:
        if db.scalar(select(Extension).where(Extension.tenant_id == tenant.id, Extension.number == number)):
            raise AccountError(f"extension {number} is already taken in this tenant")
        # SIP usernames are global on an Asterisk node: keep the plain number when it is free.
        sip_user = number
        if db.scalar(select(Extension).where(Extension.sip_username == sip_user)):
            sip_user = f"{number}-t{tenant.id}"
        db.add(Extension(tenant_id=tenant.id, user=user, number=number, sip_username=sip_user,
                         sip_password=secrets.token_urlsafe(18), mailbox=number,
                         vm_pin=f"{secrets.randbelow(10**6):06d}"))
    db.add_all([CallSettings(user_id=user.id), VoicemailSettings(user_id=user.id),
                PersonalConference(user_id=user.id)])
    db.flush()
    return user


@dataclass
class ImportReport:
    created: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


IMPORT_COLUMNS = ["email", "first_name", "last_name", "extension", "department", "language", "role", "password"]


def import_users_csv(db: Session, tenant: Tenant, data: str, *, dry_run: bool) -> ImportReport:
    """Check every line first; write nothing unless every line is good and dry_run is off."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(data))
    missing = {"email"} - set(reader.fieldnames or [])
    if missing:
        report.errors.append((1, "missing column(s): " + ", ".join(sorted(missing))))
        return report
    specs: list[tuple[int, NewUser]] = []
    seen_emails: dict[str, int] = {}
    seen_ext: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        spec = NewUser(**{k: (row.get(k) or "").strip() for k in IMPORT_COLUMNS if row.get(k)})
        spec.language = spec.language or "fr"
        spec.role = spec.role or "user"
        try:
            email = normalise_email(spec.email)
            if email in seen_emails:
                raise AccountError(f"e-mail {email} repeats line {seen_emails[email]}")
            seen_emails[email] = line
            if spec.extension:
                if spec.extension in seen_ext:
                    raise AccountError(f"extension {spec.extension} repeats line {seen_ext[spec.extension]}")
                seen_ext[spec.extension] = line
            if not spec.password:
                spec.password = secrets.token_urlsafe(12) + "A1"
            # Validate against the database inside a savepoint that is always rolled back.
            nested = db.begin_nested()
            try:
                create_user(db, tenant, spec)
            finally:
                nested.rollback()
            specs.append((line, spec))
        except (AccountError, validation.InvalidValue) as exc:
            report.errors.append((line, str(exc)))
    if report.errors or dry_run:
        return report
    for _line, spec in specs:
        create_user(db, tenant, spec)
        report.created += 1
    return report
