"""Queries behind "Détails d'appels": a user's call records filtered by dates in their time zone and a
free-text search, sorted by any column, with keyset pagination (no OFFSET scans), a streamed CSV
export and per-day figures for the chart."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.engine import Compiled, Connection
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
    missed: bool = False  # only the calls missed: received (not placed) and not answered, as the home page counts

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
    if q.missed:
        conds += [CallRecord.status != "answered", CallRecord.call_type != "outgoing"]
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


def export_count(db: Session, q: CallQuery) -> int:
    """How many rows export_csv(q) writes (the page's progress bar: "N of M rows")."""
    return int(db.scalar(select(func.count()).select_from(CallRecord).where(*filters(q))) or 0)


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


def hms(seconds: int) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def caller_display(name: str, number: str) -> str:
    return f"{name} <{number}>" if name else number


# --- CSV export -------------------------------------------------------------------------------------
#
# One statement per export, built below from the same filters as the screen, formats each row in SQL
# (a few dialect-specific functions: SQLite's datetime/printf/instr, PostgreSQL's to_char/strpos), so
# Python only appends the cost and joins strings; a Python loop formatting each row cost ~14 µs a row.
# What the SQL produces, per row:
#
#   caller;number;dialed;callee;local start;hh:mm:ss;status;recording;type;   (then Python: cost\r\n)
#
# - caller is "Name <number>", or the number alone when there is no name;
# - the four free-text cells are neutralised (a leading = + - @ tab CR gets a "'" prefix), then quoted
#   like csv.writer's QUOTE_MINIMAL (a cell holding the delimiter, '"', CR or LF is enclosed in '"' with
#   '"' doubled);
# - the start is shifted from UTC by the zone's offset, taken from a CASE over the offset periods
#   (daylight saving) that cover the selected rows, computed once with zoneinfo; microseconds truncated;
# - the labels are the user's language, quoted beforehand in Python; an unknown value is written raw;
# - the cost is formatted by Python ("%.2f" of the float: the same rounding as the screen).
# The ORDER BY sits on the outer query, so each database picks its plan: for a whole tenant SQLite
# scans the table and sorts (temp files, constant memory) rather than visit a million rows in index
# order, one random page each. tests/export/ compares the bytes with a plain reference formatter.


def _formula_first() -> list[ColumnElement[str]]:
    return [literal(ch, String) for ch in sorted(FORMULA_FIRST)]


def zone_periods(timezone: str, lo: dt.datetime, hi: dt.datetime,
                 step: dt.timedelta = dt.timedelta(hours=6)) -> list[tuple[dt.datetime, int]]:
    """The periods of constant UTC offset of a zone between two naive UTC times: a list of (naive UTC
    start, offset in seconds), the first starting at lo. Found by stepping (6 hours: no zone changes
    its offset twice within 6 hours) and bisecting to the second."""
    tz = ZoneInfo(timezone)

    def offset(t: int) -> int:
        return int((dt.datetime.fromtimestamp(t, tz).utcoffset() or dt.timedelta(0)).total_seconds())

    epoch = dt.datetime(1970, 1, 1)
    a = int((lo - epoch).total_seconds() // 1)
    end = int((hi - epoch).total_seconds() // 1) + 1
    stride = int(step.total_seconds())
    current = offset(a)
    periods = [(lo, current)]
    while a < end:
        b = min(a + stride, end)
        if offset(b) == current:
            a = b
            continue
        while b - a > 1:  # offset(a) == current != offset(b)
            m = (a + b) // 2
            if offset(m) == current:
                a = m
            else:
                b = m
        current = offset(b)
        periods.append((epoch + dt.timedelta(seconds=b), current))
        a = b
    return periods


def csv_cell(value: str, delimiter: str) -> str:
    """One cell as csv.writer (QUOTE_MINIMAL, lineterminator CRLF) writes it."""
    if delimiter in value or '"' in value or "\r" in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _export_bounds(db: Session, q: CallQuery) -> tuple[dt.datetime, dt.datetime] | None:
    """First and last start time the export can meet: the filters without the search term, so both
    are read from an index ((tenant_id|user_id, started_at))."""
    conds = filters(CallQuery(user_id=q.user_id, tenant_id=q.tenant_id, timezone=q.timezone, start=q.start,
                              end=q.end))
    first = db.scalar(select(CallRecord.started_at).where(*conds).order_by(CallRecord.started_at).limit(1))
    last = db.scalar(select(CallRecord.started_at).where(*conds).order_by(CallRecord.started_at.desc()).limit(1))
    if first is None or last is None:
        return None
    # Rows ingested while the export runs are the newest: cover up to a day from now as well.
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return first, max(last, now) + dt.timedelta(days=1)


def export_statement(dialect: str, q: CallQuery, labels: dict[str, str], delimiter: str,
                     periods: Sequence[tuple[dt.datetime, int]],
                     window: tuple[dt.datetime | None, dt.datetime | None] = (None, None)) -> Select[tuple[str, float]]:
    """SELECT line_without_cost, cost: every row the filters select, in start order (only those that
    started within `window`, [from, to), when given).

    An inner query computes each cell once (OFFSET 0 keeps both databases from merging it into the
    outer one, which would repeat the expressions); the outer one joins the cells and quotes the rare
    rows that need it."""
    c = CallRecord
    sqlite = dialect == "sqlite"

    def lit(value: str) -> ColumnElement[str]:
        return literal(value, String)

    def formula(x: Any) -> ColumnElement[bool]:
        """Whether x starts with a formula character. The formula characters all sort below "A" and
        outside "0"-"9": two byte-wise comparisons clear nearly every cell (names, numbers) before the
        first-character test."""
        first = func.substr(x, 1, 1).in_(_formula_first())
        if sqlite:  # BINARY collation: byte order
            return and_(x < lit("A"), or_(x < lit("0"), x >= lit(":")), first)
        return first

    def inert(x: Any) -> ColumnElement[str]:
        return case((formula(x), lit("'")), else_=lit("")) + x

    # The caller cell starts with the name's first character, or the number's when there is no name.
    caller = case((formula(case((c.caller_name != "", c.caller_name), else_=c.caller_number)), lit("'")),
                  else_=lit("")) + case(
        (c.caller_name != "", c.caller_name + lit(" <") + c.caller_number + lit(">")), else_=c.caller_number)

    if sqlite:
        offsets: list[Any] = [f"{off:+d} seconds" for _start, off in periods] or ["+0 seconds"]
    else:
        offsets = [dt.timedelta(seconds=off) for _start, off in periods] or [dt.timedelta(0)]
    shift: ColumnElement[Any] = literal(offsets[-1])
    if len(offsets) > 1:
        shift = case(*((c.started_at < start, literal(off)) for (start, _o), off in zip(
            periods[1:], offsets, strict=False)), else_=literal(offsets[-1]))
    d = case((c.duration_seconds > 0, c.duration_seconds), else_=0)
    started: ColumnElement[str]
    duration: ColumnElement[str]
    if sqlite:
        # substr: SQLite rounds a time's fraction to milliseconds (…59.9996 would become the next second).
        started = func.datetime(func.substr(c.started_at, 1, 19), shift)
        duration = func.printf("%02d:%02d:%02d", d.op("/")(3600), d.op("/")(60) % 60, d % 60)
    else:
        started = func.to_char(c.started_at + shift, "YYYY-MM-DD HH24:MI:SS")

        def two(n: ColumnElement[Any]) -> ColumnElement[str]:
            return case((n < 10, lit("0")), else_=lit("")) + cast(n, String)

        duration = two(d.op("/")(3600)) + lit(":") + two(d.op("/")(60) % 60) + lit(":") + two(d % 60)

    special = (delimiter, '"', "\r", "\n")

    def has_special(x: ColumnElement[str]) -> ColumnElement[bool]:
        find = func.instr if sqlite else func.strpos
        return or_(*(find(x, lit(ch)) > 0 for ch in special))

    def quoted(x: ColumnElement[str]) -> ColumnElement[str]:
        return case((has_special(x), lit('"') + func.replace(x, lit('"'), lit('""')) + lit('"')), else_=x)

    def label(col: Any, keys: Sequence[str], prefix: str = "") -> ColumnElement[str]:
        whens = [(col == k, lit(csv_cell(labels.get(prefix + k, k), delimiter))) for k in keys]
        return case(*whens, else_=quoted(col))

    inner = (select(c.id, c.started_at, caller.label("c1"), inert(c.caller_number).label("c2"),
                    inert(c.dialed_number).label("c3"), inert(c.callee).label("c4"),
                    (c.caller_name + c.caller_number + c.dialed_number + c.callee).label("raw"),
                    (started + lit(delimiter) + duration + lit(delimiter)
                     + label(c.status, ("answered", "no_answer", "busy", "failed")) + lit(delimiter)
                     + label(c.recording_status, ("none", "recorded"), "rec_") + lit(delimiter)
                     + label(c.call_type, ("incoming", "outgoing", "internal")) + lit(delimiter)).label("rest"),
                    cast(func.coalesce(c.cost, 0), Float).label("cost"))
             .where(*filters(q), *_window_conds(window)).offset(0).subquery("r"))
    r = inner.c
    sep = lit(delimiter)
    cells = (r.c1 + sep + r.c2 + sep + r.c3 + sep + r.c4)
    each = quoted(r.c1) + sep + quoted(r.c2) + sep + quoted(r.c3) + sep + quoted(r.c4)
    line = case((has_special(r.raw), each), else_=cells) + sep + r.rest
    return select(line.label("line"), r.cost).order_by(r.started_at, r.id)


_cursor_numbers = itertools.count(1)


def _fetch_chunks(conn: Connection, stmt: Any, chunk_rows: int,
                  params_in: dict[str, Any] | None = None) -> Iterator[list[Any]]:
    """The statement's rows as the DB-API cursor returns them, chunk_rows at a time: a named
    (server-side) cursor on PostgreSQL, SQLite's lazy stepping. SQLAlchemy's Row objects and its
    server-side cursor plumbing cost more than the whole formatting on a million rows; the statement
    is still compiled by SQLAlchemy (or given compiled, with `params_in` for its bind parameters), with
    its bind processors applied (SQLite's stored datetime text)."""
    compiled: Any = stmt if isinstance(stmt, Compiled) else stmt.compile(dialect=conn.dialect)
    processors: dict[str, Any] = dict(compiled._bind_processors)
    values = {key: processors[key](value) if key in processors else value
              for key, value in compiled.construct_params(params_in).items()}
    params: Any = [values[key] for key in compiled.positiontup or ()] if compiled.positional else values
    dbapi: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":  # a name of its own: an abandoned export's cursor may linger
        cursor = dbapi.cursor(name=f"calllog_export_{next(_cursor_numbers)}")
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(compiled.string, params)
        while rows := cursor.fetchmany(chunk_rows):
            yield rows
    finally:
        cursor.close()


def _window_conds(window: tuple[dt.datetime | None, dt.datetime | None]) -> list[ColumnElement[bool]]:
    """The window's conditions, its bounds as the bind parameters window_from and window_to (so that
    one compiled statement serves every window of the same shape)."""
    lo, hi = window
    start = bindparam("window_from", lo, type_=CallRecord.started_at.type)
    if hi is None:
        # The open-ended rest, most of the rows: coalesce() keeps the planner off the start-time index,
        # which would read the rows in index order at one random page each; a scan and a sort is faster.
        return [func.coalesce(CallRecord.started_at, CallRecord.started_at) >= start] if lo is not None else []
    return ([CallRecord.started_at >= start] if lo is not None else []) + [
        CallRecord.started_at < bindparam("window_to", hi, type_=CallRecord.started_at.type)]


# The export reads the first rows in a few windows of start times, each WINDOW_GROWTH times larger than
# the one before, from the start-time index (the first is small, so the first rows leave within a
# fraction of a second whatever the size), then the rest in one statement (a scan and one sort): rows
# read in index order cost several times a scanned row, so only about the first 25,000 are.
FIRST_WINDOW_ROWS = 5_000
WINDOW_GROWTH = 4
INDEX_WINDOWS = 2  # 5,000 + 20,000 rows


def export_windows(db: Session, q: CallQuery, first_rows: int = FIRST_WINDOW_ROWS,
                   windows: int = INDEX_WINDOWS) -> Iterator[tuple[dt.datetime | None, dt.datetime | None]]:
    """Consecutive [from, to) ranges of start times that together cover every row, in order: `windows`
    bounded ones holding about first_rows, first_rows * WINDOW_GROWTH, ... of the rows the scope and
    dates select (the search term aside, so that every bound is read from an index: (tenant_id|user_id,
    started_at, id)), then the open-ended rest. Rows with one start time never straddle two windows.
    Each bound is read when the previous window is done: rows added meanwhile land in a window still
    to come, or the open-ended last one."""
    conds = filters(CallQuery(user_id=q.user_id, tenant_id=q.tenant_id, timezone=q.timezone, start=q.start,
                              end=q.end))
    lo: dt.datetime | None = None
    rows = first_rows
    for _n in range(windows):
        stmt = select(CallRecord.started_at).where(*conds, *([CallRecord.started_at >= lo] if lo else []))
        hi = db.scalar(stmt.order_by(CallRecord.started_at).offset(rows).limit(1))
        if hi is not None and hi == lo:  # more rows than `rows` share this start time: take them all
            hi = db.scalar(select(func.min(CallRecord.started_at)).where(*conds, CallRecord.started_at > lo))
        if hi is None:
            break
        yield lo, hi
        lo, rows = hi, rows * WINDOW_GROWTH
    yield lo, None


def export_csv(db: Session, q: CallQuery, header: Sequence[str], labels: dict[str, str], delimiter: str,
               chunk_rows: int = 10000, first_window: int = FIRST_WINDOW_ROWS,
               windows: int = INDEX_WINDOWS) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (Excel needs it to read accents), one header row in the user's
    language, then every selected row in start order, streamed in chunks of at most chunk_rows rows so
    memory stays constant whatever the size. The rows are read window by window of start times
    (export_windows): the first rows leave after the first (small) window's sort, not after a sort of
    everything."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerow(header)
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    bounds = _export_bounds(db, q)
    if bounds is None:
        return
    periods = zone_periods(q.timezone, *bounds)
    conn = db.connection()
    shapes: dict[tuple[bool, bool], Compiled] = {}  # a statement is compiled once per window shape
    for window in export_windows(db, q, first_window, windows):
        shape = (window[0] is not None, window[1] is not None)
        if shape not in shapes:
            shapes[shape] = export_statement(conn.dialect.name, q, labels, delimiter, periods, window).compile(
                dialect=conn.dialect)
        given = {k: v for k, v in (("window_from", window[0]), ("window_to", window[1])) if v is not None}
        for rows in _fetch_chunks(conn, shapes[shape], chunk_rows, given):
            # The cost is the one cell Python formats: "%.2f" of the float rounds like the screen does.
            yield "".join([f"{line}{cost:.2f}\r\n" for line, cost in rows]).encode("utf-8")
