"""Queries behind "Détails d'appels": a user's call records filtered by dates in their time zone and a
free-text search, sorted by any column, with keyset pagination (no OFFSET scans), a streamed CSV
export and per-day figures for the chart."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from .models import CallRecord

SORTABLE = {
    "caller": CallRecord.caller_name,
    "caller_number": CallRecord.caller_number,
    "dialed_number": CallRecord.dialed_number,
    "callee": CallRecord.callee,
    "started_at": CallRecord.started_at,
    "duration": CallRecord.duration_seconds,
    "status": CallRecord.status,
    "recording": CallRecord.recording_status,
    "call_type": CallRecord.call_type,
    "cost": CallRecord.cost,
}
PAGE_SIZE = 50


class InvalidQuery(ValueError):
    pass


@dataclass
class CallQuery:
    user_id: int | None  # None with tenant_id: an admin's tenant-wide view
    tenant_id: int
    timezone: str
    start: dt.date | None = None
    end: dt.date | None = None
    search: str = ""
    sort: str = "started_at"
    descending: bool = True
    cursor: str = ""
    page_size: int = PAGE_SIZE

    def utc_range(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """Start date from 00:00 and end date to 23:59:59.999999 in the user's zone, as naive UTC."""
        tz = ZoneInfo(self.timezone)

        def to_utc(local: dt.datetime) -> dt.datetime:
            return local.replace(tzinfo=tz).astimezone(dt.UTC).replace(tzinfo=None)

        lo = to_utc(dt.datetime.combine(self.start, dt.time.min)) if self.start else None
        # The next day's midnight, exclusive, is exact even on daylight-saving days.
        hi = to_utc(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min)) if self.end else None
        return lo, hi


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filters(q: CallQuery) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [CallRecord.tenant_id == q.tenant_id]
    if q.user_id is not None:
        conds.append(CallRecord.user_id == q.user_id)
    lo, hi = q.utc_range()
    if lo is not None:
        conds.append(CallRecord.started_at >= lo)
    if hi is not None:
        conds.append(CallRecord.started_at < hi)
    term = q.search.strip()[:100]
    if term:
        pattern = f"%{_escape_like(term.lower())}%"
        conds.append(or_(*(func.lower(c).like(pattern, escape="\\") for c in (
            CallRecord.caller_name, CallRecord.caller_number, CallRecord.dialed_number, CallRecord.callee))))
    return conds


def encode_cursor(value: Any, ident: int) -> str:
    if isinstance(value, dt.datetime):
        value = {"t": value.isoformat()}
    elif isinstance(value, Decimal):
        value = {"d": str(value)}
    raw = json.dumps([value, ident], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, ident = json.loads(raw)
        if isinstance(value, dict) and "t" in value:
            value = dt.datetime.fromisoformat(value["t"])
        elif isinstance(value, dict) and "d" in value:
            value = Decimal(value["d"])
        if not isinstance(ident, int):
            raise ValueError
    except (ValueError, TypeError, json.JSONDecodeError):
        raise InvalidQuery("cursor") from None
    expected = SORTABLE[sort].type.python_type
    if not isinstance(value, expected) and not (expected is Decimal and isinstance(value, int | float)):
        raise InvalidQuery("cursor")
    return value, ident


@dataclass
class Page:
    rows: list[CallRecord]
    next_cursor: str = ""
    total: int = 0
    has_previous: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def page(db: Session, q: CallQuery, with_total: bool = True) -> Page:
    if q.sort not in SORTABLE:
        raise InvalidQuery("sort")
    col = SORTABLE[q.sort]
    conds = filters(q)
    stmt = select(CallRecord).where(*conds)
    if q.cursor:
        value, ident = decode_cursor(q.cursor, q.sort)
        if q.descending:
            stmt = stmt.where(or_(col < value, and_(col == value, CallRecord.id < ident)))
        else:
            stmt = stmt.where(or_(col > value, and_(col == value, CallRecord.id > ident)))
    order = (col.desc(), CallRecord.id.desc()) if q.descending else (col.asc(), CallRecord.id.asc())
    rows = list(db.scalars(stmt.order_by(*order).limit(q.page_size + 1)))
    next_cursor = ""
    if len(rows) > q.page_size:
        rows = rows[: q.page_size]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, col.key), last.id)
    total = db.scalar(select(func.count()).select_from(CallRecord).where(*conds)) if with_total else 0
    return Page(rows, next_cursor, int(total or 0), bool(q.cursor))


@dataclass(frozen=True)
class DayFigures:
    day: dt.date
    answered: int
    missed: int
    incoming: int
    outgoing: int
    internal: int


def daily_figures(db: Session, q: CallQuery) -> list[DayFigures]:
    """Calls per local day for the chart. Grouped in Python by local date: time zones differ per user
    and SQLite has no zone arithmetic."""
    tz = ZoneInfo(q.timezone)
    conds = filters(q)
    answered = case((CallRecord.status == "answered", 1), else_=0)
    rows = db.execute(select(CallRecord.started_at, answered, CallRecord.call_type).where(*conds)
                      .order_by(CallRecord.started_at).limit(200_000)).all()
    days: dict[dt.date, list[int]] = {}
    for started, ans, kind in rows:
        day = started.replace(tzinfo=dt.UTC).astimezone(tz).date()
        f = days.setdefault(day, [0, 0, 0, 0, 0])
        f[0] += ans
        f[1] += 1 - ans
        f[2 + {"incoming": 0, "outgoing": 1}.get(kind, 2)] += 1
    return [DayFigures(d, *v) for d, v in sorted(days.items())]


# A cell starting with one of these is a formula to a spreadsheet (a hostile caller name such as
# '=HYPERLINK(...)'): the export prefixes it with a quote.
FORMULA_FIRST = frozenset("=+-@\t\r")


def export_rows(db: Session, q: CallQuery, batch: int = 10000) -> Iterator[Sequence[Any]]:
    """Every row the filters select, in start order, streamed (a server-side cursor on PostgreSQL,
    SQLite's lazy stepping), so memory stays constant whatever the size.

    The time and cost columns are taken raw: SQLAlchemy's per-value converters (a regex per SQLite
    datetime) would cost more than everything else in an export; the caller converts cheaply."""
    conds = filters(q)
    cols = (CallRecord.id, CallRecord.caller_name, CallRecord.caller_number, CallRecord.dialed_number,
            CallRecord.callee, type_coerce(CallRecord.started_at, String), CallRecord.duration_seconds,
            CallRecord.status, CallRecord.recording_status, CallRecord.call_type,
            type_coerce(CallRecord.cost, String))
    stmt = select(*cols).where(*conds).order_by(CallRecord.started_at, CallRecord.id)
    conn = db.connection().execution_options(stream_results=True, yield_per=batch)
    result = conn.execute(stmt)
    try:
        for part in result.partitions():
            yield from part
    finally:
        result.close()


def as_datetime(value: Any) -> dt.datetime:
    """A stored start time as a naive datetime, whether the driver gave a datetime or SQLite's text."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def hms(seconds: int) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


_HMS = [f"{s // 60:02d}:{s % 60:02d}" for s in range(3600)]  # "mm:ss" of every second in an hour


def caller_display(name: str, number: str) -> str:
    return f"{name} <{number}>" if name else number


class LocalTimes:
    """UTC -> local wall time with the zone offset cached per UTC hour: zone transitions fall on whole
    hours, and astimezone() per row would be the export's slowest step."""

    def __init__(self, timezone: str):
        self.tz = ZoneInfo(timezone)
        self.cache: dict[dt.datetime, dt.timedelta] = {}

    def __call__(self, utc: dt.datetime) -> dt.datetime:
        hour = utc.replace(minute=0, second=0, microsecond=0)
        offset = self.cache.get(hour)
        if offset is None:
            offset = hour.replace(tzinfo=dt.UTC).astimezone(self.tz).utcoffset() or dt.timedelta(0)
            self.cache[hour] = offset
        return utc + offset


def export_csv(db: Session, q: CallQuery, header: Sequence[str], labels: dict[str, str], delimiter: str,
               ) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (Excel needs it to read accents), one header row in the user's language."""
    local = LocalTimes(q.timezone)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(header)
    first = FORMULA_FIRST
    status_l, kind_l = {k: labels.get(k, k) for k in ("answered", "no_answer", "busy", "failed")}, {
        k: labels.get(k, k) for k in ("incoming", "outgoing", "internal")}
    rec_l = {k: labels.get("rec_" + k, k) for k in ("none", "recorded")}
    hms_table = _HMS
    write = writer.writerow
    count = 0
    for _id, name, number, dialed, callee, started, duration, status, rec, kind, cost in export_rows(db, q):
        # Inline on purpose: this loop runs once per exported row (a million for a large tenant).
        caller = f"{name} <{number}>" if name else number
        d = duration if duration > 0 else 0
        write(("'" + caller if caller[:1] in first else caller,
               "'" + number if number[:1] in first else number,
               "'" + dialed if dialed[:1] in first else dialed,
               "'" + callee if callee[:1] in first else callee,
               str(local(as_datetime(started).replace(microsecond=0))),
               f"{d // 3600:02d}:{hms_table[d % 3600]}",
               status_l.get(status, status), rec_l.get(rec, rec), kind_l.get(kind, kind),
               f"{float(cost or 0):.2f}"))
        count += 1
        if count % 5000 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")
