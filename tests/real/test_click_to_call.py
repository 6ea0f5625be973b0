"""Click-to-call on the real Asterisk 22 and FreeSWITCH 1.10 of the lab (issue 19 item 4), with the
configuration dialplan/ generates for a company of its own domain: the adapter rings the user's phone
first, showing whom it is about to call (not "Anonymous"), then dials the number in the company's context
(FreeSWITCH: not `default`), so the callee rings and sees the user; the call record is the user's and
the callee's (FreeSWITCH: not "Outbound Call", not the callee's alone)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from clusterpbx.control.callrecords import Directory, rows_for
from clusterpbx.control.port import CallRecorded, CallRecordReport
from clusterpbx.esl import json_cdr
from tests.real.both_lab import (
    DOMAIN,
    NAMES,
    ast_adapter,
    config_dir,
    first_invite,
    fs_adapter,
    header,
    load,
    phones,
    snapshot,
)

pytestmark = pytest.mark.real
TENANT, USERS = 1, {"201": 11, "203": 13}
# The daemon gives the callee's name and number (control/daemon/calls.py cmd_click_to_call); a comma and an
# accent must survive Asterisk's Variable header and FreeSWITCH's originate line.
SHOWN = '"Dubé, Chloé" <203>'


def directory() -> Directory:
    parties = {n: (TENANT, uid, NAMES[n]) for n, uid in USERS.items()}
    return Directory(by_endpoint={f"u{n}": p for n, p in parties.items()}, rates={TENANT: []},
                     default_tenant_id=TENANT, by_number={n: {TENANT: p} for n, p in parties.items()},
                     tenant_by_context={"cpbx-both": TENANT}, tenant_by_domain={DOMAIN: TENANT})


async def hang_up_all(adapter) -> None:
    if hasattr(adapter, "api"):
        await adapter.api("hupall NORMAL_CLEARING")
    else:
        await adapter._action({"Action": "Hangup", "Channel": "/PJSIP/u20[0-9]-.*/"})


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_click_to_call_shows_the_callee_rings_it_and_gives_both_a_record(kind, request, sipp, tmp_path: Path):
    env = request.getfixturevalue(f"{kind}_lab")
    errors = Path(env.get("CPBX_LAB_FS_JSON_CDR_ERRORS", tmp_path / "none"))
    for old in errors.glob("*.cdr.json"):
        old.unlink()
    records: list[CallRecordReport] = []

    async def scenario() -> dict[str, str]:
        adapter = ast_adapter(env) if kind == "asterisk" else fs_adapter(env)
        adapter.subscribe(lambda e: records.append(e.record) if isinstance(e, CallRecorded) else None)
        await adapter.start()
        try:
            await load(adapter, snapshot(kind), config_dir(kind, env))
            with phones(sipp, kind, env, tmp_path, "201", "203") as ph:
                endpoint = "u201" if kind == "asterisk" else f"u201@{DOMAIN}"
                await adapter.click_to_call(endpoint, "203", caller_id=SHOWN, context="cpbx-both")
                answered = await asyncio.to_thread(ph["203"].wait_for, "ANSWERED", 20)
                await asyncio.sleep(1.5)
                await hang_up_all(adapter)
                await asyncio.to_thread(ph["203"].wait_for, "HUNG UP", 10)
                for _ in range(50):
                    if records:
                        break
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1)
                return {"answered": str(answered), "201": ph["201"].messages, "203": ph["203"].messages,
                        "log201": ph["201"].events, "log203": ph["203"].events}
        finally:
            await adapter.stop()

    out = asyncio.run(scenario())
    first, second = first_invite(out["201"]), first_invite(out["203"])
    # The user's phone rings first and shows the callee (FreeSWITCH's originate line loses the comma).
    shown = "Dubé, Chloé" if kind == "asterisk" else "Dubé Chloé"
    assert "Anonymous" not in first and f'"{shown}" <sip:203@' in header(first, "From"), first
    # The callee rang (the tenant's context) and sees the user, as the directory names them.
    assert out["answered"] == "True", out["log203"] + out["203"][-3000:]
    assert '"Ana Lima" <sip:201@' in header(second, "From"), second
    # One record for the user and the callee, internal and answered, the user as the caller.
    assert records, "no call record"
    rows = [row for r in records for row in rows_for(r, 1, directory())]
    assert sorted(int(str(row["user_id"])) for row in rows) == [11, 13], (records, rows)
    for row in rows:
        assert (row["call_type"], row["status"], row["caller_name"], row["caller_number"], row["dialed_number"]) \
            == ("internal", "answered", "Ana Lima", "201", "203"), row
    if kind == "freeswitch":
        # the legs mod_json_cdr wrote give the same record (the catch-up path). mod_json_cdr writes a leg
        # to the error folder once its posts failed (the lab's retries and delay: seconds), and a leg of
        # an earlier run may land late: this call's legs are waited for and the others left aside.
        ours = {r.call_id for r in records}
        deadline = time.monotonic() + 30
        while True:
            posted = [r for r in json_cdr.read_error_dir(errors)[0] if r.call_id in ours]
            if posted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert [(r.pbx_call_id, r.source_endpoint, r.caller_name, r.caller_number) for r in posted] == [
            (records[0].pbx_call_id, "u201", "Ana Lima", "201")], posted
