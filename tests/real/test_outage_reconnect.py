"""An outage of the real PBX, with the control daemon and the portal running (issue 19: "outage and
reconnect" on both PBXs). The PBX is stopped: the daemon reports the node disconnected; a user saves DND in
"Paramètres" and the portal keeps it as pending (saved, not lost). The PBX is started again: the daemon
reconnects by itself, the pending setting reaches the PBX (the company's own key) and is marked applied, and
the node's health says connected since the new connection."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any

import pytest

from clusterpbx.control.accounts import add_node
from clusterpbx.control.models import CallSettings, NodeHealth, SyncState
from clusterpbx.control.port import NodeAddress
from clusterpbx.esl.adapter import FreeSwitchAdapter
from tests.daemon_harness import running_daemon
from tests.real.conftest import LAB, until
from tests.real.test_asterisk_events import adapter_for

pytestmark = pytest.mark.real
SECRET = "real-outage-s3cret"  # noqa: S105 - the test daemon's command-channel secret


def _lab(script: str, command: str) -> None:
    done = subprocess.run(["bash", str(LAB / script), command], env=os.environ.copy(), capture_output=True,
                          text=True, timeout=150)
    assert done.returncode == 0, f"lab/{script} {command}: {done.stdout}\n{done.stderr}"


def _asterisk_dnd(env: dict[str, str], owner: str) -> str | None:
    async def read() -> str | None:
        adapter = adapter_for(env)
        await adapter.start()
        try:
            return await adapter._db_get("DND", owner)
        finally:
            await adapter.stop()
    return asyncio.run(read())


def _freeswitch_dnd(env: dict[str, str], owner: str) -> str | None:
    async def read() -> str | None:
        adapter = FreeSwitchAdapter(NodeAddress(host=env["CPBX_LAB_ESL_HOST"], port=int(env["CPBX_LAB_ESL_PORT"]),
                                                secret=env["CPBX_LAB_ESL_PASSWORD"], timeout=5.0,
                                                sip_domain="127.0.0.1"))
        await adapter.start()
        try:
            return (await adapter.read_features(owner)).dnd and "YES" or None
        finally:
            await adapter.stop()
    return asyncio.run(read())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_a_setting_saved_during_an_outage_reaches_the_pbx_when_it_returns(kind, request, app, client, auth, engine,
                                                                          db, world):
    env: dict[str, str] = request.getfixturevalue(f"{kind}_lab")
    script = f"{kind}.sh"
    if kind == "asterisk":
        node = add_node(db, "lab-asterisk", "asterisk", env["CPBX_LAB_AMI_HOST"], int(env["CPBX_LAB_AMI_PORT"]),
                        env["CPBX_LAB_AMI_USER"], env["CPBX_LAB_AMI_SECRET"])
        owner, read_dnd = "outage-4721", _asterisk_dnd
    else:
        node = add_node(db, "lab-freeswitch", "freeswitch", env["CPBX_LAB_ESL_HOST"], int(env["CPBX_LAB_ESL_PORT"]),
                        secret=env["CPBX_LAB_ESL_PASSWORD"], sip_domain="127.0.0.1")
        owner, read_dnd = "4721@outage.test", _freeswitch_dnd
    db.commit()
    tenant = world.tenant("outage.test")
    tenant.node_id = node.id
    db.commit()
    user = world.user(tenant, extension="4721")

    def health() -> tuple[bool, Any] | None:
        db.expire_all()
        row = db.get(NodeHealth, node.id)
        return (bool(row.connected), row.since) if row is not None else None

    def save(dnd: bool) -> None:
        token = auth.csrf("/settings/advanced")
        data = {"csrf_token": token, "call_waiting": "y", "followme_delay": "20", "forward_noanswer_delay": "20",
                "language": "fr", **({"dnd": "y"} if dnd else {})}
        assert client.post("/settings/advanced", data=data).status_code == 302

    auth.login(user.email)
    with running_daemon(app, engine, SECRET) as (daemon, _on_loop):
        runner = next(iter(daemon.nodes.values()))
        try:
            until("connected and resynced", lambda: runner.port.connected and runner.resynced.is_set(), 60)
            save(False)
            assert read_dnd(env, owner) is None
            before = until("health written", lambda: health() if health() and health()[0] else None)[1]

            _lab(script, "stop")
            until("the daemon sees the node down", lambda: not runner.port.connected, 30)
            save(True)  # while the PBX is away
            db.expire_all()
            assert db.get(CallSettings, user.id).sync_state is SyncState.PENDING
            assert b"sync-pending" in client.get("/settings/advanced").data  # the badge "En attente"

            _lab(script, "start")
            until("the pending setting applied", lambda: (db.expire_all(), db.get(CallSettings, user.id))[1]
                   .sync_state is SyncState.APPLIED, 90)
            assert read_dnd(env, owner) == "YES"
            connected, since = until("health says connected again",
                                      lambda: health() if health() and health()[0] and health()[1] != before else None,
                                      30)
            assert connected and since > before
            save(False)
            assert read_dnd(env, owner) is None
        finally:
            if subprocess.run(["bash", str(LAB / script), "status"], capture_output=True).returncode != 0:
                _lab(script, "start")  # the lab as it was
