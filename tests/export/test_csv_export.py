"""The call-records CSV export (calllog.export_csv) formats rows in SQL per dialect. Every test here
compares its bytes with a straightforward reference formatter (one ORM row at a time, csv.writer,
zoneinfo per row) over the same rows, on SQLite and PostgreSQL: hostile cells, quoting, labels,
durations, costs, daylight-saving edges in several zones, the filters, and chunked streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from clusterpbx.control import calllog
from clusterpbx.control.models import CallRecord

HEADER = ["Appelant", "L'appelant", "Numéro composé", "Appelé", "Début", "Durée", "État",
          "État enregistrement", "Type d'appel", "Coût utilisateur"]
LABELS = {"answered": "Appel pris", "no_answer": "Sans réponse", "busy": "Occupé", "failed": "Échec",
          "incoming": "Entrant", "outgoing": "Sortant", "internal": "Interne",
          "rec_none": "Appel non enregistré", "rec_recorded": "Appel enregistré"}


def reference_csv(db, q: calllog.CallQuery, header, labels, delimiter: str) -> bytes:
    """What the export must produce, written the plain way."""
    tz = ZoneInfo(q.timezone)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(header)

    def inert(cell: str) -> str:
        return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell

    def label(value: str, known: tuple[str, ...], prefix: str = "") -> str:
        return labels.get(prefix + value, value) if value in known else value

    rows = db.scalars(select(CallRecord).where(*calllog.filters(q)).order_by(CallRecord.started_at, CallRecord.id))
    for r in rows:
        caller = f"{r.caller_name} <{r.caller_number}>" if r.caller_name else r.caller_number
        local = r.started_at.replace(tzinfo=dt.UTC).astimezone(tz).replace(tzinfo=None, microsecond=0)
        d = max(0, r.duration_seconds)
        writer.writerow([inert(caller), inert(r.caller_number), inert(r.dialed_number), inert(r.callee),
                         local.strftime("%Y-%m-%d %H:%M:%S"), f"{d // 3600:02d}:{d % 3600 // 60:02d}:{d % 60:02d}",
                         label(r.status, ("answered", "no_answer", "busy", "failed")),
                         label(r.recording_status, ("none", "recorded"), "rec_"),
                         label(r.call_type, ("incoming", "outgoing", "internal")),
                         f"{float(r.cost or 0):.2f}"])
    return buf.getvalue().encode("utf-8")


def export(db, q, labels=LABELS, delimiter=";", **kw) -> bytes:
    return b"".join(calllog.export_csv(db, q, HEADER, labels, delimiter, **kw))


def add(db, user, started, n=[0], **kw):  # noqa: B006 - a counter for unique call ids
    n[0] += 1
    values = {"tenant_id": user.tenant_id, "user_id": user.id, "pbx_call_id": f"c{n[0]}", "caller_name": "Jean Roy",
              "caller_number": "5145550100", "dialed_number": "15145550199", "callee": "Marie Côté",
              "started_at": started, "duration_seconds": 42, "billable_seconds": 42, "status": "answered",
              "recording_status": "none", "call_type": "outgoing", "cost": Decimal("0.02")}
    values.update(kw)
    db.add(CallRecord(**values))


@pytest.fixture
def user(world):
    return world.user(world.tenant(timezone="America/Montreal"), extension="201")


def tenant_query(user, timezone="America/Montreal", **kw):
    return calllog.CallQuery(user_id=None, tenant_id=user.tenant_id, timezone=timezone, **kw)


HOSTILE = ["=HYPERLINK(\"http://evil\")", "+15145550000", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "a;b", "a,b",
           'say "hi"', "line\nbreak", "cr\rinside", "crlf\r\nx", "Côté ☎ 電話", "back\\slash", "", " lead",
           "'quoted", "=", "A", "0", ":colon", "9;", "<tag>", "x'y"]


@pytest.mark.parametrize("delimiter", [";", ","])
def test_hostile_cells_quoting_labels_durations_and_costs_match_reference(db, user, delimiter):
    start = dt.datetime(2026, 9, 1, 12, 0)
    i = 0
    for name in HOSTILE:
        for number in ("5145550100", "=1+1", "", "-5", "a;b\"c"):
            i += 1
            add(db, user, start + dt.timedelta(seconds=i), caller_name=name, caller_number=number,
                dialed_number=HOSTILE[i % len(HOSTILE)], callee=HOSTILE[(i * 7) % len(HOSTILE)])
    for j, (dur, cost) in enumerate([(0, "0"), (-5, "0.005"), (59, "0.015"), (3599, "0.125"), (3600, "0.375"),
                                     (86399, "1.2345"), (359999, "0.0250"), (360000, "999999.9999"),
                                     (7, "0.9950"), (61, "12.3450")]):
        add(db, user, start + dt.timedelta(hours=1, seconds=j), duration_seconds=dur, cost=Decimal(cost))
    # Unknown values are written raw (and quoted when they need it); labels holding the delimiter too.
    add(db, user, start + dt.timedelta(hours=2), status='odd;"state"', recording_status="weird,rec",
        call_type="=cmd")
    add(db, user, start + dt.timedelta(hours=2, seconds=1), status="busy", recording_status="recorded",
        call_type="internal")
    add(db, user, start + dt.timedelta(hours=2, seconds=2), status="no_answer", call_type="incoming")
    add(db, user, start + dt.timedelta(hours=2, seconds=3), status="failed")
    # Same start time: the id breaks the tie.
    for k in range(3):
        add(db, user, start + dt.timedelta(hours=3), callee=f"tie{k}")
    db.commit()
    q = tenant_query(user)
    odd_labels = {**LABELS, "answered": 'Pris; "ok", oui', "rec_none": "non\nenregistré"}
    for labels in (LABELS, odd_labels, {}):
        got = export(db, q, labels, delimiter)
        assert got == reference_csv(db, q, HEADER, labels, delimiter)
    rows = list(csv.reader(io.StringIO(got.decode("utf-8-sig"), newline=""), delimiter=delimiter))
    assert len(rows) == 1 + 120 + 10 + 4 + 3
    for row in rows[1:]:  # nothing a spreadsheet would run
        assert not any(cell[:1] in ("=", "+", "-", "@", "\t", "\r") for cell in row[:4]), row
    assert rows[1][0] == "'=HYPERLINK(\"http://evil\") <5145550100>"
    assert ["00:00:00", "00:00:00", "00:00:59", "00:59:59", "01:00:00", "23:59:59", "99:59:59", "100:00:00"] == [
        r[5] for r in rows[121:129]]
    # The screen's rounding ("%.2f" of the float): 0.015 is 0.01499.. in binary, 0.125 ties to even.
    assert [r[9] for r in rows[121:131]] == ["0.00", "0.01", "0.01", "0.12", "0.38", "1.23", "0.03",
                                              "1000000.00", "0.99", "12.35"]
    assert [r[4] for r in rows[-3:]] == ["2026-09-01 11:00:00"] * 3
    assert [r[3] for r in rows[-3:]] == ["tie0", "tie1", "tie2"]


def transitions(timezone: str, lo: dt.datetime, hi: dt.datetime) -> list[dt.datetime]:
    """UTC instants where the zone's offset changes, found by a plain 15-minute scan (independent of
    calllog.zone_periods) and refined to the second."""
    tz = ZoneInfo(timezone)

    def off(t: dt.datetime) -> dt.timedelta | None:
        return t.replace(tzinfo=dt.UTC).astimezone(tz).utcoffset()

    found = []
    t = lo.replace(microsecond=0)
    while t < hi:
        n = t + dt.timedelta(minutes=15)
        if off(n) != off(t):
            s = t
            while off(s) == off(t):
                s += dt.timedelta(seconds=1)
            found.append(s)
        t = n
    return found


ZONES = ["America/Montreal", "Europe/Paris", "Australia/Lord_Howe", "Australia/Sydney", "Asia/Kathmandu",
         "America/St_Johns", "UTC"]


@pytest.mark.parametrize("timezone", ZONES)
def test_time_zone_and_daylight_saving_edges_match_reference(db, user, timezone):
    lo, hi = dt.datetime(2025, 1, 1), dt.datetime(2027, 1, 1)
    edges = transitions(timezone, lo, hi)
    if timezone not in ("Asia/Kathmandu", "UTC"):
        assert len(edges) == 4, edges
    for t in edges:
        for delta in (-3600, -1, 0, 1, 3600):
            add(db, user, t + dt.timedelta(seconds=delta))
        add(db, user, t - dt.timedelta(microseconds=1))  # 59.999999 is still the old offset, second 59
        add(db, user, t - dt.timedelta(microseconds=400))
    rng = random.Random(8)
    for _ in range(200):
        add(db, user, lo + dt.timedelta(seconds=rng.randrange(2 * 365 * 86400), microseconds=rng.randrange(10**6)))
    db.commit()
    q = tenant_query(user, timezone)
    got = export(db, q)
    assert got == reference_csv(db, q, HEADER, LABELS, ";")
    if timezone == "America/Montreal":
        text = got.decode("utf-8-sig")
        # 2026-03-08 07:00 UTC: clocks jump from 01:59:59 EST to 03:00:00 EDT.
        assert "2026-03-08 01:59:59;" in text and "2026-03-08 03:00:00;" in text
        assert "2026-03-08 02:" not in text
        # 2026-11-01 06:00 UTC: 01:59:59 EDT is followed by 01:00:00 EST (01:00 happens twice).
        assert text.count("2026-11-01 01:00:00;") == 2
        assert text.index("2026-11-01 01:59:59;") < text.rindex("2026-11-01 01:00:00;")


def test_filters_scope_dates_and_search_match_reference(db, world, user):
    tenant = user.tenant
    other_user = world.user(tenant, extension="202")
    stranger = world.user(world.tenant(domain="other.test", timezone="UTC"), extension="201")
    rng = random.Random(3)
    names = ["Roy", "Côté", "100%_sure", "back\\slash", "=evil", "Gagnon;Tremblay"]
    for who in (user, other_user, stranger):
        for _ in range(60):
            add(db, who, dt.datetime(2026, 2, 20) + dt.timedelta(minutes=rng.randrange(60 * 24 * 40)),
                caller_name=rng.choice(names), dialed_number=f"1514{rng.randrange(10**7):07d}")
    db.commit()
    queries = [
        tenant_query(user),
        calllog.CallQuery(user_id=user.id, tenant_id=tenant.id, timezone="America/Montreal"),
        tenant_query(user, start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 8)),
        tenant_query(user, "Europe/Paris", start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 20)),
        calllog.CallQuery(user_id=user.id, tenant_id=tenant.id, timezone="America/Montreal", search="100%"),
        tenant_query(user, search="_"),
        tenant_query(user, search="CÔTÉ"),
        tenant_query(user, search="back\\"),
        tenant_query(user, start=dt.date(2030, 1, 1)),
        calllog.CallQuery(user_id=stranger.id, tenant_id=tenant.id, timezone="UTC"),  # not in this tenant
    ]
    sizes = []
    for q in queries:
        got = export(db, q)
        assert got == reference_csv(db, q, HEADER, LABELS, ";"), q
        sizes.append(got.count(b"\r\n") - 1)
    assert sizes[0] == 120 and sizes[1] == 60 and sizes[-2] == 0 and sizes[-1] == 0
    assert 0 < sizes[2] < 60 and 0 < sizes[3] < 120 and 0 < sizes[4] < 60


def test_export_is_streamed_in_chunks(db, user):
    for i in range(25):
        add(db, user, dt.datetime(2026, 5, 1) + dt.timedelta(minutes=i), callee=f"n{i}")
    db.commit()
    q = tenant_query(user)
    chunks = list(calllog.export_csv(db, q, HEADER, LABELS, ";", chunk_rows=10))
    assert len(chunks) == 4  # the header, then 10 + 10 + 5 rows
    assert [c.count(b"\r\n") for c in chunks] == [1, 10, 10, 5]
    assert b"".join(chunks) == reference_csv(db, q, HEADER, LABELS, ";")
    # An export abandoned half-way (the browser went away) leaves the session usable.
    gen = calllog.export_csv(db, q, HEADER, LABELS, ";", chunk_rows=10)
    next(gen), next(gen)
    gen.close()
    assert export(db, q) == b"".join(chunks)
    # One still open on the same session does not stop another (a cursor name of its own on PostgreSQL).
    pending = calllog.export_csv(db, q, HEADER, LABELS, ";", chunk_rows=10)
    next(pending), next(pending)
    assert export(db, q) == b"".join(chunks)
    assert b"".join(pending) == b"".join(chunks[2:])


def test_empty_selection_is_the_header_alone(db, user):
    got = export(db, tenant_query(user))
    assert got == "\ufeff".encode() + ";".join(HEADER).encode() + b"\r\n"


@pytest.mark.parametrize("timezone", ZONES)
def test_zone_periods_agree_with_zoneinfo(timezone):
    lo, hi = dt.datetime(2024, 11, 27, 0, 1, 1, 500), dt.datetime(2026, 12, 31)
    periods = calllog.zone_periods(timezone, lo, hi)
    assert periods[0][0] == lo
    assert [start for start, _ in periods[1:]] == transitions(timezone, lo, hi)
    tz = ZoneInfo(timezone)
    rng = random.Random(5)
    for _ in range(500):
        t = lo + dt.timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())))
        offset = [off for start, off in periods if start <= t][-1]
        assert dt.timedelta(seconds=offset) == t.replace(tzinfo=dt.UTC).astimezone(tz).utcoffset()
