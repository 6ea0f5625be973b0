"""Against the real Asterisk 22 of the lab, with the configuration dialplan/ generates: a phone of the
second company dialling *76 sets its own company's key (DND/beta-101) and the UserEvent that tells the
portal (issue 19 item 2) reaches the adapter through its event filter as FeatureChanged."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from clusterpbx.control.port import FeatureChanged, PbxEvent, QueueMemberChanged
from clusterpbx.dialplan.render import render_node, write_files
from tests.dialplan.sample import acme
from tests.real.test_asterisk_events import adapter_for

HERE = Path(__file__).resolve().parent
LOCAL_PORT = 5094
pytestmark = pytest.mark.real


def dial(sipp: str, env: dict[str, str], user: str, password: str, number: str) -> subprocess.CompletedProcess[str]:
    target = env["CPBX_LAB_AST_SIP"]
    host = target.split(":")[0]
    with tempfile.TemporaryDirectory(prefix="cpbx-real-") as work:
        return subprocess.run([sipp, "-sf", str(HERE / "uac_named.xml"), "-m", "1", "-i", host, "-p", str(LOCAL_PORT),
                               "-au", user, "-ap", password, "-set", "caller", user, "-set", "display", "Dan Beta",
                               "-set", "domain", host, "-s", number, "-d", "1500", "-nostdin", "-timeout", "20s",
                               target], cwd=work, capture_output=True, text=True, timeout=60)


def test_star76_sets_the_companys_own_key_and_tells_the_portal(asterisk_lab, sipp, tmp_path):
    target = Path(asterisk_lab["CPBX_LAB_AST_CONFIG_DIR"])
    saved = tmp_path / "saved"
    shutil.copytree(target, saved)
    snapshot = acme("asterisk")
    beta = next(t for t in snapshot.tenants if t.slug == "beta")
    phone = beta.extensions[0]

    async def scenario() -> tuple[list[FeatureChanged], str | None, str | None, str]:
        adapter = adapter_for(asterisk_lab)
        events: list[FeatureChanged] = []
        adapter.subscribe(lambda e: events.append(e) if isinstance(e, FeatureChanged) else None)
        await adapter.start()
        try:
            changed = [p.name for p in write_files(render_node(snapshot), target)]
            await adapter.reload_configuration(changed)
            await adapter._write_entries([("DND", f"beta-{phone.number}", None), ("DND", phone.number, None)])
            result = await asyncio.to_thread(dial, sipp, asterisk_lab, phone.sip_username, phone.sip_password, "*76")
            for _ in range(50):
                if events:
                    break
                await asyncio.sleep(0.1)
            mine = await adapter._db_get("DND", f"beta-{phone.number}")
            bare = await adapter._db_get("DND", phone.number)  # another company's 101 would read this
            await adapter._write_entries([("DND", f"beta-{phone.number}", None)])
            return events, mine, bare, result.stdout[-1500:] + result.stderr[-1500:]
        finally:
            shutil.rmtree(target)
            shutil.copytree(saved, target)
            await adapter.reload_configuration(changed)
            await adapter.stop()

    events, mine, bare, output = asyncio.run(scenario())
    assert mine == "YES" and bare is None, output
    assert [(e.owner, e.feature, e.value) for e in events] == [("beta-101", "dnd", "on")], (events, output)


def test_star45_and_star46_log_the_agent_in_and_out_and_tell_the_portal(asterisk_lab, sipp, tmp_path):
    """*45 on the phone of an agent of the company's queue adds it to the queue on the PBX, *46 removes it;
    each reaches the adapter as QueueMemberChanged (what the daemon adopts as the user's choice,
    tests/daemon/test_phone_codes.py) and as the CPBXFeature UserEvent."""
    target = Path(asterisk_lab["CPBX_LAB_AST_CONFIG_DIR"])
    saved = tmp_path / "saved"
    shutil.copytree(target, saved)
    sample = acme("asterisk")
    # keys and events under the company's name, as dialplan/from_db.py always sets it (the sample's first
    # tenant has the layout before tenants had names on the PBX)
    snapshot = dataclasses.replace(sample, tenants=tuple(
        dataclasses.replace(t, astdb_prefix="acme-") if t.slug == "acme" else t for t in sample.tenants))
    tenant = next(t for t in snapshot.tenants if t.slug == "acme")
    phone = next(e for e in tenant.extensions if e.number == "102")
    queue, member = "cpbx-acme-support", "Local/102@cpbx-acme-leg/n"

    async def scenario() -> tuple[list[PbxEvent], list[bool], str]:
        adapter = adapter_for(asterisk_lab)
        events: list[PbxEvent] = []
        adapter.subscribe(lambda e: events.append(e) if isinstance(e, (FeatureChanged, QueueMemberChanged)) else None)
        await adapter.start()
        seen: list[bool] = []
        output = ""
        try:
            changed = [p.name for p in write_files(render_node(snapshot), target)]
            await adapter.reload_configuration(changed)
            for code in ("*45", "*46"):
                result = await asyncio.to_thread(dial, sipp, asterisk_lab, phone.sip_username, phone.sip_password, code)
                output += result.stdout[-1000:] + result.stderr[-1000:]
                for _ in range(50):
                    if any(isinstance(e, QueueMemberChanged) and e.removed == (code == "*46") for e in events):
                        break
                    await asyncio.sleep(0.1)
                seen.append(any(m.interface == member for m in await adapter.queue_members(queue)))
            return events, seen, output
        finally:
            shutil.rmtree(target)
            shutil.copytree(saved, target)
            await adapter.reload_configuration(changed)
            await adapter.stop()

    events, seen, output = asyncio.run(scenario())
    assert seen == [True, False], (events, output)
    members = [(e.member.queue, e.member.interface, e.removed) for e in events if isinstance(e, QueueMemberChanged)]
    assert (queue, member, False) in members and members[-1] == (queue, member, True), (members, output)
    owners = [(e.owner, e.feature, e.value) for e in events if isinstance(e, FeatureChanged)]
    assert owners == [("acme-102", "queue", "login"), ("acme-102", "queue", "logout")], (events, output)
