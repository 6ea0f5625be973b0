"""What every administration resource shares: role checks, tenant scoping, field cleaning from the
`Field` descriptions, list/get/create/update/delete with an audit entry per change.

Messages in `Invalid` errors are English msgids (their French is in the gettext catalog, web/translations/fr/LC_MESSAGES/messages.po)."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from .. import audit, validation
from ..models import Tenant
from . import Actor, Field, FieldType, Forbidden, Invalid, NotFound, Page, Resource


def N_(message: str) -> str:
    """Marks an English msgid for extraction (pybabel's default N_ keyword); translated where shown."""
    return message


# The messages (msgids) used here and by the resource modules.
NOT_READABLE = N_("The data could not be read.")
REQUIRED = N_("This field is required.")
TOO_LONG = N_("This value is too long.")
CONTROL_CHARACTERS = N_("Control characters are not allowed.")
NOT_A_NUMBER = N_("Enter a whole number.")
TOO_SMALL = N_("This number is too small.")
TOO_LARGE = N_("This number is too large.")
NOT_A_BOOLEAN = N_("Enter yes or no.")
NOT_A_CHOICE = N_("Choose one of the proposed values.")
UNKNOWN_REFERENCE = N_("This object does not exist.")
OPERATOR_ONLY = N_("Only an operator may change this field.")
NOT_A_LIST = N_("Enter a list of identifiers.")
OWN_TENANT_ONLY = N_("You can only add objects to your own tenant.")
NO_TENANT_CHANGE = N_("An object cannot move to another tenant.")

_TRUE = {"1", "true", "yes", "y", "on", "oui", "o"}
_FALSE = {"0", "false", "no", "n", "off", "non", ""}

SECRET_MASK = audit.SECRET_SET


def require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise Forbidden("administrators only")


def require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise Forbidden("operators only")


def clean_string(value: Any, f: Field, *, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str | int):
        raise Invalid({f.name: NOT_A_CHOICE if f.choices else TOO_LONG})
    text = str(value)
    if multiline:
        text = text.replace("\r\n", "\n").strip()
        if any(validation.has_control_chars(line) for line in text.split("\n")):
            raise Invalid({f.name: CONTROL_CHARACTERS})
    else:
        text = text.strip()
        if validation.has_control_chars(text):
            raise Invalid({f.name: CONTROL_CHARACTERS})
    if f.max_length is not None and len(text) > f.max_length:
        raise Invalid({f.name: TOO_LONG})
    return text


def clean_value(f: Field, value: Any) -> Any:
    """One input value to its Python form (`Invalid` for this field otherwise)."""
    t = f.type
    if t in (FieldType.STRING, FieldType.SECRET):
        return clean_string(value, f)
    if t is FieldType.TEXT:
        if isinstance(value, list | tuple):
            value = "\n".join(str(v) for v in value)
        return clean_string(value, f, multiline=True)
    if t is FieldType.INTEGER:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise Invalid({f.name: NOT_A_NUMBER})
        if isinstance(value, str):
            value = value.strip()
            if not re.fullmatch(r"-?[0-9]{1,12}", value):
                raise Invalid({f.name: NOT_A_NUMBER})
            value = int(value)
        if not isinstance(value, int):
            raise Invalid({f.name: NOT_A_NUMBER})
        if f.minimum is not None and value < f.minimum:
            raise Invalid({f.name: TOO_SMALL})
        if f.maximum is not None and value > f.maximum:
            raise Invalid({f.name: TOO_LARGE})
        return value
    if t is FieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            low = value.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
        raise Invalid({f.name: NOT_A_BOOLEAN})
    if t is FieldType.CHOICE:
        if not isinstance(value, str) or value.strip() not in f.choices:
            raise Invalid({f.name: NOT_A_CHOICE})
        return value.strip()
    if t is FieldType.REFERENCE:
        if value is None or value == "":
            return None
        return _id(value, f)
    if t is FieldType.REFERENCES:
        if value is None or value == "":
            return []
        if isinstance(value, str):
            value = [v for v in re.split(r"[\s,;]+", value) if v]
        if not isinstance(value, list | tuple):
            raise Invalid({f.name: NOT_A_LIST})
        ids: list[int] = []
        for v in value:
            i = _id(v, f)
            if i not in ids:
                ids.append(i)
        return ids
    raise AssertionError(t)


def _id(value: Any, f: Field) -> int:
    if isinstance(value, bool):
        raise Invalid({f.name: UNKNOWN_REFERENCE})
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,12}", value.strip()):
        return int(value.strip())
    if isinstance(value, int) and value > 0:
        return value
    raise Invalid({f.name: UNKNOWN_REFERENCE})


class ModelResource(Resource):
    """A resource backed by one model. Subclasses give `model`, `fields`, and override `build`,
    `apply`, `check` or the scope query where they need more."""

    model: ClassVar[Any]
    tenant_scoped: ClassVar[bool] = True          # has tenant_id, scoped to the actor's tenant
    search_columns: ClassVar[Sequence[str]] = ()
    sort_columns: ClassVar[Sequence[str]] = ("id",)
    audit_type: ClassVar[str] = ""

    # ---- scope -------------------------------------------------------------------------------
    def scope(self, stmt: Select[Any], actor: Actor) -> Select[Any]:
        if actor.is_operator:
            return stmt
        if self.tenant_scoped:
            return stmt.where(self.model.tenant_id == actor.tenant_id)
        raise AssertionError("override scope() for resources that are not tenant-scoped")

    def tenant_of(self, obj: Any) -> int | None:
        return obj.tenant_id if self.tenant_scoped else None

    def load(self, db: Session, actor: Actor, object_id: Any) -> Any:
        require_admin(actor)
        try:
            oid = int(object_id)
        except (TypeError, ValueError):
            raise NotFound(self.name) from None
        obj = db.scalar(self.scope(select(self.model).where(self.model.id == oid), actor))
        if obj is None:
            raise NotFound(self.name)
        return obj

    # ---- read --------------------------------------------------------------------------------
    def list(self, db: Session, actor: Actor, *, tenant_id: int | None = None, search: str = "",
             page: int = 1, per_page: int = 50, sort: str = "") -> Page:
        require_admin(actor)
        stmt = self.scope(select(self.model), actor)
        if tenant_id is not None and self.tenant_scoped:
            stmt = stmt.where(self.model.tenant_id == tenant_id)
        search = (search or "").strip()
        if search and self.search_columns:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(*[func.lower(getattr(self.model, c)).like(pattern, escape="\\")
                                    for c in self.search_columns]))
        stmt = self.filter_list(stmt)
        total = db.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
        desc = sort.startswith("-")
        column = sort.lstrip("-") or self.sort_columns[0]
        if column not in self.sort_columns:
            column = self.sort_columns[0]
        order = getattr(self.model, column)
        stmt = stmt.order_by(order.desc() if desc else order, self.model.id)
        page = max(1, int(page))
        per_page = max(1, min(int(per_page), 500))
        items = list(db.scalars(stmt.offset((page - 1) * per_page).limit(per_page)).unique())
        return Page(items, total, page, per_page)

    def filter_list(self, stmt: Select[Any]) -> Select[Any]:
        return stmt

    def get(self, db: Session, actor: Actor, object_id: int) -> Any:
        return self.load(db, actor, object_id)

    # ---- write -------------------------------------------------------------------------------
    def clean(self, db: Session, actor: Actor, data: dict[str, Any], obj: Any | None) -> dict[str, Any]:
        """Cleaned values of the fields present in `data` (all required ones on create), every
        field's error collected into one `Invalid`."""
        if not isinstance(data, dict):
            raise Invalid({"": NOT_READABLE})
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for f in self.fields:
            if f.read_only or f.name not in data:
                if obj is None and f.required and not f.read_only and f.name != "tenant_id":
                    errors[f.name] = REQUIRED
                continue
            try:
                value = clean_value(f, data[f.name])
            except Invalid as exc:
                errors.update(exc.errors)
                continue
            if f.type is FieldType.SECRET and value == "" and obj is not None:
                continue  # empty secret on update: unchanged
            if f.required and value in ("", None, []):
                errors[f.name] = REQUIRED
                continue
            if f.type is FieldType.INTEGER and value is None:
                continue  # empty number: the default on create, unchanged on update
            if f.operator_only and not actor.is_operator:
                if obj is None or value != self.current_value(obj, f):
                    errors[f.name] = OPERATOR_ONLY
                continue
            values[f.name] = value
        if self.tenant_scoped:
            try:
                tenant_id = self.resolve_tenant(db, actor, values.get("tenant_id", data.get("tenant_id")), obj)
            except Invalid as exc:
                errors.update(exc.errors)
            else:
                values["tenant_id"] = tenant_id
        if errors:
            raise Invalid(errors)
        return values

    def resolve_tenant(self, db: Session, actor: Actor, given: Any, obj: Any | None) -> int:
        """An object stays in its tenant; a new one goes to `new_object_tenant`. A tenant named
        otherwise is refused, never silently replaced by the right one."""
        named = named_tenant(given)
        if obj is not None:
            if named is not None and named != obj.tenant_id:
                raise Invalid({"tenant_id": NO_TENANT_CHANGE})
            return int(obj.tenant_id)
        return new_object_tenant(db, actor, named)

    def audit_view(self, obj: Any) -> dict[str, Any]:
        return self.serialize(obj)

    def secret_marks(self, data: dict[str, Any], created: bool) -> dict[str, str]:
        marks = {}
        for f in self.fields:
            if f.type is FieldType.SECRET and data.get(f.name):
                marks[f.name] = audit.SECRET_SET if created else audit.SECRET_CHANGED
        return marks

    def create(self, db: Session, actor: Actor, data: dict[str, Any]) -> Any:
        require_admin(actor)
        if self.operator_only:
            require_operator(actor)
        values = self.clean(db, actor, data, None)
        self.check(db, actor, values, None)
        obj = self.build(db, actor, values)
        db.flush()
        after = self.audit_view(obj) | self.secret_marks(values, True)
        audit.record(db, actor, "create", self.audit_type or self.name, obj.id, None, after, self.tenant_of(obj))
        return obj

    def update(self, db: Session, actor: Actor, object_id: int, data: dict[str, Any]) -> Any:
        obj = self.load(db, actor, object_id)
        self.may_change(db, actor, obj)
        before = self.audit_view(obj)
        values = self.clean(db, actor, data, obj)
        self.check(db, actor, values, obj)
        self.apply(db, actor, obj, values)
        db.flush()
        after = self.audit_view(obj)
        marks = self.secret_marks(values, False)
        if before != after or marks:
            audit.record(db, actor, "update", self.audit_type or self.name, obj.id, before, after | marks,
                         self.tenant_of(obj))
        return obj

    def delete(self, db: Session, actor: Actor, object_id: int) -> None:
        obj = self.load(db, actor, object_id)
        if self.operator_only:
            require_operator(actor)
        self.may_change(db, actor, obj)
        before = self.audit_view(obj)
        tenant_id = self.tenant_of(obj)
        oid = obj.id
        self.remove(db, actor, obj)
        db.flush()
        audit.record(db, actor, "delete", self.audit_type or self.name, oid, before, None,
                     self.audit_tenant_after_delete(tenant_id))

    def audit_tenant_after_delete(self, tenant_id: int | None) -> int | None:
        return tenant_id

    # ---- hooks -------------------------------------------------------------------------------
    def current_value(self, obj: Any, f: Field) -> Any:
        """The stored value in the form clean_value() gives (to tell an unchanged field)."""
        return getattr(obj, f.name, None)

    def may_change(self, db: Session, actor: Actor, obj: Any) -> None:
        """Raise Forbidden when the actor may see but not change this object."""

    def check(self, db: Session, actor: Actor, values: dict[str, Any], obj: Any | None) -> None:
        """Cross-field and database checks (uniqueness, references in scope); raise Invalid."""

    def build(self, db: Session, actor: Actor, values: dict[str, Any]) -> Any:
        obj = self.model()
        self.apply(db, actor, obj, values)
        db.add(obj)
        return obj

    def apply(self, db: Session, actor: Actor, obj: Any, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(obj, key, value)

    def remove(self, db: Session, actor: Actor, obj: Any) -> None:
        db.delete(obj)

    def serialize(self, obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"id": obj.id}
        for f in self.fields:
            if f.type is FieldType.SECRET:
                continue
            value = getattr(obj, f.name, None)
            if isinstance(value, enum.Enum):
                value = value.value
            out[f.name] = value
        return out


def named_tenant(given: Any) -> int | None:
    """The tenant id an input names (None: it names none); `Invalid` when it is not an id."""
    if given is None or given == "":
        return None
    if isinstance(given, bool):
        raise Invalid({"tenant_id": UNKNOWN_REFERENCE})
    try:
        return int(str(given).strip())
    except ValueError:
        raise Invalid({"tenant_id": UNKNOWN_REFERENCE}) from None


def new_object_tenant(db: Session, actor: Actor, named: int | None) -> int:
    """The tenant a new object (a form, an API body, a CSV line) is created in. A tenant admin's is
    always their own: naming any other tenant, existing or not, is refused with the same message (so
    the answer tells nothing about other tenants). An operator names an existing tenant."""
    if not actor.is_operator:
        assert actor.tenant_id is not None
        if named is not None and named != actor.tenant_id:
            raise Invalid({"tenant_id": OWN_TENANT_ONLY})
        return actor.tenant_id
    if named is None:
        raise Invalid({"tenant_id": REQUIRED})
    if not 1 <= named <= 2**31 - 1 or db.get(Tenant, named) is None:
        raise Invalid({"tenant_id": UNKNOWN_REFERENCE})
    return named


def tenant_domains(tenant: Tenant) -> set[str]:
    """The domains a tenant claims for e-mail addresses: its own domain and its sign-up domains."""
    claimed = {d.strip().lower().lstrip("@") for d in (tenant.email_domains or "").split(",") if d.strip()}
    return claimed | {tenant.domain.strip().lower()}


def domain_claimed_elsewhere(db: Session, domain: str, tenant_id: int) -> bool:
    """Whether a tenant other than `tenant_id` claims this e-mail domain (exactly: a subdomain of a
    claimed domain is a different domain)."""
    domain = domain.strip().lower()
    candidates = db.scalars(select(Tenant).where(
        Tenant.id != tenant_id,
        or_(func.lower(Tenant.domain) == domain, Tenant.email_domains.contains(domain, autoescape=True))))
    return any(domain in tenant_domains(t) for t in candidates)


def ids_in_scope(db: Session, model: Any, ids: list[int], tenant_id: int, field: str) -> list[Any]:
    """The objects of `ids` that belong to `tenant_id`, in the given order; Invalid if any does not."""
    if not ids:
        return []
    found = {o.id: o for o in db.scalars(select(model).where(model.id.in_(ids), model.tenant_id == tenant_id))}
    if len(found) != len(ids):
        raise Invalid({field: UNKNOWN_REFERENCE})
    return [found[i] for i in ids]

