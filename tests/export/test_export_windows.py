"""A long export starts at once (issue 24): calllog.export_csv reads the rows window by window of start
times, so the first rows leave after the first window's sort, not after a sort of every row. The
windows must join without losing, repeating or reordering a row (start times shared across a window's
edge included), and the first chunk must come long before the last."""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from sqlalchemy import insert

from clusterpbx.control import calllog
from clusterpbx.control.models import CallRecord

from .test_csv_export import HEADER, LABELS, add, reference_csv, tenant_query, user  # noqa: F401 - fixture


def test_windows_join_without_loss_repeat_or_reorder(db, world, user):  # noqa: F811
    other = world.user(user.tenant, extension="202")
    rng = random.Random(11)
    base = dt.datetime(2026, 3, 1)
    for i in range(60):
        add(db, rng.choice((user, other)), base + dt.timedelta(minutes=rng.randrange(60 * 24 * 30)),
            caller_name=rng.choice(["Roy", "Côté", "=x", "a;b"]), callee=f"n{i}")
    for _ in range(9):  # nine calls in one second: more than a small window holds
        add(db, user, base + dt.timedelta(days=3), callee="same second")
    db.commit()
    queries = [tenant_query(user), tenant_query(user, search="roy"),
               calllog.CallQuery(user_id=user.id, tenant_id=user.tenant_id, timezone="America/Montreal"),
               tenant_query(user, "Europe/Paris", start=dt.date(2026, 3, 4), end=dt.date(2026, 3, 20))]
    for n, q in enumerate(queries):
        want = reference_csv(db, q, HEADER, LABELS, ";")
        for first, count in ((1, 3), (2, 2), (1, 0), (1000, 3))[n % 2:]:
            got = b"".join(calllog.export_csv(db, q, HEADER, LABELS, ";", first_window=first, windows=count))
            assert got == want, (q, first, count)
    windows = list(calllog.export_windows(db, tenant_query(user), 1, 3))
    assert windows[0][0] is None and windows[-1][1] is None
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))  # contiguous
    assert len(windows) == 4  # 1, 4 and 16 rows (or more, for calls sharing a start), then the rest


def _many(db, user, count: int) -> None:  # noqa: F811
    rng = random.Random(4)
    start = dt.datetime(2025, 1, 1)
    rows = [{"tenant_id": user.tenant_id, "user_id": user.id, "pbx_call_id": f"m{n}", "caller_name": "Jean Roy",
             "caller_number": f"514{rng.randrange(10**7):07d}", "dialed_number": "15145550199", "callee": "Marie",
             "started_at": start + dt.timedelta(seconds=rng.randrange(365 * 86400)), "duration_seconds": 42,
             "billable_seconds": 42, "status": "answered", "recording_status": "none", "call_type": "outgoing",
             "cost": Decimal("0.02")} for n in range(count)]
    for i in range(0, count, 10000):
        db.execute(insert(CallRecord.__table__), rows[i:i + 10000])
    db.commit()


def test_first_rows_leave_long_before_the_last(db, user):  # noqa: F811
    """60,000 rows: the first chunk of rows is the first window's (FIRST_WINDOW_ROWS at most), read and
    sorted alone; it arrives in a small part of the whole export's time, and the others follow in
    growing windows."""
    count = 60_000
    _many(db, user, count)
    q = tenant_query(user)
    t0 = time.perf_counter()
    chunks = calllog.export_csv(db, q, HEADER, LABELS, ";")
    assert next(chunks).count(b"\r\n") == 1  # the header row
    first = next(chunks)
    first_s = time.perf_counter() - t0
    rest = sum(c.count(b"\r\n") for c in chunks)
    total_s = time.perf_counter() - t0
    assert 0 < first.count(b"\r\n") <= calllog.FIRST_WINDOW_ROWS
    assert first.count(b"\r\n") + rest == count
    assert first_s < total_s / 4, (first_s, total_s)
    sizes = []
    for lo, hi in calllog.export_windows(db, q):
        stmt = CallRecord.__table__.select().where(CallRecord.tenant_id == user.tenant_id,
                                                   *calllog._window_conds((lo, hi)))
        sizes.append(len(db.execute(stmt).all()))
    # 5,000 and 20,000 rows from the index, then the rest.
    assert [n // calllog.FIRST_WINDOW_ROWS for n in sizes] == [1, 4, 7]


def test_first_rows_leave_before_the_other_windows_are_read(db, user):  # noqa: F811
    """On SQLite, the statements the database runs until the first rows are out: the bounds, the first
    window's bound and the first window's rows, never a statement over every row."""
    if db.get_bind().dialect.name != "sqlite":
        return
    _many(db, user, 30_000)
    ran: list[str] = []
    raw = db.connection().connection.dbapi_connection
    raw.set_trace_callback(ran.append)
    try:
        chunks = calllog.export_csv(db, tenant_query(user), HEADER, LABELS, ";")
        next(chunks)
        first = next(chunks)
        exports = [s for s in ran if "ORDER BY r.started_at" in s]
        assert len(exports) == 1 and "started_at <" in exports[0]  # one window, bounded above
        assert first.count(b"\r\n") <= calllog.FIRST_WINDOW_ROWS
        assert sum(c.count(b"\r\n") for c in chunks) + first.count(b"\r\n") == 30_000
        assert len([s for s in ran if "ORDER BY r.started_at" in s]) >= 3
    finally:
        raw.set_trace_callback(None)


def test_the_screens_export_streams_its_first_rows_first(client, auth, db, user):  # noqa: F811
    """GET /calls/export.csv?scope=tenant as an administrator: the response is streamed, the header row
    first, then the first window's rows, long before the last rows are read."""
    from clusterpbx.control.models import Role

    user.role = Role.TENANT_ADMIN
    db.commit()
    _many(db, user, 30_000)
    auth.login(user.email)
    resp = client.get("/calls/export.csv?scope=tenant", buffered=False)
    assert resp.status_code == 200 and resp.is_streamed
    chunks = iter(resp.response)
    assert next(chunks).count(b"\r\n") == 1
    first = next(chunks)
    assert 0 < first.count(b"\r\n") <= calllog.FIRST_WINDOW_ROWS
    assert first.count(b"\r\n") + sum(c.count(b"\r\n") for c in chunks) == 30_000
    resp.close()
