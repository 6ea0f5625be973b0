"""Two tenants with an admin and a user each, an operator, and objects of tenant B made through the
services (so that tenant B also has audit entries) for the admin screens' tests."""

from __future__ import annotations

import html as htmllib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from clusterpbx.control.admin import Actor, resource
from clusterpbx.control.models import DestinationGroup, PauseReason, Queue, RateEntry, Role, Tenant, User


@dataclass
class Scene:
    ta: Tenant
    tb: Tenant
    admin_a: User
    user_a: User
    admin_b: User
    user_b: User
    operator: User
    device_b: int
    group_b: int
    others_b: dict[str, int]


def build(db: Any, world: Any, admin_language: str = "fr") -> Scene:
    ta = world.tenant("acme.test")
    tb = world.tenant("beta.test")
    ops = world.tenant("ops.test")
    admin_a = world.user(ta, email="admin@acme.test", role=Role.TENANT_ADMIN, language=admin_language,
                         first_name="Anne", last_name="Admin")
    user_a = world.user(ta, email="alice@acme.test", first_name="Alice", last_name="Aubry")
    admin_b = world.user(tb, email="admin@beta.test", role=Role.TENANT_ADMIN)
    cli = Actor.command_line("test setup")
    user_b = resource("users").create(db, cli, {"tenant_id": tb.id, "email": "bob@beta.test", "first_name": "Bob",
                                                "last_name": "Bertrand", "extension": "301"})
    device_b = resource("devices").create(db, cli, {"tenant_id": tb.id, "mac": "00:15:65:12:34:56",
                                                    "vendor": "yealink", "model": "T46S", "label": "Bureau de Bob"})
    group_b = DestinationGroup(tenant_id=tb.id, name="Beta local")
    queue_b = Queue(tenant_id=tb.id, name="beta-support", label="Beta support", number="700")
    pause_b = PauseReason(tenant_id=tb.id, label="Beta lunch")
    rate_b = RateEntry(tenant_id=tb.id, prefix="1900", per_minute=Decimal("1.5000"))
    db.add_all([group_b, queue_b, pause_b, rate_b])
    db.flush()
    operator = world.user(ops, email="ops@ops.test", role=Role.OPERATOR, language="en")
    db.commit()
    others = {"users": user_b.id, "devices": device_b.id, "destination_groups": group_b.id, "queues": queue_b.id,
              "pause_reasons": pause_b.id, "rates": rate_b.id, "tenants": tb.id}
    return Scene(ta, tb, admin_a, user_a, admin_b, user_b, operator, device_b.id, group_b.id, others)


def text(resp: Any) -> str:
    return htmllib.unescape(resp.get_data(as_text=True))


def raw(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def token(client: Any, path: str = "/admin/") -> str:
    page = raw(client.get(path))
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def post(client: Any, path: str, data: dict[str, Any], page: str = "/admin/", **kw: Any) -> Any:
    return client.post(path, data={**data, "csrf_token": token(client, page)}, **kw)
