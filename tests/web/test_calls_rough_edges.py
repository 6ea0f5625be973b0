"""Détails d'appels, Appels en cours and the home page (issue 25): click-to-call dials the other party,
live calls show names and the user's time zone, the chart has a slot for every day and appears without
a date filter, the "missed calls" tile opens the missed calls, and a bad date never exports everything."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import json
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clusterpbx.control.models import CallRecord, LiveCall, NodeKind, PbxNode, utcnow


def text(resp):
    return htmllib.unescape(resp.get_data(as_text=True))


def record(db, user, started, **kw):
    values = {"tenant_id": user.tenant_id, "user_id": user.id, "pbx_call_id": f"{user.id}-{started}-{len(kw)}",
              "caller_name": "Client", "caller_number": "5145550199", "dialed_number": "201", "callee": "201",
              "started_at": started, "duration_seconds": 40, "billable_seconds": 38, "status": "answered",
              "call_type": "incoming", "cost": Decimal("0")}
    values.update(kw)
    row = CallRecord(**values)
    db.add(row)
    db.commit()
    return row


@pytest.fixture
def me(world):
    return world.user(world.tenant(timezone="America/Montreal"), extension="201", first_name="Marie",
                      last_name="Tremblay")


def c2c_numbers(html):
    return re.findall(r'name="number" value="([^"]*)"', html)


def test_click_to_call_on_a_received_call_dials_the_caller(client, auth, db, me):
    record(db, me, dt.datetime(2026, 9, 1, 16, 0), pbx_call_id="in")
    record(db, me, dt.datetime(2026, 9, 1, 17, 0), pbx_call_id="out", call_type="outgoing", caller_number="201",
           dialed_number="4385550123", callee="4385550123")
    auth.login(me.email)
    numbers = c2c_numbers(text(client.get("/calls/")))
    assert sorted(numbers) == ["4385550123", "5145550199"]
    assert "201" not in numbers  # never "call 201" from 201


def test_live_calls_show_names_and_the_users_time_zone(client, auth, db, world, me):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    colleague = world.user(me.tenant, extension="202", first_name="JP", last_name="Vallée")
    started = utcnow().replace(microsecond=0) - dt.timedelta(seconds=20)
    db.add(LiveCall(node_id=node.id, tenant_id=me.tenant_id, pbx_call_id="c1", started_at=started,
                    source_number="201", destination_number="202", source_uri="sip:201@pbx.example",
                    destination_uri="sip:202@pbx.example", state="answered"))
    db.commit()
    auth.login(me.email)
    local = started.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("America/Montreal")).strftime("%Y-%m-%d %H:%M:%S")
    html = text(client.get("/live/"))
    assert "Marie Tremblay (201)" in html and f"{colleague.display_name} (202)" in html
    assert "sip:201@pbx.example" not in html
    assert local in html
    resp = client.get("/live/stream", buffered=False)
    received = ""
    for chunk in resp.response:  # up to the first list of calls
        received += chunk.decode()
        if re.search(r"event: calls\ndata: .*\n\n", received):
            break
    resp.close()
    data = re.search(r"event: calls\ndata: (.*)\n", received)
    assert data, received
    (call,) = json.loads(data.group(1))
    # The live update carries the same text as the page: the user's zone, not the browser's (or UTC).
    assert call["started_text"] == local
    assert (call["source"], call["destination"]) == ("Marie Tremblay (201)", "JP Vallée (202)")


def test_chart_has_a_slot_for_every_day(client, auth, db, me):
    record(db, me, dt.datetime(2026, 9, 3, 16, 0))
    record(db, me, dt.datetime(2026, 9, 3, 17, 0), pbx_call_id="b", status="no_answer")
    auth.login(me.email)
    html = text(client.get("/calls/?start=2026-09-01&end=2026-09-07"))
    assert html.count('<g class="day"') == 7
    assert "2026-09-01 : 0 pris, 0 manqués" in html and "2026-09-03 : 1 pris, 1 manqués" in html
    # The two ends are labelled with the period's first and last days.
    assert re.search(r'class="axis">2026-09-01<', html) and re.search(r'class="axis"[^>]*>2026-09-07<', html)


def test_chart_without_a_date_filter_covers_the_last_month(client, auth, db, me):
    today = dt.datetime.now(ZoneInfo("America/Montreal")).date()
    record(db, me, utcnow() - dt.timedelta(minutes=5))
    auth.login(me.email)
    html = text(client.get("/calls/"))
    assert "<svg" in html and html.count('<g class="day"') == 31
    assert f'data-day="{today.isoformat()}"' in html


def test_home_missed_calls_tile_opens_the_missed_calls(client, auth, db, me):
    now = utcnow() - dt.timedelta(minutes=2)
    record(db, me, now, pbx_call_id="missed", status="no_answer", caller_number="4385550000")
    record(db, me, now, pbx_call_id="answered", caller_number="5145550199")
    record(db, me, now, pbx_call_id="placed", status="no_answer", call_type="outgoing", caller_number="201",
           dialed_number="5145559999")
    auth.login(me.email)
    home = client.get("/home").get_data(as_text=True)
    links = re.findall(r'<a href="([^"]*)"><strong>(\d+)</strong> appels manqués', home)
    assert len(links) == 1
    href, count = htmllib.unescape(links[0][0]), int(links[0][1])
    assert count == 1 and "missed=1" in href
    html = text(client.get(href))
    assert "1 appel" in html and "4385550000" in html and "5145559999" not in html
    assert 'name="missed" value="1" checked' in html


def test_export_with_a_bad_date_exports_nothing_and_says_why(client, auth, db, me):
    record(db, me, dt.datetime(2026, 9, 1, 16, 0))
    auth.login(me.email)
    resp = client.get("/calls/export.csv?start=abc")
    assert resp.status_code == 302 and resp.mimetype != "text/csv"
    html = text(client.get(resp.headers["Location"]))
    assert "AAAA-MM-JJ" in html


def test_reversed_dates_are_explained(client, auth, db, me):
    record(db, me, dt.datetime(2026, 9, 1, 16, 0))
    auth.login(me.email)
    html = text(client.get("/calls/?start=2026-09-30&end=2026-09-01"))
    assert "La date de début (2026-09-30) est après la date de fin (2026-09-01)" in html
    resp = client.get("/calls/export.csv?start=2026-09-30&end=2026-09-01")
    assert resp.status_code == 302


def test_api_tokens_page_uses_the_users_zone_and_date_format(client, auth, db, me):
    from clusterpbx.control.models import ApiToken
    from tests.api.conftest import user_token

    user_token(db, me, "laptop")
    row = db.query(ApiToken).filter_by(user_id=me.id).one()
    row.created_at = dt.datetime(2026, 7, 1, 3, 30)  # UTC: still June 30 in Montréal
    db.commit()
    auth.login(me.email)
    html = text(client.get("/api-tokens/"))
    assert "2026-06-30 23:30:00" in html and " UTC" not in html
