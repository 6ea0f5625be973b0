"""Two tenants with an admin and a user each, an operator, and one object of every resource in the
other tenant, for the role and scope tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from clusterpbx.control.admin import Actor, resource
from clusterpbx.control.models import NodeKind, PbxNode, Role, Tenant, User


@dataclass
class Setup:
    node: PbxNode
    a: Tenant
    b: Tenant
    admin_a: User
    user_a: User
    admin_b: User
    user_b: User
    operator: User

    @property
    def op(self) -> Actor:
        return Actor.of(self.operator)

    @property
    def adm(self) -> Actor:
        return Actor.of(self.admin_a)

    @property
    def usr(self) -> Actor:
        return Actor.of(self.user_a)


@pytest.fixture
def setup(db: Any, world: Any) -> Setup:
    node = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038, username="admin", secret="s3cret")
    db.add(node)
    db.flush()
    a = world.tenant("acme.test")
    a.node_id = node.id
    b = world.tenant("other.test")
    db.commit()
    s = Setup(node, a, b,
              admin_a=world.user(a, email="admin@acme.test", role=Role.TENANT_ADMIN, extension="100"),
              user_a=world.user(a, email="user@acme.test", extension="101"),
              admin_b=world.user(b, email="admin@other.test", role=Role.TENANT_ADMIN, extension="100"),
              user_b=world.user(b, email="user@other.test", extension="101"),
              operator=world.user(a, email="op@acme.test", role=Role.OPERATOR, extension="199"))
    return s


def sample(name: str, s: Setup, tenant: Tenant, n: int = 1) -> dict[str, Any]:
    """Valid create data for each resource in `tenant`."""
    other_user = s.user_a if tenant is s.a else s.user_b
    return {
        "tenants": {"name": f"New{n}", "domain": f"new{n}.test"},
        "nodes": {"name": f"node{n}", "kind": "freeswitch", "host": "127.0.0.1", "secret": "ClueCon"},
        "users": {"tenant_id": tenant.id, "email": f"new{n}@{tenant.domain}", "first_name": "Nouvel",
                  "last_name": "Usager", "extension": f"30{n}", "password": "Secret123"},
        "devices": {"tenant_id": tenant.id, "mac": f"00:15:65:00:00:0{n}", "vendor": "yealink", "model": "T46S",
                    "user_id": other_user.id},
        "queues": {"tenant_id": tenant.id, "name": f"support{n}", "label": "Soutien", "number": f"60{n}",
                   "agents": [other_user.id]},
        "destination_groups": {"tenant_id": tenant.id, "name": f"Local {n}", "prefixes": "1514\n1438"},
        "pause_reasons": {"tenant_id": tenant.id, "label": f"Dîner {n}"},
        "rates": {"tenant_id": tenant.id, "prefix": f"151{n}", "per_minute": "0.0250", "increment_seconds": 60},
    }[name]


def make(db: Any, name: str, s: Setup, tenant: Tenant, n: int = 1) -> Any:
    obj = resource(name).create(db, Actor.command_line(), sample(name, s, tenant, n))
    db.commit()
    return obj


# A change each resource accepts from whoever may change it.
UPDATES = {
    "tenants": {"name": "Renamed"},
    "nodes": {"host": "192.0.2.10"},
    "users": {"first_name": "Renommé", "can_use_blf": True},
    "devices": {"label": "Accueil"},
    "queues": {"label": "Ventes"},
    "destination_groups": {"prefixes": "1819"},
    "pause_reasons": {"label": "Réunion"},
    "rates": {"per_minute": "0.0300"},
}

SCOPED = ["users", "devices", "queues", "destination_groups", "pause_reasons", "rates"]
ALL = ["tenants", "nodes", *SCOPED]
