"""The nodes' "test connection": through the real control daemon and the real adapters, against the
sim speaking AMI and ESL on loopback, with the good and a wrong secret; a clear error when the
daemon cannot be reached."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from sqlalchemy import select

from clusterpbx.control.admin import Actor, Forbidden, Invalid, NotFound, resource
from clusterpbx.control.admin.nodes import test_node as check_node
from clusterpbx.control.commands import ControlClient
from clusterpbx.control.daemon import ControlDaemon
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import AuditEntry
from clusterpbx.sim import lab
from clusterpbx.sim.runner import SimPBX

SECRET = "channel-secret"


@pytest.fixture
def daemon(engine):
    loop = asyncio.new_event_loop()
    d = ControlDaemon(make_session_factory(engine), SECRET, port=0, timeout=5.0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(d.start(), loop).result(30)
    try:
        yield d
    finally:
        asyncio.run_coroutine_threadsafe(d.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture
def sims(tmp_path):
    ast = SimPBX(lab="asterisk", spool_dir=tmp_path / "a", esl_port=None).start()
    fs = SimPBX(lab="freeswitch", spool_dir=tmp_path / "f").start()
    try:
        yield ast, fs
    finally:
        ast.stop()
        fs.stop()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_node_connection_against_sim(db, setup, daemon, sims):
    ast, fs = sims
    op = setup.op
    nodes = resource("nodes")
    cases = [
        ({"name": "ast-good", "kind": "asterisk", "port": ast.ami_port, "username": lab.AMI_USER,
          "secret": lab.AMI_SECRET}, True, f"asterisk 127.0.0.1:{ast.ami_port}: logged in"),
        ({"name": "ast-bad", "kind": "asterisk", "port": ast.ami_port, "username": lab.AMI_USER,
          "secret": "wrong-secret"}, False, "login refused"),
        ({"name": "fs-good", "kind": "freeswitch", "port": fs.esl_port, "secret": lab.ESL_PASSWORD}, True,
         f"freeswitch 127.0.0.1:{fs.esl_port}: logged in"),
        ({"name": "fs-bad", "kind": "freeswitch", "port": fs.esl_port, "secret": "wrong-secret"}, False,
         "authentication failed"),
        ({"name": "nobody", "kind": "asterisk", "port": _closed_port(), "username": "x", "secret": "y"}, False,
         "cannot connect"),
    ]
    client = ControlClient("127.0.0.1", daemon.port, SECRET, timeout=5.0)
    for data, ok, text in cases:
        node = nodes.create(db, op, data)
        db.commit()
        result = check_node(db, op, node.id, client)
        db.commit()  # the caller commits (the audit entry); an open SQLite write would block the daemon
        assert result["ok"] is ok, (data["name"], result)
        assert text in result["message"], (data["name"], result)
        assert data["secret"] not in result["message"]
        entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "nodes",
                                                    AuditEntry.object_id == str(node.id))
                           .order_by(AuditEntry.id.desc())).first()
        assert entry.action == "test_connection" and entry.after == result and entry.actor_id == setup.operator.id


def test_node_test_errors(db, setup):
    unreachable = ControlClient("127.0.0.1", _closed_port(), SECRET, timeout=2.0)
    with pytest.raises(Invalid) as exc:
        check_node(db, setup.op, setup.node.id, unreachable)
    assert exc.value.errors == {"": "The control daemon is not reachable, so the connection cannot be tested."}
    with pytest.raises(Forbidden):
        check_node(db, setup.adm, setup.node.id, unreachable)
    other = resource("nodes").create(db, Actor.command_line(), {"name": "other", "kind": "asterisk"})
    with pytest.raises(NotFound):
        check_node(db, setup.adm, other.id, unreachable)
    with pytest.raises(Forbidden):
        check_node(db, setup.usr, setup.node.id, unreachable)
