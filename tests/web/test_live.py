"""Appels en cours: own calls (all the tenant's for an admin), the guide's columns, live updates."""

from __future__ import annotations

import datetime as dt
import json

from clusterpbx.control.models import LiveCall, NodeKind, PbxNode, Role, utcnow
from clusterpbx.web.live import PAGE_ROWS


def setup(db, world):
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant = world.tenant()
    tenant.node_id = node.id
    db.commit()
    me = world.user(tenant, extension="2192")
    other = world.user(tenant, extension="2193")
    now = utcnow()
    db.add_all([
        LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="mine", started_at=now - dt.timedelta(seconds=53),
                 source_number="2192", destination_number="5142842020",
                 source_uri="sip:2192@office.modulis.clusterpbx.com", destination_uri="sip:5142842020@office.modulis",
                 source_ip="199.182.134.109", destination_ip="199.182.133.20", state="answered"),
        LiveCall(node_id=node.id, tenant_id=tenant.id, pbx_call_id="theirs", started_at=now,
                 source_number="2193", destination_number="<b>x</b>", source_uri="sip:2193@x", state="ringing"),
    ])
    db.commit()
    return me, other


def test_user_sees_own_calls_in_guide_format(client, auth, db, world):
    me, _other = setup(db, world)
    auth.login(me.email)
    html = client.get("/live/").get_data(as_text=True)
    # A colleague's number reads as their name; an outside number as the number, not a SIP address.
    for text in ("Début de l'appel", "Durée", "Source", "Destination", "Source IP", "Destination IP",
                 f"{me.display_name} (2192)", "5142842020", "199.182.133.20", "0h0m5"):
        assert text in html, text
    assert "sip:2192@office.modulis.clusterpbx.com" not in html and "sip:5142842020" not in html
    assert "sip:2193@x" not in html and "(2193)" not in html
    assert 'http-equiv="refresh" content="15"' in html


def test_admin_sees_tenant_calls_escaped(client, auth, db, world):
    me, _other = setup(db, world)
    me.role = Role.TENANT_ADMIN
    db.commit()
    auth.login(me.email)
    html = client.get("/live/").get_data(as_text=True)
    assert f"{_other.display_name} (2193)" in html and "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_stream_without_async_server_sends_the_list_and_lets_the_browser_come_back(client, auth, db, world):
    """Plain WSGI (the test client, `gunicorn clusterpbx.web.wsgi:app`): the whole list once, then the
    connection ends and the browser comes back after the guide's 15 s; no thread is held meanwhile."""
    me, _other = setup(db, world)
    auth.login(me.email)
    resp = client.get("/live/stream")
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    text = resp.get_data(as_text=True)
    assert text.startswith("retry: 15000\n\n")
    event = text.split("\n\n")[1]
    assert event.startswith("id: ") and "\nevent: calls\ndata: " in event
    calls = json.loads(event.split("data: ", 1)[1])
    assert [c["id"].split(":", 1)[1] for c in calls] == ["mine"] and calls[0]["source_ip"] == "199.182.134.109"


def test_stream_refused_without_session(client):
    assert client.get("/live/stream").status_code == 401


def test_times_match_the_portal_format_in_the_users_zone(client, auth, db, world):
    """The page formats start times without flask_babel per row, to the same text as the |when filter."""
    from flask_babel import refresh

    from clusterpbx.web.calls import when

    me, _other = setup(db, world)
    me.timezone = "Asia/Kolkata"  # a half-hour offset
    db.commit()
    started = db.query(LiveCall).filter_by(pbx_call_id="mine").one().started_at
    auth.login(me.email)
    html = client.get("/live/").get_data(as_text=True)
    with client.application.test_request_context():
        from flask_login import login_user

        from clusterpbx.web.auth import PortalUser

        login_user(PortalUser(me))  # |when reads the zone of the signed-in user
        refresh()
        expected = when(started)
    assert expected != when_utc(started) and f'<td class="when">{expected}</td>' in html


def when_utc(started):
    return started.strftime("%Y-%m-%d %H:%M:%S")


def test_admin_page_renders_a_capped_list_with_how_many_more_and_a_search(client, auth, db, world):
    me, other = setup(db, world)
    me.role = Role.TENANT_ADMIN
    db.commit()
    node_id = db.query(LiveCall).first().node_id
    now = utcnow()
    db.add_all([LiveCall(node_id=node_id, tenant_id=me.tenant_id, pbx_call_id=f"bulk{i}",
                         started_at=now - dt.timedelta(seconds=100 + i), source_number=f"51455{i:05d}",
                         destination_number="2193", state="answered") for i in range(PAGE_ROWS + 50)])
    db.commit()
    auth.login(me.email)
    html = client.get("/live/").get_data(as_text=True)
    assert html.count("<tr data-id=") == PAGE_ROWS
    total = PAGE_ROWS + 52
    assert f"Affichage des {PAGE_ROWS} appels les plus récents sur {total}" in html
    # The search finds an old call beyond the rendered ones, by number or by a party's name.
    oldest = f"51455{PAGE_ROWS + 49:05d}"
    html = client.get("/live/", query_string={"q": oldest}).get_data(as_text=True)
    assert html.count("<tr data-id=") == 1 and oldest in html and 'id="live-more" aria-live="polite" hidden' in html
    html = client.get("/live/", query_string={"q": other.last_name}).get_data(as_text=True)
    # Every call to or from the colleague, not "mine": the first PAGE_ROWS of them, and how many in all.
    assert html.count("<tr data-id=") == PAGE_ROWS and f"récents sur {total - 1} :" in html
    html = client.get("/live/", query_string={"q": "100%_x"}).get_data(as_text=True)
    assert "<tr data-id=" not in html and "Aucun appel ne correspond à cette recherche." in html


def test_empty_state(client, auth, world):
    auth.login(world.user(world.tenant(), extension="201").email)
    assert "Aucun appel en cours." in client.get("/live/").get_data(as_text=True)


def _event(text: str) -> tuple[str, str, object]:
    """(cursor, event name, data) of the one event after the retry line."""
    event = text.split("\n\n")[1]
    fields = dict(line.split(": ", 1) for line in event.split("\n"))
    return fields["id"], fields["event"], json.loads(fields["data"])


def test_stream_coming_back_with_its_cursor_gets_only_the_change(client, auth, db, world):
    """The guide's 15 s comeback (plain WSGI) with Last-Event-ID: an administrator gets the calls
    changed since, not the company's whole list; an unknown cursor gets the whole list. A user gets
    their own few calls again, never the ids of colleagues' calls that ended meanwhile."""
    me, other = setup(db, world)
    auth.login(other.email)
    cursor, name, calls = _event(client.get("/live/stream").get_data(as_text=True))
    assert name == "calls" and [c["id"].split(":")[1] for c in calls] == ["theirs"]
    db.query(LiveCall).filter_by(pbx_call_id="mine").delete()
    db.commit()
    _c, name, calls = _event(client.get("/live/stream", headers={"Last-Event-ID": cursor}).get_data(as_text=True))
    assert name == "calls" and [c["id"].split(":")[1] for c in calls] == ["theirs"]
    me.role = Role.TENANT_ADMIN
    db.commit()
    auth.logout()
    auth.login(me.email)
    cursor, name, calls = _event(client.get("/live/stream").get_data(as_text=True))
    assert name == "calls" and [c["id"].split(":")[1] for c in calls] == ["theirs"]
    again = client.get("/live/stream", headers={"Last-Event-ID": cursor}).get_data(as_text=True)
    assert again == "retry: 15000\n\n"  # nothing changed: nothing sent
    node_id = db.query(LiveCall).first().node_id
    db.add(LiveCall(node_id=node_id, tenant_id=me.tenant_id, pbx_call_id="new", started_at=utcnow(),
                    source_number="5145550000", destination_number="2192", state="ringing"))
    db.query(LiveCall).filter_by(pbx_call_id="theirs").delete()
    db.commit()
    new_cursor, name, delta = _event(client.get("/live/stream", headers={"Last-Event-ID": cursor})
                                     .get_data(as_text=True))
    assert name == "delta" and int(new_cursor.split(":")[0]) > int(cursor.split(":")[0])
    assert [c["id"].split(":")[1] for c in delta["upsert"]] == ["new"]
    assert delta["remove"] == [f"{node_id}:theirs"]
    for bad in ("999999999", "x", "1:9", "-1", "1" * 40, "1:a"):
        _c, name, calls = _event(client.get("/live/stream", headers={"Last-Event-ID": bad}).get_data(as_text=True))
        assert name == "calls" and [c["id"].split(":")[1] for c in calls] == ["new"], bad
