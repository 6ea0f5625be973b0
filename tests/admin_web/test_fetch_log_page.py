"""Journal du provisionnement: the operator sees every request with its outcome and filters by it; a
tenant admin sees only the requests that carried their tenant's key; hostile filters are no 500."""

from __future__ import annotations

from clusterpbx.web.provision import fetchlog
from tests.admin_web.scene import build, text


def seed(app, s):
    writer = app.extensions.get("clusterpbx.fetchlog") or fetchlog.FetchLogWriter(
        app.extensions["clusterpbx.sessions"], interval=3600)
    writer.add(outcome="served", result=200, mac="001565123456", address="192.0.2.10", path="001565123456.cfg",
               device_id=s.device_b, tenant_id=s.tb.id)
    writer.add(outcome="bad_credentials", result=401, mac="001565123456", address="192.0.2.10",
               path="001565123456.cfg", device_id=s.device_b, tenant_id=s.tb.id)
    writer.add(outcome="rate_limited", result=429, mac="001565123456", address="192.0.2.10", path="001565123456.cfg")
    writer.add(outcome="unknown_mac", result=404, mac="001565aaaaaa", address="198.51.100.3",
               path="001565aaaaaa.cfg", tenant_id=s.ta.id)
    writer.add(outcome="bad_key", result=404, address="203.0.113.66", path="x.cfg")
    assert writer.flush() == 5


def test_operator_sees_every_request_and_filters_by_outcome(app, client, auth, db, world):
    s = build(db, world)
    seed(app, s)
    auth.login(s.operator.email)
    page = text(client.get("/admin/provisioning/"))
    assert "5 requests" in page
    for shown in ("Configuration served", "Wrong credentials", "Too many failures (throttled)",
                  "Unknown MAC address", "Wrong provisioning key", "203.0.113.66"):
        assert shown in page, shown
    throttled = text(client.get("/admin/provisioning/?outcome=rate_limited"))
    assert "1 request" in throttled and "Too many failures (throttled)" in throttled
    assert "Configuration served" not in throttled.split('id="fetch-count"')[1]
    by_mac = text(client.get("/admin/provisioning/?mac=00:15:65:12:34:56"))
    assert "3 requests" in by_mac
    by_address = text(client.get("/admin/provisioning/?address=198.51.100.3"))
    assert "1 request" in by_address and "001565aaaaaa" in by_address
    by_tenant = text(client.get(f"/admin/provisioning/?tenant={s.tb.id}"))
    assert "2 requests" in by_tenant


def test_tenant_admin_sees_only_their_tenants_requests(app, client, auth, db, world):
    s = build(db, world)
    seed(app, s)
    auth.login(s.admin_b.email)  # in French
    page = text(client.get("/admin/provisioning/"))
    assert "2 requêtes" in page and "Journal du provisionnement" in page and "192.0.2.10" in page
    assert "198.51.100.3" not in page and "203.0.113.66" not in page
    # Asking for another tenant does not show their rows (the filter is the operator's only).
    other = text(client.get(f"/admin/provisioning/?tenant={s.ta.id}"))
    assert "198.51.100.3" not in other and "2 requêtes" in other
    auth.logout()
    auth.login(s.user_a.email)  # an end user
    assert client.get("/admin/provisioning/").status_code == 404  # the admin hides itself from end users


def test_hostile_filters_are_clear_errors_not_500(app, client, auth, db, world):
    s = build(db, world)
    seed(app, s)
    auth.login(s.operator.email)
    for query in ("?mac=zz:zz", "?outcome=<script>", "?page=99999999999999", "?tenant=abc",
                  "?address=%00%0d%0a", "?page=2"):
        resp = client.get("/admin/provisioning/" + query)
        assert resp.status_code == 200, query
        assert "<script>" not in resp.get_data(as_text=True), query
    bad_mac = text(client.get("/admin/provisioning/?mac=zz:zz"))
    assert "This is not a MAC address" in bad_mac or "n'est pas une adresse MAC" in bad_mac
