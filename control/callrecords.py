"""Turning the PBX's call records into the guide's "Détails d'appels" rows: one row per user the call
concerns, with call type and cost, stored idempotently (a record seen twice is stored once)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import Insert, Table, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import CallRecord, Device, Extension, PbxNode, RateEntry, Tenant, User
from .pbxnames import PbxNames
from .port import CallRecordReport, CallStatus

CALL_RECORDS: Table = CallRecord.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Rate:
    prefix: str
    per_minute: Decimal
    increment_seconds: int


def cost_of(number: str, billable_seconds: int, rates: Sequence[Rate]) -> Decimal:
    """Longest matching prefix wins; billable time is rounded up to the rate's increment."""
    if billable_seconds <= 0:
        return Decimal("0")
    best = max((r for r in rates if number.startswith(r.prefix)), key=lambda r: len(r.prefix), default=None)
    if best is None:
        return Decimal("0")
    step = max(1, best.increment_seconds)
    charged = math.ceil(billable_seconds / step) * step
    return (best.per_minute * Decimal(charged) / Decimal(60)).quantize(Decimal("0.0001"))


Party = tuple[int, int | None, str]  # (tenant_id, user_id, display name)


@dataclass
class Directory:
    """Who a PBX party is, for one node, refreshed by the daemon when users change.

    Two tenants of a node may both have an extension 201, so a bare number is never enough: a party is
    found by its SIP endpoint name (an extension's SIP username or a desk phone's MAC, unique on the
    whole platform), or by its number inside the tenant the call runs in (known from the dialplan
    context, ``cpbx-<slug>`` / ``cpbx-<slug>-<part>``, or the FreeSWITCH directory domain). A number
    outside any known tenant counts only when a single tenant of the node has it."""

    by_endpoint: dict[str, Party]  # SIP endpoint (SIP username, device MAC) -> party
    rates: dict[int, list[Rate]]  # tenant_id -> rates
    default_tenant_id: int | None  # the node's only tenant, else None
    by_number: dict[str, dict[int, Party]] = field(default_factory=dict)  # number -> tenant_id -> party
    tenant_by_context: dict[str, int] = field(default_factory=dict)
    tenant_by_domain: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, db: Session, node_id: int, endpoints: Iterable[str] | None = None) -> Directory:
        """The node's whole directory (the daemon keeps it), or only the given endpoints and numbers (one
        HTTP-posted record needs two, not the node's thousands of extensions). The tenants' contexts and
        domains are always loaded."""
        node = db.get(PbxNode, node_id)
        tenants = db.scalars(select(Tenant).where(Tenant.node_id == node_id).order_by(Tenant.id)).all()
        ids = [t.id for t in tenants]
        by_endpoint, by_number = cls.parties(db, ids, endpoints)
        rates: dict[int, list[Rate]] = {i: [] for i in ids}
        for r in db.scalars(select(RateEntry).where(RateEntry.tenant_id.in_(ids))):
            rates[r.tenant_id].append(Rate(r.prefix, Decimal(r.per_minute), r.increment_seconds))
        names = PbxNames.of_node(db, node) if node is not None else {}
        contexts: dict[str, int | None] = {}
        domains: dict[str, int | None] = {}
        for t in tenants:
            # The tenant's generated contexts; a name two tenants would share (the renderers refuse it)
            # names neither
            for name in names[t.id].contexts():
                contexts[name] = t.id if contexts.get(name, t.id) == t.id else None
            # dialplan.model.Tenant.sip_domain: the FreeSWITCH directory domain of the tenant's users
            domain = names[t.id].domain.lower()
            if domain:
                domains[domain] = t.id if domains.get(domain, t.id) == t.id else None
        return cls(by_endpoint, rates, ids[0] if len(ids) == 1 else None, by_number,
                   {k: v for k, v in contexts.items() if v is not None},
                   {k: v for k, v in domains.items() if v is not None})

    @staticmethod
    def parties(db: Session, tenant_ids: Sequence[int], endpoints: Iterable[str] | None = None
                ) -> tuple[dict[str, Party], dict[str, dict[int, Party]]]:
        """The extensions and desk phones of these tenants (only those named by `endpoints`, SIP names or
        numbers, when given): (by_endpoint, by_number)."""
        ids = list(tenant_ids)
        by_endpoint: dict[str, Party] = {}
        by_number: dict[str, dict[int, Party]] = {}
        stmt = (select(Extension.sip_username, Extension.number, Extension.tenant_id, Extension.user_id,
                       User.first_name, User.last_name)
                .join(User, User.id == Extension.user_id, isouter=True)
                .where(Extension.tenant_id.in_(ids)))
        devices = (select(Device.mac, Device.tenant_id, Device.user_id, User.first_name, User.last_name)
                   .join(User, User.id == Device.user_id).where(Device.tenant_id.in_(ids)))
        if endpoints is not None:
            wanted = [e for e in endpoints if e]
            stmt = stmt.where(or_(Extension.sip_username.in_(wanted), Extension.number.in_(wanted)))
            devices = devices.where(Device.mac.in_([w.lower() for w in wanted]))
        for sip, number, tenant_id, user_id, first, last in db.execute(stmt).all():
            party = (tenant_id, user_id, f"{first or ''} {last or ''}".strip())
            by_endpoint[sip] = party
            by_number.setdefault(number, {})[tenant_id] = party
        for mac, tenant_id, user_id, first, last in db.execute(devices).all():
            by_endpoint.setdefault(mac, (tenant_id, user_id, f"{first or ''} {last or ''}".strip()))
        return by_endpoint, by_number

    def tenant_of(self, context: str = "", domain: str = "") -> int | None:
        """The tenant a dialplan context or a SIP domain belongs to; None when neither is one of ours."""
        tenant_id = self.tenant_by_context.get(context) if context else None
        if tenant_id is None and domain:
            tenant_id = self.tenant_by_domain.get(domain.lower())
        return tenant_id

    def number(self, number: str, tenant_id: int | None = None) -> Party | None:
        """The party with this extension number in the given tenant; with no tenant, only when a single
        tenant of the node has the number (never the first of several). A value that is nobody's
        extension number may be an endpoint's name (FreeSWITCH's dialed_user, Asterisk's endpoint)."""
        if not number:
            return None
        found = self.by_number.get(number)
        if found is None:
            party = self.by_endpoint.get(number)
            return party if party is not None and tenant_id in (None, party[0]) else None
        if tenant_id is not None:
            return found.get(tenant_id)
        return next(iter(found.values())) if len(found) == 1 else None

    def knows(self, key: str, tenant_id: int | None = None) -> bool:
        """Whether `key` (an endpoint or a number) needs no look-up in the database."""
        if key in self.by_endpoint:
            return True
        found = self.by_number.get(key)
        return found is not None and (tenant_id is None or tenant_id in found)

    def merge(self, other: Directory) -> None:
        """Add what a partial load found (users and tenants created after this directory was loaded)."""
        self.by_endpoint.update(other.by_endpoint)
        for number, parties in other.by_number.items():
            self.by_number.setdefault(number, {}).update(parties)
        self.tenant_by_context.update(other.tenant_by_context)
        self.tenant_by_domain.update(other.tenant_by_domain)
        for tenant_id, rates in other.rates.items():
            self.rates.setdefault(tenant_id, rates)


def rows_for(report: CallRecordReport, node_id: int, directory: Directory) -> list[dict[str, object]]:
    """The call_records rows (as dicts) one PBX record gives: one per concerned user."""
    src = directory.by_endpoint.get(report.source_endpoint) if report.source_endpoint else None
    dst = directory.by_endpoint.get(report.destination_endpoint) if report.destination_endpoint else None
    if dst is None and (report.destination_endpoint or report.dialed_number):
        # A bare number: looked up in the tenant the call ran in (its context or domain, else the
        # caller's), never taken from whichever tenant has it first. The destination may be a number too
        # (FreeSWITCH: the extension a forward's loopback leg rang), before the number dialled.
        tenant_id = directory.tenant_of(report.context, report.domain)
        if tenant_id is None and src is not None:
            tenant_id = src[0]
        if report.destination_endpoint:
            dst = directory.number(report.destination_endpoint, tenant_id)
        if dst is None and report.dialed_number:
            dst = directory.number(report.dialed_number, tenant_id)
    if src is None and dst is None:
        return []
    call_type = "internal" if src and dst else "outgoing" if src else "incoming"
    callee = dst[2] if dst and dst[2] else report.dialed_number
    base = {
        "node_id": node_id,
        "pbx_call_id": report.pbx_call_id[:128],
        "caller_name": report.caller_name[:120],
        "caller_number": report.caller_number[:64],
        "dialed_number": report.dialed_number[:64],
        "callee": callee[:120],
        "started_at": report.started_at,
        "answered_at": report.answered_at,
        "duration_seconds": max(0, report.duration_seconds),
        "billable_seconds": max(0, report.billable_seconds),
        "status": report.status.value,
        "recording_status": "recorded" if report.recording_path else "none",
        "recording_path": report.recording_path[:1024],
    }
    out = []
    seen: set[int] = set()
    for side, party in (("src", src), ("dst", dst)):
        if party is None or party[1] is None or party[1] in seen:
            continue
        tenant_id, user_id, _name = party
        if user_id is None:
            continue
        seen.add(user_id)
        kind = call_type if call_type == "internal" else ("outgoing" if side == "src" else "incoming")
        cost = Decimal("0")
        if kind == "outgoing" and report.status is CallStatus.ANSWERED:
            cost = cost_of(report.dialed_number, report.billable_seconds, directory.rates.get(tenant_id, []))
        out.append({**base, "tenant_id": tenant_id, "user_id": user_id, "call_type": kind, "cost": cost})
    return out


# What an answered record of a call attempt changes in a row stored unanswered under the same id (ami/cdr.py
# gives every record of a Dial that rang several phones at once one id: the answered phone's record wins).
_ANSWER_COLUMNS = ("status", "answered_at", "duration_seconds", "billable_seconds", "cost", "recording_status",
                   "recording_path")


def _one_per_key(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Rows of one batch with the same node, PBX id and user: the answered one, else the first."""
    kept: dict[tuple[object, object, object], dict[str, object]] = {}
    for row in rows:
        key = (row["node_id"], row["pbx_call_id"], row["user_id"])
        if key not in kept or (row["status"] == CallStatus.ANSWERED.value
                               and kept[key]["status"] != CallStatus.ANSWERED.value):
            kept[key] = row
    return list(kept.values())


def insert_ignoring_duplicates(db: Session, rows: list[dict[str, object]]) -> int:
    """Insert call records; rows already stored (same node, PBX id and user) are skipped, except that an
    answered row replaces the call's details of a stored unanswered one (the phone that answered a call
    that rang several)."""
    if not rows:
        return 0
    rows = _one_per_key(rows)
    dialect = db.get_bind().dialect.name
    stmt: Insert
    answered = CallStatus.ANSWERED.value
    if dialect == "postgresql":
        pg = postgresql.insert(CALL_RECORDS)
        stmt = pg.on_conflict_do_update(
            constraint="uq_call_records_node_call_user",
            set_={c: pg.excluded[c] for c in _ANSWER_COLUMNS},
            where=(CALL_RECORDS.c.status != answered) & (pg.excluded.status == answered))
    elif dialect == "sqlite":
        lite = sqlite.insert(CALL_RECORDS)
        stmt = lite.on_conflict_do_update(
            index_elements=["node_id", "pbx_call_id", "user_id"],
            set_={c: lite.excluded[c] for c in _ANSWER_COLUMNS},
            where=(CALL_RECORDS.c.status != answered) & (lite.excluded.status == answered))
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    # Core execution on the session's connection: executemany reports how many rows it inserted.
    result = db.connection().execute(stmt, rows)
    return int(result.rowcount or 0)


def ingest(db: Session, node_id: int, reports: Iterable[CallRecordReport], directory: Directory) -> int:
    rows = [row for report in reports for row in rows_for(report, node_id, directory)]
    return insert_ignoring_duplicates(db, rows)
