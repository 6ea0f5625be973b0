"""Appels en cours: own calls (all the tenant's for an admin), the guide's columns, live updates."""

from __future__ import annotations

import datetime as dt
import json

from clusterpbx.control.models import LiveCall, NodeKind, PbxNode, Role, utcnow


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


def test_stream_sends_calls_as_json(client, auth, db, world):
    me, _other = setup(db, world)
    auth.login(me.email)
    resp = client.get("/live/stream", buffered=False)
    assert resp.mimetype == "text/event-stream"
    chunks = iter(resp.response)
    assert next(chunks).startswith(b"retry:")
    event = next(chunks).decode()
    resp.close()
    assert event.startswith("event: calls\ndata: ")
    calls = json.loads(event.split("data: ", 1)[1])
    assert [c["id"] for c in calls] == ["mine"] and calls[0]["source_ip"] == "199.182.134.109"


def test_empty_state(client, auth, world):
    auth.login(world.user(world.tenant(), extension="201").email)
    assert "Aucun appel en cours." in client.get("/live/").get_data(as_text=True)
