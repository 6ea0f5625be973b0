"""Fixtures for the team screens: a tenant on an Asterisk node, two users, and helpers to read pages."""

from __future__ import annotations

import html as htmllib
import re
from typing import Any

import pytest

from clusterpbx.control.models import NodeKind, PbxNode
from tests.fakes import FakePbx


@pytest.fixture
def node(db: Any) -> PbxNode:
    n = PbxNode(name="n1", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(n)
    db.commit()
    return n


@pytest.fixture
def tenant(world: Any, db: Any, node: PbxNode) -> Any:
    t = world.tenant("acme.test")
    t.node = node  # the relationship too: the test session does not expire on commit
    db.commit()
    return t


@pytest.fixture
def me(world: Any, tenant: Any) -> Any:
    return world.user(tenant, first_name="Marie", last_name="Tremblay", extension="201")


@pytest.fixture
def other(world: Any, tenant: Any) -> Any:
    return world.user(tenant, first_name="Paul", last_name="Roy", extension="202")


@pytest.fixture
def fake() -> FakePbx:
    return FakePbx()


def page(resp: Any) -> str:
    return htmllib.unescape(resp.get_data(as_text=True))


def csrf(client: Any, path: str) -> str:
    raw = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', raw) or re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', raw)
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def wait_resynced(daemon: Any, timeout: float = 10.0) -> None:
    """Wait for the daemon's first resync (snapshot + re-assertion of every user's desired state), so it
    cannot race with what a test then changes."""
    import time

    deadline = time.monotonic() + timeout
    while not all(r.resyncs for r in daemon.nodes.values()):
        assert time.monotonic() < deadline, "the daemon did not resync"
        time.sleep(0.02)
