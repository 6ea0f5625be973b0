"""The administration side, as plain services: one module per resource, each a `Resource`.

Screens (`web/admin/`) and the REST API (`web/api/`) both go through these services, so a role's
limits, validation and the audit log are enforced in one place whatever the entry point.

Scoping rule: an operator sees every tenant and node; a tenant admin sees only their own tenant's
objects; a user sees none of this. An object outside the actor's scope is reported as `NotFound`
(never "forbidden"), so guessing ids reveals nothing.

Every create, update and delete writes one `AuditEntry` (who, when, what, before and after) in the
same transaction as the change; the services flush but never commit (the caller commits).
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from clusterpbx.control.models import Role, User


@dataclass(frozen=True)
class Actor:
    """Who is acting. `user_id` None means the command line (operator powers)."""

    role: Role
    tenant_id: int | None
    user_id: int | None = None
    label: str = ""

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(role=user.role, tenant_id=user.tenant_id, user_id=user.id, label=user.email)

    @classmethod
    def command_line(cls, label: str = "command line") -> Actor:
        return cls(role=Role.OPERATOR, tenant_id=None, user_id=None, label=label)

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.OPERATOR, Role.TENANT_ADMIN)


class AdminError(Exception):
    pass


class NotFound(AdminError):
    """No such object in the actor's scope (also what an out-of-scope object looks like)."""


class Forbidden(AdminError):
    """The actor's role may not do this at all (a user on any admin service, a tenant admin creating
    a tenant or a node). Never raised for an object of another tenant: that is NotFound."""


class Invalid(AdminError):
    """Validation failed. `errors` maps a field name (or "" for the whole object) to an English
    message that is also a translatable msgid."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" if k else v for k, v in errors.items()))
        self.errors = errors


class FieldType(enum.StrEnum):
    STRING = "string"
    TEXT = "text"          # multi-line
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CHOICE = "choice"      # one of `choices`
    SECRET = "secret"  # noqa: S105 - a field kind, not a password. write-only: never serialised back, empty on update means "unchanged"
    REFERENCE = "reference"  # id of another resource (`ref` names it)
    REFERENCES = "references"  # list of ids of another resource


@dataclass(frozen=True)
class Field:
    """One editable attribute, described once for forms, the API schema, CSV and validation."""

    name: str
    type: FieldType
    label: str                      # English msgid, translated by the screens
    required: bool = False
    choices: Sequence[str] = ()
    ref: str = ""                   # resource name for REFERENCE(S)
    max_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    operator_only: bool = False     # a tenant admin may see but not change it
    read_only: bool = False         # serialised, never accepted as input
    help: str = ""


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int


class Resource:
    """Base of every administrable resource. Subclasses set `name`, `model`, `fields` and implement
    the five operations; `serialize` gives the dict the API returns and the audit log stores."""

    name: ClassVar[str]
    label: ClassVar[str]
    fields: ClassVar[Sequence[Field]]
    operator_only: ClassVar[bool] = False   # tenants and nodes: only operators create or delete

    def list(self, db: Session, actor: Actor, *, tenant_id: int | None = None, search: str = "",
             page: int = 1, per_page: int = 50, sort: str = "") -> Page:
        raise NotImplementedError

    def get(self, db: Session, actor: Actor, object_id: int) -> Any:
        raise NotImplementedError

    def create(self, db: Session, actor: Actor, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def update(self, db: Session, actor: Actor, object_id: int, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def delete(self, db: Session, actor: Actor, object_id: int) -> None:
        raise NotImplementedError

    def serialize(self, obj: Any) -> dict[str, Any]:
        raise NotImplementedError


REGISTRY: dict[str, Resource] = {}


def register(resource_cls: type[Resource]) -> type[Resource]:
    REGISTRY[resource_cls.name] = resource_cls()
    return resource_cls


def resource(name: str) -> Resource:
    _load()
    return REGISTRY[name]


def resources() -> list[Resource]:
    _load()
    return list(REGISTRY.values())


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        # The resources register themselves on import (each module's `@register`); loading them here,
        # not at the top, lets each of them import this package's base classes.
        for info in pkgutil.iter_modules(__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _loaded = True


__all__ = ["Actor", "AdminError", "NotFound", "Forbidden", "Invalid", "Field", "FieldType", "Page",
           "Resource", "REGISTRY", "register", "resource", "resources"]
