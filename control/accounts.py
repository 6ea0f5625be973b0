"""Creating tenants, PBX nodes and users for the demo seed (control/demo.py), the portal's sign-up
(control/identity.py), the test fixtures and the benchmarks: thin wrappers over the administration
services (control/admin/), which hold the validation, the role limits and the audit log; here errors
become `AccountError` with an English message."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from .admin import Actor, Invalid, resource
from .admin.csvio import import_users
from .admin.users import create_user_values
from .models import PbxNode, Tenant, User
from .passwords import hash_password


class AccountError(ValueError):
    pass


def _account_error(exc: Exception) -> AccountError:
    errors = getattr(exc, "errors", {})
    return AccountError("; ".join(f"{k}: {v}" if k else v for k, v in errors.items()) or str(exc))


def add_node(db: Session, name: str, kind: str, host: str, port: int | None = None, username: str = "",
             secret: str = "", spool_path: str = "", sip_domain: str = "") -> PbxNode:
    """The command line's `node add`: the administration service as the operator."""
    data = {"name": name, "kind": kind, "host": host, "port": port, "username": username, "secret": secret,
            "spool_path": spool_path, "sip_domain": sip_domain}
    try:
        node: PbxNode = resource("nodes").create(db, Actor.command_line(), data)
    except Invalid as exc:
        raise _account_error(exc) from None
    return node


def create_tenant(db: Session, name: str, domain: str, node: PbxNode | None = None,
                  email_domains: str = "") -> Tenant:
    """`domain create` and the seed: the administration service as the operator."""
    data = {"name": name, "domain": domain, "node_id": node.id if node is not None else None,
            "email_domains": email_domains}
    try:
        tenant: Tenant = resource("tenants").create(db, Actor.command_line(), data)
    except Invalid as exc:
        raise _account_error(exc) from None
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


def create_user(db: Session, tenant: Tenant, spec: NewUser, *, check_policy: bool = True,
                actor: object | None = None) -> User:
    """One account (the administration service `users`, as the command line unless `actor` is given)."""
    data = {"tenant_id": tenant.id, "email": spec.email, "first_name": spec.first_name,
            "last_name": spec.last_name, "password": spec.password, "extension": spec.extension,
            "department": spec.department, "language": spec.language, "role": spec.role}
    who = actor if isinstance(actor, Actor) else Actor.command_line()
    try:
        user = create_user_values(db, who, data, check_policy=check_policy)
    except Invalid as exc:
        raise _account_error(exc) from None
    if not check_policy and not spec.password:
        user.password_hash = hash_password("")
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
    """Check every line first; write nothing unless every line is good and dry_run is off.
    (The command line's import: `admin.csvio.import_users` as the operator, one message per line.)"""
    full = import_users(db, Actor.command_line(), tenant.id, data, dry_run)
    return ImportReport(created=full.created, errors=full.by_line())
