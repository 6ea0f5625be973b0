"""The whole chain against the real Asterisk 22 of the lab: the portal saves "Paramètres", the control
daemon (with its short transactions, issue 20) pushes the setting through the real adapter, and the AstDB
keys the generated dialplan reads are on the PBX; the daemon's sweep and mailbox refresh run against it
without removing anything real."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from clusterpbx.control.accounts import add_node
from clusterpbx.control.daemon.jobs import job_live_sweep
from clusterpbx.control.models import CallSettings, PbxNode, SyncState
from tests.daemon_harness import running_daemon
from tests.real.test_asterisk_events import adapter_for

pytestmark = pytest.mark.real
SECRET = "real-s3cret"  # noqa: S105 - the test daemon's command-channel secret
DELETE = "<delete>"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_saved_setting_reaches_the_real_asterisk(asterisk_lab, app, client, auth, engine, db, world):
    node = add_node(db, "lab-asterisk", "asterisk", asterisk_lab["CPBX_LAB_AMI_HOST"],
                    int(asterisk_lab["CPBX_LAB_AMI_PORT"]), asterisk_lab["CPBX_LAB_AMI_USER"],
                    asterisk_lab["CPBX_LAB_AMI_SECRET"])
    db.commit()
    tenant, other = world.tenant("real.test"), world.tenant("other.test")
    tenant.node_id = other.node_id = node.id
    db.commit()
    user = world.user(tenant, extension="4711")
    twin = world.user(other, extension="4711")  # the other company's 4711, on the same Asterisk
    moved = world.user(tenant, extension="4712")  # only this company has a 4712
    cs = db.get(CallSettings, moved.id)
    cs.dnd, cs.sync_state = True, SyncState.PENDING
    db.commit()
    async def astdb(family: str, key: str, value: str | None = None) -> str | None:
        adapter = adapter_for(asterisk_lab)
        await adapter.start()
        try:
            if value is not None:
                await adapter._write_entries([(family, key, None if value is DELETE else value)])
            return await adapter._db_get(family, key)
        finally:
            await adapter.stop()

    with running_daemon(app, engine, SECRET) as (daemon, on_loop):
        # Keys of the layout before tenants had names on the PBX (DND/4712): moved at the daemon's start.
        for family, key in (("AMPUSER", "4712/followme/ddial"), ("DND", "4712"), ("DND", "4711")):
            asyncio.run(astdb(family, key, "EXTENSION" if family == "AMPUSER" else "YES"))
        try:
            deadline = time.monotonic() + 60
            while not all(r.port.connected and r.resynced.is_set() for r in daemon.nodes.values()):
                assert time.monotonic() < deadline, "the daemon did not connect to the lab Asterisk"
                time.sleep(0.2)
            auth.login(user.email)
            token = auth.csrf("/settings/advanced")
            resp = client.post("/settings/advanced", data={
                "csrf_token": token, "dnd": "y", "call_waiting": "y", "forward_busy": "",
                "followme_delay": "20", "forward_noanswer_delay": "25", "language": "fr"})
            assert resp.status_code == 302
            db.expire_all()
            assert db.get(CallSettings, user.id).sync_state is SyncState.APPLIED
            # The company's own keys (DND/real-4711); the other company's 4711 is untouched.
            assert asyncio.run(astdb("DND", "real-4711")) == "YES"
            assert asyncio.run(astdb("AMPUSER", "real-4711/cfringtimer")) == "25"
            assert asyncio.run(astdb("DND", "other-4711")) is None
            assert asyncio.run(astdb("AMPUSER", "other-4711/followme/ddial")) == "EXTENSION"
            assert twin.id != user.id
            # 4712's old keys moved; 4711's old DND is two companies' number: left, read by nothing.
            assert asyncio.run(astdb("DND", "4712")) is None and asyncio.run(astdb("DND", "real-4712")) == "YES"
            assert asyncio.run(astdb("DND", "4711")) == "YES"
            # The daemon's jobs against the real PBX: nothing to sweep, every mailbox read.
            assert on_loop(job_live_sweep(daemon)) == 0
            runner = next(iter(daemon.nodes.values()))
            assert on_loop(runner.refresh_mailboxes()) >= 0
            # Turned off again: the key is removed on the PBX.
            token = auth.csrf("/settings/advanced")
            client.post("/settings/advanced", data={
                "csrf_token": token, "call_waiting": "y", "followme_delay": "20", "forward_noanswer_delay": "20",
                "language": "fr"})
            assert asyncio.run(astdb("DND", "real-4711")) is None
        finally:
            asyncio.run(astdb("DND", "4711", DELETE))  # the lab's AstDB as it was
    assert db.scalar(select(PbxNode).where(PbxNode.name == "lab-asterisk")) is not None
