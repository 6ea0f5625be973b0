"""Détails d'appels: only one's own calls, time-zone-exact date filters, search with metacharacters,
sorting, keyset pages, a CSV that is inert in a spreadsheet, and click-to-call through the daemon."""

from __future__ import annotations

import csv
import datetime as dt
import html as htmllib
import io
from decimal import Decimal

import pytest

from clusterpbx.control import calllog
from clusterpbx.control.models import CallRecord


def page(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


def add(db, user, n, start, **kw):
    rows = []
    for i in range(n):
        values = {"tenant_id": user.tenant_id, "user_id": user.id, "pbx_call_id": f"{user.id}-{start}-{i}",
                  "caller_name": "Modulis Test", "caller_number": "55555", "dialed_number": f"514907{i:04d}",
                  "callee": f"514907{i:04d}", "started_at": start + dt.timedelta(minutes=i), "duration_seconds": 40,
                  "billable_seconds": 38, "status": "answered", "call_type": "outgoing", "cost": Decimal("0")}
        values.update(kw)
        rows.append(CallRecord(**values))
    db.add_all(rows)
    db.commit()
    return rows


@pytest.fixture
def montreal_user(world, db):
    tenant = world.tenant(timezone="America/Montreal")
    return world.user(tenant, extension="201")


def test_table_matches_guide_and_only_own_calls(client, auth, db, world, montreal_user):
    other = world.user(montreal_user.tenant, extension="202")
    add(db, montreal_user, 2, dt.datetime(2026, 9, 17, 21, 5))
    add(db, other, 3, dt.datetime(2026, 9, 17, 21, 5), caller_name="Secret Other")
    auth.login(montreal_user.email)
    html = page(client.get("/calls/"))
    for text in ("Appelant", "L'appelant", "Numéro composé", "Appelé", "Début", "Durée", "État",
                 "État enregistrement", "Type d'appel", "Coût utilisateur", "Exporter",
                 "Date de début (00h00):", "Date de fin (23h59):", "Modulis Test <55555>", "00:00:40",
                 "Appel pris", "Appel non enregistré", "Sortant", "0.00", "2 appels"):
        assert text in html, text
    assert "Secret Other" not in html
    # 21:05 UTC is 17:05 in Montréal (EDT), as the guide's sample shows local times.
    assert "2026-09-17 17:05:00" in html


def test_date_filters_in_user_time_zone_including_23_59(client, auth, db, montreal_user):
    # 2026-11-28 04:59 UTC is 23:59 on the 27th in Montréal; 05:00 UTC is the 28th.
    add(db, montreal_user, 1, dt.datetime(2026, 11, 28, 4, 59), pbx_call_id="late", callee="late-call")
    add(db, montreal_user, 1, dt.datetime(2026, 11, 28, 5, 0), pbx_call_id="next", callee="next-day")
    add(db, montreal_user, 1, dt.datetime(2026, 11, 27, 5, 0), pbx_call_id="first", callee="first-minute")
    auth.login(montreal_user.email)
    html = page(client.get("/calls/?start=2026-11-27&end=2026-11-27"))
    assert "late-call" in html and "first-minute" in html and "next-day" not in html


def test_daylight_saving_day_is_23_hours(db, montreal_user):
    # 2026-03-08: clocks jump from 02:00 to 03:00 in Montréal.
    q = calllog.CallQuery(user_id=montreal_user.id, tenant_id=montreal_user.tenant_id, timezone="America/Montreal",
                          start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 8))
    lo, hi = q.utc_range()
    assert (hi - lo) == dt.timedelta(hours=23)
    assert lo == dt.datetime(2026, 3, 8, 5, 0)


@pytest.mark.parametrize("term", ["%", "_", "' OR 1=1 --", "\\", "<script>"])
def test_search_metacharacters_are_literal(client, auth, db, montreal_user, term):
    add(db, montreal_user, 3, dt.datetime(2026, 9, 1, 12, 0))
    add(db, montreal_user, 1, dt.datetime(2026, 9, 2, 12, 0), caller_name=f"x{term}y", pbx_call_id="meta")
    auth.login(montreal_user.email)
    resp = client.get("/calls/", query_string={"q": term})
    assert resp.status_code == 200
    assert "1 appel" in page(resp)


def test_hostile_caller_is_inert_in_page_and_csv(client, auth, db, montreal_user):
    add(db, montreal_user, 1, dt.datetime(2026, 9, 1, 12, 0), caller_name='<script>alert("x")</script>',
        caller_number="=HYPERLINK(\"http://evil\")", callee="+15145550000", dialed_number="@SUM(A1)")
    auth.login(montreal_user.email)
    raw = client.get("/calls/").get_data(as_text=True)
    assert "<script>alert" not in raw and "&lt;script&gt;" in raw
    body = client.get("/calls/export.csv").data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:3] == ["Appelant", "L'appelant", "Numéro composé"]
    data = rows[1]
    assert data[1].startswith("'=") and data[2].startswith("'@") and data[3].startswith("'+")
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in data)


def test_csv_in_english_uses_commas_and_english_header(client, auth, db, world):
    user = world.user(world.tenant(), extension="201", language="en")
    add(db, user, 3, dt.datetime(2026, 9, 1, 12, 0))
    auth.login(user.email, language="en")
    text = client.get("/calls/export.csv").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "Caller" and len(rows) == 4 and rows[1][6] == "Call answered"


def test_export_of_empty_selection_has_only_the_header(client, auth, montreal_user):
    auth.login(montreal_user.email)
    body = client.get("/calls/export.csv?start=2030-01-01").data.decode("utf-8-sig")
    assert body.count("\r\n") == 1


def test_keyset_pages_cover_everything_once(client, auth, db, montreal_user):
    add(db, montreal_user, 120, dt.datetime(2026, 9, 1, 12, 0), duration_seconds=10)
    seen = []
    q = calllog.CallQuery(user_id=montreal_user.id, tenant_id=montreal_user.tenant_id, timezone="UTC",
                          sort="duration", descending=False, page_size=25)
    while True:
        p = calllog.page(db, q)
        seen += [r.id for r in p.rows]
        if not p.next_cursor:
            break
        q.cursor = p.next_cursor
    assert len(seen) == 120 == len(set(seen))
    auth.login(montreal_user.email)
    first = page(client.get("/calls/?sort=cost&dir=asc"))
    assert "Suivant" in first and "120 appels" in first


def test_forged_cursor_is_refused_cleanly(client, auth, montreal_user, db):
    add(db, montreal_user, 2, dt.datetime(2026, 9, 1, 12, 0))
    auth.login(montreal_user.email)
    for bad in ("!!!", "WyJ4IiwgMV0", "W251bGwsICJ4Il0"):
        resp = client.get(f"/calls/?after={bad}")
        assert resp.status_code == 200 and "plus valide" in page(resp)


def test_chart_shown_for_a_period(client, auth, db, montreal_user):
    add(db, montreal_user, 2, dt.datetime(2026, 9, 1, 16, 0))
    add(db, montreal_user, 1, dt.datetime(2026, 9, 2, 16, 0), status="no_answer", pbx_call_id="m")
    auth.login(montreal_user.email)
    html = page(client.get("/calls/?start=2026-09-01&end=2026-09-30"))
    assert "<svg" in html
    # One bar per local day, with its figures (the add() helper makes outgoing calls).
    assert "2026-09-01 : 2 pris, 0 manqués, 0 entrants, 2 sortants" in html
    assert "2026-09-02 : 0 pris, 1 manqués, 0 entrants, 1 sortants" in html
    # Every day of the period has its slot: days without calls are days with zero.
    assert html.count('<g class="day"') == 30
    assert "2026-09-17 : 0 pris, 0 manqués, 0 entrants, 0 sortants" in html


def test_another_users_recording_is_404(app, client, auth, db, world, montreal_user):
    other = world.user(montreal_user.tenant, extension="202")
    (rec,) = add(db, other, 1, dt.datetime(2026, 9, 1, 12, 0), recording_status="recorded",
                 recording_path="x.wav")
    montreal_user.tenant.allow_recording_download = True
    db.commit()
    auth.login(montreal_user.email)
    assert client.get(f"/calls/{rec.id}/recording").status_code == 404
    assert client.get("/calls/999999/recording").status_code == 404


def test_click_to_call_without_daemon_says_so(client, auth, db, montreal_user):
    from clusterpbx.control.models import DestinationGroup, DestinationPrefix

    local = DestinationGroup(tenant_id=montreal_user.tenant_id, name="Montréal")
    db.add(local)
    db.flush()
    db.add(DestinationPrefix(group_id=local.id, prefix="514"))
    montreal_user.destination_groups.append(local)
    db.commit()
    auth.login(montreal_user.email)
    token = auth.csrf("/calls/")
    resp = client.post("/calls/call", data={"csrf_token": token, "number": "5149079050"}, follow_redirects=True)
    assert "injoignable" in page(resp) or "ne peut pas être joint" in page(resp)


def test_own_recording_plays_and_downloads(client, auth, db, world, montreal_user, tmp_path):
    from clusterpbx.control.models import NodeKind, PbxNode

    spool = tmp_path / "spool"
    wav = spool / "monitor" / "clusterpbx" / "acme" / "out-1.wav"
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF....WAVE")
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038, spool_path=str(spool))
    db.add(node)
    db.flush()
    montreal_user.tenant.allow_recording_download = True
    (rec,) = add(db, montreal_user, 1, dt.datetime(2026, 9, 1, 12, 0), recording_status="recorded",
                 recording_path="clusterpbx/acme/out-1.wav", node_id=node.id)
    (escape,) = add(db, montreal_user, 1, dt.datetime(2026, 9, 1, 13, 0), recording_status="recorded",
                    recording_path="../../../etc/passwd", node_id=node.id, pbx_call_id="esc")
    auth.login(montreal_user.email)
    assert "Écouter" in page(client.get("/calls/"))
    played = client.get(f"/calls/{rec.id}/recording")
    assert played.status_code == 200 and played.data == b"RIFF....WAVE"
    assert "attachment" in client.get(f"/calls/{rec.id}/recording?download=1").headers["Content-Disposition"]
    assert client.get(f"/calls/{escape.id}/recording").status_code == 404
    montreal_user.tenant.allow_recording_download = False
    db.commit()
    assert client.get(f"/calls/{rec.id}/recording").status_code == 404
