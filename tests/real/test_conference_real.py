"""The personal conference with its options on the real Asterisk 22 and FreeSWITCH 1.10 of the lab (issue
19): the settings the daemon writes (the port's write_conference under PbxNames.feature_owner: PINs, music
on hold, caller controls) are read by the generated dialplan at call time; a colleague dialling the
conference code (*99 + the owner's extension) and keying the participants' PIN (RFC 4733 events) joins the
room, a wrong PIN does not."""

from __future__ import annotations

import asyncio
import subprocess
import time
import wave
from pathlib import Path

import pytest

from clusterpbx.control.port import ConferenceSettings
from tests.real.both_lab import (
    DOMAIN,
    HERE,
    PORTS,
    ast_adapter,
    config_dir,
    fs_adapter,
    load,
    sip_target,
    sipp_base,
    snapshot,
)

pytestmark = pytest.mark.real
UAC_PIN = HERE / "uac_conference_pin.xml"
ROOM = "cpbx-both-201"  # control/conference.py room_name
SETTINGS = ConferenceSettings(enabled=True, admin_pin="9999", user_pin="1234", max_members=5, announce_count=False,
                              music_on_hold=True, star_menu=True)


def prompts(env: dict[str, str]) -> Path:
    """Stand-ins for the PIN prompts mod_conference needs (the lab FreeSWITCH has no sounds, and without
    its PIN prompt mod_conference ends the call: "Cannot ask the user for a pin"): half a second of silence
    each, in the lab instance's own folder."""
    folder = Path(env["CPBX_LAB_FS_CONFIG_DIR"]).parents[1] / "sounds"
    (folder / "conference").mkdir(parents=True, exist_ok=True)
    for name in ("conf-pin", "conf-bad-pin"):
        with wave.open(str(folder / "conference" / f"{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 4000)
    return folder


def owner(kind: str) -> str:
    """PbxNames.feature_owner of 201."""
    return "both-201" if kind == "asterisk" else f"201@{DOMAIN}"


def dial_with_pin(sipp: str, kind: str, env: dict[str, str], work: Path, pin: str, hold_ms: int) -> subprocess.Popen:
    log = work / f"conf-{pin}.log"
    scenario = UAC_PIN.read_text()
    for i, digit in enumerate(pin, 1):
        scenario = scenario.replace(f"@D{i}@", digit)
    (work / f"uac_pin_{pin}.xml").write_text(scenario)
    return subprocess.Popen(
        [*sipp_base(sipp, work / f"uac_pin_{pin}.xml", PORTS["uac"], log), "-m", "1", "-s", "*99201", "-au", "u203", "-ap", "pw-203-both",
         "-set", "caller", "u203", "-set", "display", "Chloé Dubé", "-set", "domain", DOMAIN,
         "-d", str(hold_ms), sip_target(kind, env)],
        cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("kind", ["asterisk", "freeswitch"])
def test_the_right_pin_joins_the_personal_conference_and_a_wrong_one_does_not(kind, request, sipp, tmp_path: Path):
    env = request.getfixturevalue(f"{kind}_lab")
    seen: dict[str, object] = {}

    async def members(adapter) -> list[str]:
        rooms = [r for r in await adapter.conference_rooms() if ROOM in r.name]
        out = []
        for room in rooms:
            out += [p.caller_number for p in await adapter.conference_participants(room.name)]
        return out

    async def scenario() -> None:
        adapter = ast_adapter(env) if kind == "asterisk" else fs_adapter(env)
        await adapter.start()
        try:
            await load(adapter, snapshot(kind), config_dir(kind, env))
            await adapter.write_conference(owner(kind), SETTINGS)
            if kind == "freeswitch":  # the channels' sound prefix, a global variable of the lab instance
                seen["sound_prefix"] = (await adapter.api("global_getvar sound_prefix")).strip()
                await adapter.api(f"global_setvar sound_prefix={prompts(env)}")
            for pin in ("1234", "8765"):
                proc = dial_with_pin(sipp, kind, env, tmp_path, pin, 9000)
                joined: list[str] = []
                deadline = time.monotonic() + 25
                while time.monotonic() < deadline and proc.poll() is None and not joined:
                    joined = await members(adapter)
                    await asyncio.sleep(0.5)
                seen[pin] = joined
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    proc.wait(timeout=10)
                seen[f"log{pin}"] = (tmp_path / f"conf-{pin}.log").read_text(errors="replace")
        finally:
            if seen.get("sound_prefix"):
                await adapter.api(f"global_setvar sound_prefix={seen['sound_prefix']}")
            await adapter.write_conference(owner(kind), ConferenceSettings(enabled=False))
            await adapter.stop()

    asyncio.run(scenario())
    assert seen["1234"], seen  # Chloé (203) joined with the participants' PIN
    assert "PIN SENT" in str(seen["log8765"]) and seen["8765"] == [], seen  # the wrong PIN joined nobody
