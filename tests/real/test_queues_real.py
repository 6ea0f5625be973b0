"""Queues on the real Asterisk 22 and FreeSWITCH 1.10 of the lab, as the portal drives them (issue 19):
with the configuration dialplan/ generates, the daemon's queue operations (control/daemon/desired.py: login,
pause, resume, logout with the names control/pbxnames.py gives) change the member on the PBX as the
adapter reads it back; a call to the queue's number reaches the logged-in agent's phone, and the agent
gets a call record (issue 19 item 3: a queue agent got none)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.control.port import CallRecorded, CallRecordReport, QueueMember
from tests.real.both_lab import (
    DOMAIN,
    NAMES,
    ast_adapter,
    call,
    config_dir,
    fs_adapter,
    load,
    phones,
    snapshot,
)

pytestmark = pytest.mark.real
TENANT, USERS = 1, {"201": 11, "202": 12}
QUEUE = "cpbx-both-support"  # PbxNames.queue


def member(kind: str) -> str:
    """PbxNames.member of extension 202."""
    return "Local/202@cpbx-both-leg/n" if kind == "asterisk" else "both-202"


def directory() -> Directory:
    parties = {n: (TENANT, uid, NAMES[n]) for n, uid in USERS.items()}
    return Directory(by_endpoint={f"u{n}": p for n, p in parties.items()}, rates={TENANT: []},
                     default_tenant_id=TENANT, by_number={n: {TENANT: p} for n, p in parties.items()},
                     tenant_by_context={"cpbx-both": TENANT}, tenant_by_domain={DOMAIN: TENANT})


def mine(members: list[QueueMember], kind: str) -> list[QueueMember]:
    """The queue's members as the adapter reads them (the queue has only 202)."""
    return [m for m in members if m.queue == QUEUE]


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_queue_login_pause_logout_and_a_call_reaching_the_agent(kind, request, sipp, tmp_path: Path):
    env = request.getfixturevalue(f"{kind}_lab")
    records: list[CallRecordReport] = []
    seen: dict[str, object] = {}

    async def scenario() -> None:
        adapter = ast_adapter(env) if kind == "asterisk" else fs_adapter(env)
        adapter.subscribe(lambda e: records.append(e.record) if isinstance(e, CallRecorded) else None)
        await adapter.start()
        try:
            await load(adapter, snapshot(kind), config_dir(kind, env))
            await adapter.queue_logout(QUEUE, member(kind))  # a previous run's member
            await adapter.queue_login(QUEUE, member(kind), "Ben Roy")
            seen["login"] = mine(await adapter.queue_members(QUEUE), kind)
            await adapter.queue_pause(QUEUE, member(kind), "Lunch")
            seen["paused"] = mine(await adapter.queue_members(QUEUE), kind)
            await adapter.queue_resume(QUEUE, member(kind))
            seen["resumed"] = mine(await adapter.queue_members(QUEUE), kind)
            with phones(sipp, kind, env, tmp_path, "202") as ph:
                result = await asyncio.to_thread(call, sipp, kind, env, tmp_path, "201", "600", 3000)
                seen["call"] = result.stdout[-800:] + (tmp_path / "call-201-600.log").read_text(errors="replace")
                seen["agent"] = ph["202"].events
                for _ in range(50):
                    if any(r.answered_at for r in records):
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.5)
            await adapter.queue_logout(QUEUE, member(kind))
            seen["logout"] = mine(await adapter.queue_members(QUEUE), kind)
        finally:
            await adapter.stop()

    asyncio.run(scenario())
    login, paused, resumed = seen["login"], seen["paused"], seen["resumed"]
    assert isinstance(login, list) and len(login) == 1 and not login[0].paused, seen
    assert isinstance(paused, list) and len(paused) == 1 and paused[0].paused, seen
    assert isinstance(resumed, list) and len(resumed) == 1 and not resumed[0].paused, seen
    assert "ANSWERED" in str(seen["agent"]) and "FINAL 200" in str(seen["call"]), seen
    logout = seen["logout"]
    assert isinstance(logout, list) and not [m for m in logout if m.logged_in], seen
    rows = [row for r in records for row in rows_for(r, 1, directory())]
    agent = [row for row in rows if row["user_id"] == 12]
    caller = [row for row in rows if row["user_id"] == 11]
    assert caller and any(row["status"] == "answered" for row in caller), (records, rows)
    assert agent and any(row["status"] == "answered" for row in agent), (records, rows)
