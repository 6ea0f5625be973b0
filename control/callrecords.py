"""Turning the PBX's call records into the guide's "Détails d'appels" rows: one row per user the call
concerns, with call type and cost, stored idempotently (a record seen twice is stored once)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Insert, Table, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import CallRecord, Extension, RateEntry, Tenant, User
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


@dataclass
class Directory:
    """Endpoint -> (tenant, user) lookups for one node, refreshed by the daemon when users change."""

    by_endpoint: dict[str, tuple[int, int | None, str]]  # endpoint -> (tenant_id, user_id, display name)
    rates: dict[int, list[Rate]]  # tenant_id -> rates
    default_tenant_id: int | None

    @classmethod
    def load(cls, db: Session, node_id: int, endpoints: Iterable[str] | None = None) -> Directory:
        """The node's whole directory (the daemon keeps it), or only the given endpoints (one HTTP-posted
        record needs two, not the node's thousands of extensions)."""
        tenants = db.scalars(select(Tenant).where(Tenant.node_id == node_id)).all()
        ids = [t.id for t in tenants]
        by_endpoint: dict[str, tuple[int, int | None, str]] = {}
        stmt = (select(Extension.sip_username, Extension.number, Extension.tenant_id, Extension.user_id,
                       User.first_name, User.last_name)
                .join(User, User.id == Extension.user_id, isouter=True)
                .where(Extension.tenant_id.in_(ids)))
        if endpoints is not None:
            wanted = [e for e in endpoints if e]
            stmt = stmt.where(or_(Extension.sip_username.in_(wanted), Extension.number.in_(wanted)))
        rows = db.execute(stmt).all()
        for sip, number, tenant_id, user_id, first, last in rows:
            name = f"{first or ''} {last or ''}".strip()
            by_endpoint[sip] = (tenant_id, user_id, name)
            by_endpoint.setdefault(number, (tenant_id, user_id, name))
        rates: dict[int, list[Rate]] = {i: [] for i in ids}
        for r in db.scalars(select(RateEntry).where(RateEntry.tenant_id.in_(ids))):
            rates[r.tenant_id].append(Rate(r.prefix, Decimal(r.per_minute), r.increment_seconds))
        return cls(by_endpoint, rates, ids[0] if len(ids) == 1 else None)


def rows_for(report: CallRecordReport, node_id: int, directory: Directory) -> list[dict[str, object]]:
    """The call_records rows (as dicts) one PBX record gives: one per concerned user."""
    src = directory.by_endpoint.get(report.source_endpoint) if report.source_endpoint else None
    dst = directory.by_endpoint.get(report.destination_endpoint) if report.destination_endpoint else None
    if dst is None and report.dialed_number:
        dst = directory.by_endpoint.get(report.dialed_number)
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


def insert_ignoring_duplicates(db: Session, rows: list[dict[str, object]]) -> int:
    """Insert call records; rows already stored (same node, PBX id and user) are skipped."""
    if not rows:
        return 0
    dialect = db.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(CALL_RECORDS).on_conflict_do_nothing(
            constraint="uq_call_records_node_call_user")
    elif dialect == "sqlite":
        stmt = sqlite.insert(CALL_RECORDS).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    # Core execution on the session's connection: executemany reports how many rows it inserted.
    result = db.connection().execute(stmt, rows)
    return int(result.rowcount or 0)


def ingest(db: Session, node_id: int, reports: Iterable[CallRecordReport], directory: Directory) -> int:
    rows = [row for report in reports for row in rows_for(report, node_id, directory)]
    return insert_ignoring_duplicates(db, rows)
