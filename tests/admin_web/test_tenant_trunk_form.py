"""The outbound trunk on the tenant screen: an operator sets it (labels and help in both languages), a
bad name comes back next to the field with nothing written (never a 500), a tenant admin sees it read-only."""

from __future__ import annotations

import re
from typing import Any

from clusterpbx.control.admin import FieldType, resource
from clusterpbx.control.models import AuditEntry, Tenant
from tests.admin_web.scene import build, post, raw, text


def tenant_form(db: Any, tenant: Tenant, **over: str) -> dict[str, str]:
    """The operator's tenant form as the browser posts it, with its current values."""
    res = resource("tenants")
    current = res.serialize(db.get(Tenant, tenant.id))
    form: dict[str, str] = {}
    for f in res.fields:
        if f.read_only:
            continue
        value = current.get(f.name)
        if f.type is FieldType.BOOLEAN:
            if value:
                form[f.name] = "y"
        else:
            form[f.name] = "" if value is None else str(value)
    form.update(over)
    return form


def error_of(page: str, field: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{field}">([^<]*)</p>', page)
    return m.group(1) if m else ""


def test_operator_sets_the_trunk_on_the_tenant_screen(client, auth, db, world):
    s = build(db, world)
    auth.login(s.operator.email)  # the operator reads English
    page = text(client.get(f"/admin/tenants/{s.ta.id}"))
    assert "Outbound trunk" in page and "PJSIP endpoint (Asterisk) or gateway (FreeSWITCH)" in page
    assert re.search(r'<input[^>]*name="outbound_trunk"', raw(client.get(f"/admin/tenants/{s.ta.id}")))

    resp = post(client, f"/admin/tenants/{s.ta.id}", tenant_form(db, s.ta, outbound_trunk="acme-trunk"))
    assert resp.status_code == 302, text(resp)
    db.expire_all()
    assert db.get(Tenant, s.ta.id).outbound_trunk == "acme-trunk"
    assert 'value="acme-trunk"' in raw(client.get(f"/admin/tenants/{s.ta.id}"))
    entry = db.query(AuditEntry).filter_by(object_type="tenants", object_id=str(s.ta.id),
                                           action="update").one()
    assert entry.after["outbound_trunk"] == "acme-trunk"


def test_bad_trunk_names_come_back_next_to_the_field(client, auth, db, world):
    s = build(db, world)
    auth.login(s.operator.email)
    for bad in ("acme trunk", "acme\r\nAction: Originate", "acme;x", "x" * 65):
        resp = post(client, f"/admin/tenants/{s.ta.id}", tenant_form(db, s.ta, outbound_trunk=bad))
        assert resp.status_code == 400, bad
        assert error_of(raw(resp), "outbound_trunk"), bad
        db.expire_all()
        assert db.get(Tenant, s.ta.id).outbound_trunk == ""
    resp = post(client, f"/admin/tenants/{s.ta.id}", tenant_form(db, s.ta, outbound_trunk="acme trunk"))
    assert "Enter the name of a PJSIP endpoint (Asterisk) or a gateway (FreeSWITCH)" in text(resp)


def test_french_screen_and_tenant_admin_sees_it_read_only(client, auth, db, world):
    s = build(db, world)
    s.ta.outbound_trunk = "acme-trunk"
    s.operator.language = "fr"
    db.commit()
    auth.login(s.operator.email)
    page = text(client.get(f"/admin/tenants/{s.ta.id}"))
    assert "Trunk sortant" in page and "Point de terminaison PJSIP (Asterisk) ou passerelle (FreeSWITCH)" in page
    resp = post(client, f"/admin/tenants/{s.ta.id}", tenant_form(db, s.ta, outbound_trunk="a b"))
    assert resp.status_code == 400
    assert "Entrez le nom d'un point de terminaison PJSIP (Asterisk) ou d'une passerelle (FreeSWITCH)" in text(resp)
    auth.logout()

    auth.login(s.admin_a.email)  # a tenant admin, in French
    page = raw(client.get(f"/admin/tenants/{s.ta.id}"))
    assert not re.search(r'<input[^>]*name="outbound_trunk"', page)
    assert "Trunk sortant" in text(client.get(f"/admin/tenants/{s.ta.id}")) and "acme-trunk" in page
    # Posting it anyway changes nothing.
    form = tenant_form(db, s.ta, outbound_trunk="cheaper-trunk")
    post(client, f"/admin/tenants/{s.ta.id}", form)
    db.expire_all()
    assert db.get(Tenant, s.ta.id).outbound_trunk == "acme-trunk"
