"""SMS on the real Asterisk 22 and FreeSWITCH 1.10 of the lab (issue 19 item 12): the portal's message
(control/sms.py's `pbx` provider: the port's send_message with the endpoints control/sms.endpoint_in_domain
gives) is accepted by the PBX (AMI MessageSend, ESL chat) and reaches the registered phone of an extension,
or a carrier (a SIPp UAS) given as the SMS trunk's host:port. On Asterisk a phone's own MESSAGE to an
outside number goes out through the generated `messages` context to that trunk too, "+" numbers included."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest

from tests.real.both_lab import (
    DOMAIN,
    HERE,
    PORTS,
    Phone,
    ast_adapter,
    config_dir,
    fs_adapter,
    load,
    phones,
    sip_target,
    sipp_base,
    snapshot,
)

pytestmark = pytest.mark.real
UAS_MESSAGE = HERE / "uas_message.xml"
UAC_MESSAGE = HERE / "uac_message.xml"
CARRIER = f"127.0.0.1:{PORTS['carrier']}"
BODY = "Rendez-vous à 15 h, café ☕"


def carrier(sipp: str, work: Path) -> Phone:
    phone = Phone("carrier", work / "carrier.log")
    phone.proc = subprocess.Popen([*sipp_base(sipp, UAS_MESSAGE, PORTS["carrier"], phone.log), "-set", "user", "sms"],
                                  cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return phone


def received(phone: Phone, seconds: float = 10) -> str:
    """The MESSAGE request the phone took (SIPp's message file), or ""."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = phone.messages
        start = text.find("MESSAGE sip:")
        if start >= 0 and "MESSAGE" in phone.events:
            return text[start:text.find("-----", start) if "-----" in text[start:] else None]
        time.sleep(0.2)
    return ""


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_the_portals_sms_reaches_the_extensions_phone_and_the_trunk(kind, request, sipp, tmp_path: Path):
    env = request.getfixturevalue(f"{kind}_lab")
    out: dict[str, str] = {}

    async def scenario() -> None:
        adapter = ast_adapter(env) if kind == "asterisk" else fs_adapter(env)
        await adapter.start()
        sms = carrier(sipp, tmp_path)
        try:
            await load(adapter, snapshot(kind), config_dir(kind, env))
            with phones(sipp, kind, env, tmp_path, "202", scenario=UAS_MESSAGE) as ph:
                await adapter.send_message(f"u201@{DOMAIN}", f"u202@{DOMAIN}", BODY)
                out["phone"] = await asyncio.to_thread(received, ph["202"])
            await adapter.send_message(f"u201@{DOMAIN}", "+15145550123", BODY, trunk=CARRIER)
            out["carrier"] = await asyncio.to_thread(received, sms)
        finally:
            if sms.proc is not None:
                sms.proc.terminate()
                sms.proc.wait(timeout=10)
            await adapter.stop()

    asyncio.run(scenario())
    phone, trunk = out["phone"], out["carrier"]
    assert phone.startswith("MESSAGE sip:u202@") and BODY in phone and "sip:u201@" in phone, phone
    assert trunk.startswith("MESSAGE sip:+15145550123@127.0.0.1") and BODY in trunk and "u201@" in trunk, trunk


def test_a_phones_sms_to_a_plus_number_goes_out_through_a_host_and_port_trunk(asterisk_lab, sipp, tmp_path: Path):
    """Asterisk only: FreeSWITCH's generated configuration routes no MESSAGE a phone sends (no chatplan)."""
    env = asterisk_lab
    snap = snapshot("asterisk", sms_trunk=CARRIER)
    tenant = snap.tenants[0]
    assert tenant.sms_trunk == CARRIER
    out: dict[str, str] = {}

    async def scenario() -> None:
        adapter = ast_adapter(env)
        await adapter.start()
        sms = carrier(sipp, tmp_path)
        try:
            await load(adapter, snap, config_dir("asterisk", env))
            for number in ("+15145550123", "15145550124"):
                log = tmp_path / f"uac-message-{number}.log"
                result = await asyncio.to_thread(subprocess.run, [
                    *sipp_base(sipp, UAC_MESSAGE, PORTS["uac"], log), "-m", "1", "-s", number, "-au", "u201",
                    "-ap", "pw-201-both", "-set", "caller", "u201", "-set", "domain", DOMAIN, "-set", "body", BODY,
                    sip_target("asterisk", env)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
                out[f"uac{number}"] = result.stdout[-600:] + (log.with_suffix(".msg").read_text(errors="replace")
                                                                if log.with_suffix(".msg").exists() else "")
            await asyncio.sleep(1)
            out["carrier"] = sms.messages
        finally:
            if sms.proc is not None:
                sms.proc.terminate()
                sms.proc.wait(timeout=10)
            await adapter.stop()

    asyncio.run(scenario())
    taken = out["carrier"]
    for number in ("+15145550123", "15145550124"):
        assert f"MESSAGE sip:{number}@127.0.0.1:{PORTS['carrier']}" in taken, (number, taken, out)
    assert BODY in taken
