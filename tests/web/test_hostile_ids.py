"""Ids and numbers in URLs and forms come from anyone: odd digits ("²" is a digit to str.isdigit but
not to int), ids beyond a 32-bit column, dates far off. Each gets a plain 404 or the page with a message,
never a 500 (PostgreSQL says "integer out of range" where SQLite would just find nothing)."""

from __future__ import annotations

import pytest

from clusterpbx.control.models import Queue, QueueMembership, Role

HUGE = "99999999999"
HUGER = "99999999999999999999"


@pytest.fixture
def people(db, world):
    tenant = world.tenant()
    operator = world.user(tenant, email="op@acme.test", role=Role.OPERATOR, timezone="Europe/Paris")
    user = world.user(tenant, email="user@acme.test")
    queue = Queue(tenant_id=tenant.id, name="support", label="Soutien")
    db.add(queue)
    db.flush()
    membership = QueueMembership(queue_id=queue.id, user_id=user.id)
    db.add(membership)
    db.commit()
    return operator, user, membership


ADMIN_GETS = [
    "/admin/audit/?page=²", "/admin/audit/?actor=²", "/admin/audit/?tenant=²", f"/admin/audit/?page={HUGER}",
    "/admin/audit/?until=9999-12-31", "/admin/audit/?since=0001-01-01", "/admin/users/?tenant=²",
    f"/admin/users/?page={HUGER}", "/admin/users/?page=²", f"/admin/users/{HUGE}", f"/admin/users/{HUGE}/delete",
    f"/admin/nodes/{HUGE}", "/admin/csv/?tenant=²",
]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_admin_query_strings_and_ids(client, auth, people, path):
    operator, _user, _m = people
    auth.login(operator.email)
    resp = client.get(path)
    assert resp.status_code in (200, 302, 404), resp.status_code
    if "since=" in path or "until=" in path:
        assert "AAAA-MM-JJ" in resp.get_data(as_text=True)


def test_admin_actions_on_ids_beyond_the_column(client, auth, people):
    operator, _user, _m = people
    auth.login(operator.email)
    token = auth.csrf("/admin/users/")
    for path in (f"/admin/users/{HUGE}/disable", f"/admin/users/{HUGE}/reset-password", f"/admin/nodes/{HUGE}/test"):
        assert client.post(path, data={"csrf_token": token}).status_code == 404


def test_sms_routes_without_login(client, people):
    assert client.post(f"/sms/status/{HUGE}", data={"MessageStatus": "delivered"}).status_code == 404
    assert client.get(f"/sms/{HUGE}/image?expires=1&sig=x").status_code == 404


def test_user_screens(client, auth, people):
    _operator, user, membership = people
    auth.login(user.email)
    assert client.get("/directory/?page=²").status_code == 200
    assert client.get(f"/directory/?page={HUGER}").status_code == 200
    token = auth.csrf("/queues/")
    resp = client.post(f"/queues/{membership.id}/pause", data={"csrf_token": token, "reason": "²"})
    assert resp.status_code in (200, 302)
    resp = client.post("/phone/", data={"csrf_token": auth.csrf("/phone/"), "selected": ["²", HUGER],
                                        "action": "delete"})
    assert resp.status_code in (200, 302)
    resp = client.post("/phone/", data={"csrf_token": auth.csrf("/phone/"), "action": "up-²"})
    assert resp.status_code in (200, 302)
