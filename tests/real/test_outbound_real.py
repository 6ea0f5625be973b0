"""Outbound calls through the tenant's trunk on the real Asterisk 22 and FreeSWITCH 1.10 of the lab (issue 19
item 1): with Tenant.outbound_trunk set (the snapshot's ``carrier``), an external number in the user's
allowed destinations goes out to the trunk (a SIPp UAS standing in for the carrier answers it), one outside
them is refused and never reaches the carrier.

The trunk itself is the operator's, as docs/operators.md says: a PJSIP endpoint ``carrier`` on Asterisk, a
sofia gateway ``carrier`` of the external profile on FreeSWITCH; the test adds it to its own lab instance's
configuration (once) and reloads."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from tests.real.both_lab import (
    PORTS,
    UAS_XML,
    Phone,
    ast_adapter,
    call,
    config_dir,
    fs_adapter,
    load,
    sipp_base,
    snapshot,
)

pytestmark = pytest.mark.real
CARRIER = f"127.0.0.1:{PORTS['carrier']}"
# 201 may call 1514..., not France; dialled with a "+" first, which the prefix 1514 allows as the portal does
ALLOWED, REFUSED = "+15145550199", "33612345678"
ASTERISK_TRUNK = f"""
; ClusterPBX real tests (tests/real/test_outbound_real.py): the operator's outbound trunk
[carrier]
type = endpoint
transport = transport-udp
context = cpbx-carrier-in
disallow = all
allow = ulaw,alaw
aors = carrier
[carrier]
type = aor
contact = sip:{CARRIER}
"""
FREESWITCH_TRUNK = f"""<include>
  <!-- ClusterPBX real tests (tests/real/test_outbound_real.py): the operator's outbound trunk -->
  <gateway name="carrier">
    <param name="proxy" value="{CARRIER}"/>
    <param name="register" value="false"/>
    <param name="caller-id-in-from" value="true"/>
  </gateway>
</include>
"""


async def add_trunk(kind: str, env: dict[str, str], adapter) -> None:
    if kind == "asterisk":
        pjsip = Path(env["CPBX_LAB_AST_CONFIG_DIR"]).parent / "pjsip.conf"
        text = pjsip.read_text()
        if "[carrier]" not in text:
            # before the #include of the generated file, which stays on the last line
            lines = text.rstrip("\n").split("\n")
            pjsip.write_text("\n".join([*lines[:-1], ASTERISK_TRUNK, lines[-1]]) + "\n")
        await adapter.reload_configuration(["pjsip_clusterpbx.conf"])  # res_pjsip, as the daemon reloads it
    else:
        gateway = Path(env["CPBX_LAB_FS_CONFIG_DIR"]).parent / "sip_profiles" / "external" / "cpbx-carrier.xml"
        if not gateway.exists():
            gateway.write_text(FREESWITCH_TRUNK)
        await adapter.api("reloadxml")
        await adapter.api("sofia profile external rescan")
    await asyncio.sleep(1)


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_an_allowed_number_goes_out_to_the_trunk_and_a_refused_one_does_not(kind, request, sipp, tmp_path: Path):
    env = request.getfixturevalue(f"{kind}_lab")
    out: dict[str, str] = {}

    async def scenario() -> None:
        adapter = ast_adapter(env) if kind == "asterisk" else fs_adapter(env)
        await adapter.start()
        carrier = Phone("carrier", tmp_path / "carrier.log")
        carrier.proc = subprocess.Popen([*sipp_base(sipp, UAS_XML, PORTS["carrier"], carrier.log), "-set", "user",
                                         "carrier"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await add_trunk(kind, env, adapter)
            await load(adapter, snapshot(kind), config_dir(kind, env))
            time.sleep(0.3)
            refused = await asyncio.to_thread(call, sipp, kind, env, tmp_path, "201", REFUSED, 1000)
            out["refused"] = refused.stdout[-600:] + (tmp_path / f"call-201-{REFUSED}.log").read_text(errors="replace")
            out["carrier_after_refused"] = carrier.messages
            allowed = await asyncio.to_thread(call, sipp, kind, env, tmp_path, "201", ALLOWED, 2000)
            out["allowed"] = allowed.stdout[-600:] + (tmp_path / f"call-201-{ALLOWED}.log").read_text(errors="replace")
            await asyncio.to_thread(carrier.wait_for, "HUNG UP", 10)
            out["carrier"] = carrier.messages
            out["carrier_log"] = carrier.events
        finally:
            if carrier.proc is not None:
                carrier.proc.terminate()
                carrier.proc.wait(timeout=10)
            await adapter.stop()

    asyncio.run(scenario())
    assert "FINAL 200" not in out["refused"] and "FINAL" in out["refused"], out["refused"]
    assert "INVITE sip:" not in out["carrier_after_refused"], out["carrier_after_refused"]
    assert "FINAL 200" in out["allowed"], out["allowed"]
    assert "ANSWERED" in out["carrier_log"], out["carrier_log"] + out["carrier"][-3000:]
    assert f"INVITE sip:{ALLOWED}@127.0.0.1" in out["carrier"], out["carrier"][-3000:]
    assert REFUSED not in out["carrier"]
