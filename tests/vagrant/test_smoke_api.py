"""smoke.sh's checks of the portal's REST API, run against the real portal (served on loopback by the test)
with real tokens: what the lab's smoke test asks must be what the API answers, both ways (a check that
should pass does, one that should fail does)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from clusterpbx.control import apitokens
from clusterpbx.control.models import (
    CallRecord,
    CallSettings,
    LiveCall,
    NodeKind,
    PbxNode,
    Queue,
    QueueMembership,
    QueueMemberState,
    SyncState,
)
from clusterpbx.control.pbxnames import PbxNames

SMOKE = Path(__file__).resolve().parents[2] / "vagrant" / "smoke.sh"


@pytest.fixture
def portal(database_url: str, tmp_path: Path) -> Iterator[str]:
    from clusterpbx.web import create_app

    app = create_app({"TESTING": True, "SETTINGS": {
        "database_url": database_url, "instance_path": str(tmp_path / "instance"), "session_cookie_secure": False,
        "ratelimit_storage_url": "memory://",
        # No control daemon: changes are saved and reported pending, as when the PBX is unreachable.
        "control_url": "http://127.0.0.1:9", "control_timeout": 1.0}})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["clusterpbx.engine"].dispose()


def smoke(portal: str, tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Source smoke.sh (functions only) and run `script` with them."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {"PATH": os.environ["PATH"], "LAB_PORTAL_URL": portal, "WORK": str(work), "HOME": str(tmp_path)}
    return subprocess.run(["bash", "-c", f'. "$1"; {script}', "_", str(SMOKE)], env=env, capture_output=True,
                          text=True, timeout=60)


def check(portal: str, tmp_path: Path, call: str) -> bool:
    result = smoke(portal, tmp_path, f"if {call}; then echo YES; else echo NO; fi")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "YES"


@pytest.fixture
def lab(db: Any, world: Any) -> dict[str, Any]:
    tenant = world.tenant("ast.lab.test")
    node = PbxNode(name="lab-asterisk", kind=NodeKind.ASTERISK, host="127.0.0.1", port=5038)
    db.add(node)
    db.flush()
    tenant.node_id = node.id
    alice = world.user(tenant, extension="1101")
    bob = world.user(tenant, extension="1102")
    queue = Queue(tenant_id=tenant.id, name="support", label="Lab support", number="1190")
    db.add(queue)
    db.flush()
    db.add(QueueMembership(queue_id=queue.id, user_id=alice.id))
    db.commit()
    tokens = {}
    for name, user in (("alice", alice), ("bob", bob)):
        _row, tokens[f"{name}_token"] = apitokens.create_user_token(db, user, "smoke")
    db.commit()
    return {"db": db, "tenant": tenant, "node": node, "alice": alice, "bob": bob, "queue": queue, **tokens}


def test_live_call_check(portal, tmp_path, lab):
    db, now = lab["db"], dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert not check(portal, tmp_path, f"live_call {lab['alice_token']} 1101 1102")
    db.add(LiveCall(node_id=lab["node"].id, tenant_id=lab["tenant"].id, pbx_call_id="c1", started_at=now,
                    state="up", source_number="1101", destination_number="1102",
                    destination_uri="sip:1102@ast.lab.test"))
    db.commit()
    assert check(portal, tmp_path, f"live_call {lab['alice_token']} 1101 1102")
    assert not check(portal, tmp_path, f"live_call {lab['alice_token']} 1102 1101")  # direction matters
    assert not check(portal, tmp_path, f"live_call {lab['alice_token']} 1101 110")  # whole numbers only


def test_answered_record_check(portal, tmp_path, lab):
    db, now = lab["db"], dt.datetime.now(dt.UTC).replace(tzinfo=None)
    db.add(CallRecord(tenant_id=lab["tenant"].id, user_id=lab["alice"].id, node_id=lab["node"].id,
                      pbx_call_id="busy", caller_number="1101", dialed_number="1102", started_at=now,
                      status="busy", call_type="internal"))
    db.commit()
    assert not check(portal, tmp_path, f"answered_record {lab['alice_token']} 1101 1102")
    db.add(CallRecord(tenant_id=lab["tenant"].id, user_id=lab["alice"].id, node_id=lab["node"].id,
                      pbx_call_id="ok", caller_number="1101", dialed_number="1102", started_at=now,
                      answered_at=now, duration_seconds=10, status="answered", call_type="internal"))
    db.commit()
    assert check(portal, tmp_path, f"answered_record {lab['alice_token']} 1101 1102")
    assert not check(portal, tmp_path, f"answered_record {lab['bob_token']} 1101 1102")  # not Bob's record


def test_dnd_patch_and_applied_check(portal, tmp_path, lab):
    db = lab["db"]
    result = smoke(portal, tmp_path, f"api {lab['bob_token']} PATCH /api/v1/me/call-settings '{{\"dnd\": true}}'")
    assert result.returncode == 0, result.stderr
    db.expire_all()
    assert db.get(CallSettings, lab["bob"].id).dnd is True
    # Saved but not applied (no daemon here): smoke.sh keeps waiting, as it must.
    assert not check(portal, tmp_path, f"dnd_applied {lab['bob_token']} true")
    cs = db.get(CallSettings, lab["bob"].id)
    cs.sync_state = SyncState.APPLIED
    db.commit()
    assert check(portal, tmp_path, f"dnd_applied {lab['bob_token']} true")
    assert not check(portal, tmp_path, f"dnd_applied {lab['bob_token']} false")


def test_queue_checks(portal, tmp_path, lab):
    db, queue = lab["db"], lab["queue"]
    found = smoke(portal, tmp_path, f"queue_id {lab['alice_token']} support")
    assert found.returncode == 0 and found.stdout.strip() == str(queue.id), found.stderr
    assert smoke(portal, tmp_path, f"queue_id {lab['bob_token']} support").stdout.strip() == ""  # not his
    assert check(portal, tmp_path, f"queue_status_is {lab['alice_token']} {queue.id} offline")
    login = smoke(portal, tmp_path, f"api {lab['alice_token']} POST /api/v1/me/queues/{queue.id}/login")
    assert login.returncode == 0, login.stderr
    # Asked for, not yet reported by the PBX: still offline for smoke.sh.
    assert not check(portal, tmp_path, f"queue_status_is {lab['alice_token']} {queue.id} connected")
    names = PbxNames.for_tenant(db, lab["tenant"])
    db.expire_all()
    ext = lab["alice"].primary_extension
    db.add(QueueMemberState(node_id=lab["node"].id, queue=names.queue(queue), interface=names.member(ext),
                            logged_in=True))
    db.commit()
    assert check(portal, tmp_path, f"queue_status_is {lab['alice_token']} {queue.id} connected")


def test_api_failures_stop_with_a_clear_message(portal, tmp_path, lab):
    bad_token = smoke(portal, tmp_path, "api not-a-token GET /api/v1/me/live-calls")
    assert bad_token.returncode == 1
    assert "SMOKE FAILED [setup]: GET /api/v1/me/live-calls answered HTTP 401" in bad_token.stderr
    nowhere = smoke("http://127.0.0.1:9", tmp_path, f"api {lab['alice_token']} GET /api/v1/me/live-calls")
    assert nowhere.returncode == 1 and "the portal did not answer" in nowhere.stderr
    timed = smoke(portal, tmp_path, f"wait_for 2 'the call never showed' live_call {lab['alice_token']} 1101 1102")
    assert timed.returncode == 1 and "after 2s: the call never showed" in timed.stderr
