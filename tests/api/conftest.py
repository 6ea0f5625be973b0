"""Fixtures for the REST API tests: tokens, a JSON client, and two tenants with one object of every
administrable resource each (so scope tests can try every route with another tenant's ids)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from clusterpbx.control import apitokens
from clusterpbx.control.models import (
    DestinationGroup,
    Device,
    NodeKind,
    PauseReason,
    PbxNode,
    Queue,
    QueueMembership,
    RateEntry,
    Role,
    Tenant,
    User,
)


class Api:
    """Calls the API through Flask's test client with a bearer token."""

    def __init__(self, client: Any, token: str | None = None):
        self.client = client
        self.token = token

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)

    def request(self, method: str, path: str, body: Any = None, raw: str | bytes | None = None,
                content_type: str = "application/json", headers: dict[str, str] | None = None, **kw: Any) -> Any:
        h = dict(headers or {})
        if self.token is not None:
            h.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None:
            raw = json.dumps(body)
        return self.client.open(path, method=method, data=raw, content_type=content_type if raw is not None else None,
                                headers=h, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


def user_token(db: Any, user: User, name: str = "test") -> str:
    _row, secret = apitokens.create_user_token(db, user, name)
    db.commit()
    return secret


def integration_token(db: Any, role: Role, tenant: Tenant | None = None, name: str = "integration") -> str:
    _row, secret = apitokens.create_integration_token(db, name, role, tenant)
    db.commit()
    return secret


@dataclass
class Side:
    tenant: Tenant
    admin: User
    user: User
    objects: dict[str, int] = field(default_factory=dict)  # resource name -> id of one object


@dataclass
class TwoTenants:
    a: Side
    b: Side
    node: PbxNode
    operator: User
    tokens: dict[str, str]


def _objects(db: Any, side: Side, n: int) -> None:
    t = side.tenant
    queue = Queue(tenant_id=t.id, name=f"q{n}", label=f"Queue {n}", number=f"80{n}")
    group = DestinationGroup(tenant_id=t.id, name=f"Group {n}")
    reason = PauseReason(tenant_id=t.id, label=f"Lunch {n}")
    rate = RateEntry(tenant_id=t.id, prefix=f"1{n}", per_minute=Decimal("0.0100"), increment_seconds=60)
    device = Device(tenant_id=t.id, user_id=side.user.id, mac=f"00155d00000{n}", vendor="yealink", model="T54W",
                    label=f"Desk {n}")
    db.add_all([queue, group, reason, rate, device])
    db.flush()
    db.add(QueueMembership(queue_id=queue.id, user_id=side.user.id))
    db.commit()
    side.objects.update(tenants=t.id, users=side.user.id, devices=device.id, queues=queue.id,
                        destination_groups=group.id, pause_reasons=reason.id, rates=rate.id)


@pytest.fixture
def two_tenants(db: Any, world: Any) -> TwoTenants:
    nodes = [PbxNode(name=f"n{n}", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038) for n in (1, 2)]
    db.add_all(nodes)
    db.commit()
    node = nodes[0]
    sides = []
    for n, domain in ((1, "acme.test"), (2, "globex.test")):
        tenant = world.tenant(domain)
        tenant.node_id = nodes[n - 1].id
        db.commit()
        admin = world.user(tenant, email=f"admin@{domain}", extension=f"{n}10", role=Role.TENANT_ADMIN)
        user = world.user(tenant, email=f"user@{domain}", extension=f"{n}11")
        side = Side(tenant, admin, user)
        _objects(db, side, n)
        sides.append(side)
    a, b = sides
    operator = world.user(a.tenant, email="ops@acme.test", extension="190", role=Role.OPERATOR)
    for side, n in zip(sides, nodes, strict=True):
        side.objects["nodes"] = n.id
    tokens = {"admin_a": user_token(db, a.admin), "user_a": user_token(db, a.user), "admin_b": user_token(db, b.admin),
              "user_b": user_token(db, b.user), "operator": user_token(db, operator),
              "integration_a": integration_token(db, Role.TENANT_ADMIN, a.tenant),
              "integration_ops": integration_token(db, Role.OPERATOR)}
    return TwoTenants(a, b, node, operator, tokens)
