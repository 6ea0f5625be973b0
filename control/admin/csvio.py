"""CSV import and export of users and phones (devices) of one tenant.

An import checks every line through the same services as the screens (so the same validation, role
limits and audit entries), inside a savepoint: each line is tried in its own nested savepoint and its
errors collected; nothing stays unless every line is good and it is not a dry run. A line whose
e-mail (users) or MAC address (devices) already exists in the tenant updates that object, so an
export imports back as it was.

Exports neutralise spreadsheet formulas the way the call-record export does (a leading quote), and
the import removes that quote again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import validation
from ..calllog import FORMULA_FIRST
from ..models import DestinationGroup, Device, Queue, Tenant, User
from . import Actor, Forbidden, Invalid, NotFound, Resource, resource
from ._base import N_, require_admin

# Messages (msgids; French in web/translations/fr/LC_MESSAGES/messages.po).
NOT_CSV = N_("The file is not valid CSV.")
MISSING_COLUMN = N_("The column %(column)s is missing.")
UNKNOWN_COLUMN = N_("Unknown column: %(column)s.")
TOO_MANY_LINES = N_("The file has too many lines (at most %(max)d).")
EMPTY_FILE = N_("The file has no lines to import.")
EMAIL_REPEATS = N_("This e-mail address repeats line %(line)d.")
EXTENSION_REPEATS = N_("This extension repeats line %(line)d.")
MAC_REPEATS = N_("This MAC address repeats line %(line)d.")
UNKNOWN_NAME = N_("Unknown name: %(name)s.")
UNKNOWN_OWNER = N_("No user of this tenant has this e-mail address.")
MAY_NOT_CHANGE = N_("You may not change this account.")
CONFLICT = N_("This line conflicts with existing data.")

MAX_LINES = 20000
LIST_SEPARATOR = ";"

USER_COLUMNS = ["email", "first_name", "last_name", "department", "language", "timezone", "role", "active",
                "extension", "can_use_blf", "record_calls", "destination_groups", "queues"]
USER_IMPORT_ONLY = ["password", "sip_password", "vm_pin"]
DEVICE_COLUMNS = ["mac", "vendor", "model", "label", "owner", "prov_username"]
DEVICE_IMPORT_ONLY = ["prov_password"]

_BOOLEANS = {"active", "can_use_blf", "record_calls"}
_KEEP_IF_BLANK = _BOOLEANS | {"language", "role", "password", "sip_password", "vm_pin", "prov_password"}


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str                       # msgid
    params: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def text(self) -> str:
        """In English (the screens translate `message` and format it with `params`)."""
        msg = self.message % self.params if self.params else self.message
        return f"{self.field}: {msg}" if self.field else msg


@dataclass
class ImportReport:
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    lines: int = 0
    errors: list[LineError] = dc_field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_line(self) -> list[tuple[int, str]]:
        """One (line, English text) per line in error, its errors joined."""
        out: dict[int, list[str]] = {}
        for e in self.errors:
            out.setdefault(e.line, []).append(e.text)
        return [(line, "; ".join(texts)) for line, texts in sorted(out.items())]


# ---- cells -------------------------------------------------------------------------------------------

def neutralise(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text and text[0] in FORMULA_FIRST else text


def unneutralise(text: str) -> str:
    return text[1:] if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_FIRST else text


def _write(columns: list[str], rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise(row.get(c, "")) for c in columns])
    return out.getvalue()


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _tenant_in_scope(db: Session, actor: Actor, tenant_id: int) -> Tenant:
    require_admin(actor)
    tenant = db.get(Tenant, tenant_id) if isinstance(tenant_id, int) else None
    if tenant is None or (not actor.is_operator and tenant.id != actor.tenant_id):
        raise NotFound("tenants")
    return tenant


def _read(text: str, required: list[str], known: list[str], report: ImportReport) -> list[tuple[int, dict[str, str]]]:
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error:
        report.errors.append(LineError(1, "", NOT_CSV))
        return []
    reader.fieldnames = header
    for column in required:
        if column not in header:
            report.errors.append(LineError(1, "", MISSING_COLUMN, {"column": column}))
    for column in header:
        if column not in known:
            report.errors.append(LineError(1, "", UNKNOWN_COLUMN, {"column": column[:40]}))
    if report.errors:
        return []
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for row in reader:
            if len(rows) >= MAX_LINES:
                report.errors.append(LineError(reader.line_num, "", TOO_MANY_LINES, {"max": MAX_LINES}))
                return []
            if None in row:  # more cells than columns
                report.errors.append(LineError(reader.line_num, "", NOT_CSV))
                continue
            cells = {k: unneutralise((v or "").strip()) for k, v in row.items() if k}
            if not any(cells.values()):
                continue
            rows.append((reader.line_num, cells))
    except csv.Error:
        report.errors.append(LineError(reader.line_num, "", NOT_CSV))
        return []
    if not rows and not report.errors:
        report.errors.append(LineError(1, "", EMPTY_FILE))
    return rows


def _run(db: Session, rows: list[tuple[int, dict[str, str]]], report: ImportReport,
         apply_line: Callable[[int, dict[str, str]], str]) -> None:
    """Every line in its own savepoint inside one outer savepoint, kept only if all are good and it
    is not a dry run."""
    outer = db.begin_nested()
    try:
        for line, cells in rows:
            inner = db.begin_nested()
            try:
                outcome = apply_line(line, cells)
            except Invalid as exc:
                # (an empty Invalid: apply_line put its own errors in the report)
                inner.rollback()
                report.errors.extend(LineError(line, k, v) for k, v in exc.errors.items())
            except Forbidden:
                inner.rollback()
                report.errors.append(LineError(line, "", MAY_NOT_CHANGE))
            except IntegrityError:
                inner.rollback()
                report.errors.append(LineError(line, "", CONFLICT))
            else:
                inner.commit()
                setattr(report, outcome, getattr(report, outcome) + 1)
        report.lines = len(rows)
    except BaseException:
        outer.rollback()
        raise
    if report.errors or report.dry_run:
        outer.rollback()
    else:
        outer.commit()


def _data(cells: dict[str, str], columns: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for c in columns:
        if c in cells:
            if cells[c] == "" and c in _KEEP_IF_BLANK:
                continue
            data[c] = cells[c]
    return data


# ---- users -------------------------------------------------------------------------------------------

def export_users(db: Session, actor: Actor, tenant_id: int) -> str:
    tenant = _tenant_in_scope(db, actor, tenant_id)
    groups = {g.id: g.name for g in db.scalars(select(DestinationGroup).where(DestinationGroup.tenant_id == tenant.id))}
    queues = {q.id: q.name for q in db.scalars(select(Queue).where(Queue.tenant_id == tenant.id))}
    users = resource("users")
    rows = []
    for user in db.scalars(select(User).where(User.tenant_id == tenant.id).order_by(User.email)):
        d = users.serialize(user)
        rows.append({**d, **{k: _yes_no(d[k]) for k in _BOOLEANS},
                     "destination_groups": LIST_SEPARATOR.join(sorted(groups[i] for i in d["destination_groups"])),
                     "queues": LIST_SEPARATOR.join(sorted(queues[i] for i in d["queues"]))})
    return _write(USER_COLUMNS, rows)


def import_users(db: Session, actor: Actor, tenant_id: int, text: str, dry_run: bool) -> ImportReport:
    tenant = _tenant_in_scope(db, actor, tenant_id)
    report = ImportReport(dry_run=dry_run)
    rows = _read(text, ["email"], USER_COLUMNS + USER_IMPORT_ONLY, report)
    if not rows:
        return report
    groups = {g.name: g.id for g in db.scalars(select(DestinationGroup).where(DestinationGroup.tenant_id == tenant.id))}
    queues = {q.name: q.id for q in db.scalars(select(Queue).where(Queue.tenant_id == tenant.id))}
    users = resource("users")
    seen_email: dict[str, int] = {}
    seen_ext: dict[str, int] = {}

    def names(line: int, value: str, known: dict[str, int], column: str, errors: list[LineError]) -> list[int]:
        out = []
        for name in (n.strip() for n in value.split(LIST_SEPARATOR)):
            if name:
                if name in known:
                    out.append(known[name])
                else:
                    errors.append(LineError(line, column, UNKNOWN_NAME, {"name": name[:80]}))
        return out

    def apply_line(line: int, cells: dict[str, str]) -> str:
        data = _data(cells, USER_COLUMNS + USER_IMPORT_ONLY)
        errors: list[LineError] = []
        email = cells.get("email", "").lower()
        if email in seen_email:
            errors.append(LineError(line, "email", EMAIL_REPEATS, {"line": seen_email[email]}))
        elif email:
            seen_email[email] = line
        ext = cells.get("extension", "")
        if ext in seen_ext:
            errors.append(LineError(line, "extension", EXTENSION_REPEATS, {"line": seen_ext[ext]}))
        elif ext:
            seen_ext[ext] = line
        for column, known in (("destination_groups", groups), ("queues", queues)):
            if column in data:
                data[column] = names(line, data[column], known, column, errors)
        existing = db.scalar(select(User).where(User.tenant_id == tenant.id, func.lower(User.email) == email)) \
            if email else None
        return _upsert(db, actor, users, tenant.id, existing, data, line, errors, report)

    _run(db, rows, report, apply_line)
    return report


def _upsert(db: Session, actor: Actor, res: Resource, tenant_id: int, existing: Any, data: dict[str, Any],
            line: int, errors: list[LineError], report: ImportReport) -> str:
    """Create or update one line's object through the resource; the line's own errors (repeats in
    the file) and the service's are reported together, and any error rolls the line back."""
    outcome = ""
    try:
        if existing is not None:
            before = res.serialize(existing)
            res.update(db, actor, existing.id, data)
            outcome = "unchanged" if res.serialize(existing) == before and not _secrets(data) else "updated"
        else:
            res.create(db, actor, {**data, "tenant_id": tenant_id})
            outcome = "created"
    except Invalid as exc:
        if not errors:
            raise
        mine = {e.field for e in errors}  # a repeat in the file says it better than "already taken"
        errors.extend(LineError(line, k, v) for k, v in exc.errors.items() if k not in mine)
    if errors:
        report.errors.extend(errors)
        raise Invalid({})
    return outcome


def _secrets(data: dict[str, Any]) -> bool:
    return any(data.get(k) for k in ("password", "sip_password", "vm_pin", "prov_password"))


# ---- devices -----------------------------------------------------------------------------------------

def export_devices(db: Session, actor: Actor, tenant_id: int) -> str:
    tenant = _tenant_in_scope(db, actor, tenant_id)
    owners = {u.id: u.email for u in db.scalars(select(User).where(User.tenant_id == tenant.id))}
    rows = []
    for d in db.scalars(select(Device).where(Device.tenant_id == tenant.id).order_by(Device.mac)):
        rows.append({"mac": d.mac, "vendor": d.vendor, "model": d.model, "label": d.label,
                     "owner": owners.get(d.user_id, "") if d.user_id else "", "prov_username": d.prov_username})
    return _write(DEVICE_COLUMNS, rows)


def import_devices(db: Session, actor: Actor, tenant_id: int, text: str, dry_run: bool) -> ImportReport:
    tenant = _tenant_in_scope(db, actor, tenant_id)
    report = ImportReport(dry_run=dry_run)
    rows = _read(text, ["mac", "vendor", "model"], DEVICE_COLUMNS + DEVICE_IMPORT_ONLY, report)
    if not rows:
        return report
    owners = {u.email.lower(): u.id for u in db.scalars(select(User).where(User.tenant_id == tenant.id))}
    devices = resource("devices")
    seen_mac: dict[str, int] = {}

    def apply_line(line: int, cells: dict[str, str]) -> str:
        data = _data(cells, DEVICE_COLUMNS + DEVICE_IMPORT_ONLY)
        errors: list[LineError] = []
        try:
            mac = validation.mac_address(cells.get("mac", ""))
        except validation.InvalidValue:
            mac = ""
        if mac and mac in seen_mac:
            errors.append(LineError(line, "mac", MAC_REPEATS, {"line": seen_mac[mac]}))
        elif mac:
            seen_mac[mac] = line
        if "owner" in data:
            owner = data.pop("owner").lower()
            if owner and owner not in owners:
                errors.append(LineError(line, "owner", UNKNOWN_OWNER))
            else:
                data["user_id"] = owners.get(owner)
        existing = db.scalar(select(Device).where(Device.tenant_id == tenant.id, Device.mac == mac)) if mac else None
        return _upsert(db, actor, devices, tenant.id, existing, data, line, errors, report)

    _run(db, rows, report, apply_line)
    return report


Importer = Callable[[Session, Actor, int, str, bool], ImportReport]
Exporter = Callable[[Session, Actor, int], str]


@dataclass(frozen=True)
class CsvKind:
    """One kind of object the CSV import and export handle: the administration resource it is (also the
    URL segment of the screen and the API), its label and its two services."""

    name: str
    label: str  # English msgid, translated where shown
    import_csv: Importer
    export_csv: Exporter


# The one table of the CSV kinds, for the administration screen (web/admin/csvpages.py), the REST API
# (web/api/extras.py) and the command line.
KINDS: dict[str, CsvKind] = {
    "users": CsvKind("users", N_("Users"), import_users, export_users),
    "devices": CsvKind("devices", N_("Phones"), import_devices, export_devices),
}
