"""Issue 24: a long export shows its progress. The page carries the progress box (in the user's language)
and export.js; /calls/export/count says how many rows the export with the same filters and scope writes,
and never counts another user's or another tenant's calls."""

from __future__ import annotations

import csv
import datetime as dt
import io

from clusterpbx.control.models import Role

from .test_calls import add, page


def rows_of(body: bytes) -> int:
    return len(list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))) - 1


def test_the_count_matches_the_export_in_every_scope(client, auth, db, world):
    tenant = world.tenant(timezone="America/Montreal")
    me = world.user(tenant, extension="201")
    colleague = world.user(tenant, extension="202")
    admin = world.user(tenant, extension="203", role=Role.TENANT_ADMIN)
    stranger = world.user(world.tenant(domain="other.test"), extension="201")
    add(db, me, 4, dt.datetime(2026, 9, 1, 12, 0), caller_name="Jean Roy")
    add(db, me, 2, dt.datetime(2026, 10, 1, 12, 0))
    add(db, colleague, 3, dt.datetime(2026, 9, 1, 12, 0))
    add(db, stranger, 5, dt.datetime(2026, 9, 1, 12, 0))
    auth.login(me.email)
    for args in ("", "?start=2026-09-01&end=2026-09-30", "?q=roy", "?scope=tenant", "?start=2030-01-01"):
        count = client.get(f"/calls/export/count{args}").get_json()["rows"]
        assert count == rows_of(client.get(f"/calls/export.csv{args}").data), args
    assert client.get("/calls/export/count?scope=tenant").get_json() == {"rows": 6}  # a user: their own
    auth.logout()
    auth.login(admin.email)
    assert client.get("/calls/export/count?scope=tenant").get_json() == {"rows": 9}  # not the other tenant's
    assert rows_of(client.get("/calls/export.csv?scope=tenant").data) == 9
    # Dates the page refuses: no count of everything.
    assert client.get("/calls/export/count?start=2026-10-01&end=2026-09-01").get_json() == {"rows": 0}


def test_the_page_has_the_progress_box_in_french_and_english(client, auth, db, world):
    fr = world.user(world.tenant(), extension="201")
    auth.login(fr.email)
    html = page(client.get("/calls/?q=x"))
    assert 'id="export-progress"' in html and "export.js" in html
    assert 'data-count="/calls/export/count?q=x"' in html
    assert "Export en cours : {done} appels sur {total}" in html and "Enregistrer le fichier" in html
    en = world.user(fr.tenant, extension="202", language="en")
    auth.logout()
    auth.login(en.email, language="en")
    html = page(client.get("/calls/"))
    assert "Exporting: {done} of {total} calls" in html
    js = client.get("/static/export.js")
    assert js.status_code == 200
    assert b"data-count" in js.data


def test_the_count_needs_a_session(client):
    resp = client.get("/calls/export/count")
    assert resp.status_code in (302, 401)
