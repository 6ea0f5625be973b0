"""The personal conference of the generated dialplan on the real FreeSWITCH 1.10 of the lab (issue 19
items 10 and 11): a caller keys in the user PIN and # (as phones' users do), stays in the room, and the
room runs with the options mod_db holds: its profile (cpbx-count when the count is to be announced), the
caller controls of the star menu, the music on hold, and no TTS engine the build lacks.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.real.fs_calls import CONF_PIN, DOMAIN, HERE, FsCalls, own_folder
from tests.real.test_freeswitch_calls import tone_file

pytestmark = pytest.mark.real

UAC_PIN_XML = HERE / "uac_pin.xml"
ROOM = "cpbx-calls-202"


@pytest.fixture
def fs(freeswitch_lab: dict[str, str], sipp: str):
    tmp_path = own_folder()
    calls = FsCalls(freeswitch_lab, sipp, tmp_path)
    calls.load()  # reloadxml: vars.xml sets sound_prefix again
    calls.clear_keys()
    tone_file(tmp_path / "sounds" / "conference" / "conf-pin.wav")  # without it mod_conference hangs up
    old_prefix = calls.api("global_getvar sound_prefix")
    calls.api(f"global_setvar sound_prefix={tmp_path / 'sounds'}")
    try:
        yield calls
    finally:
        calls.api(f"conference {ROOM} hup all")  # a caller left behind would be in others' channel lists
        calls.clear_keys()
        if old_prefix and not old_prefix.startswith("-ERR"):
            calls.api(f"global_setvar sound_prefix={old_prefix}")
        calls.close()
        shutil.rmtree(tmp_path, ignore_errors=True)


def join_with_pin(fs: FsCalls, hold_ms: int) -> str:
    """201 dials *99202, keys in the PIN and #, holds `hold_ms`; its SIPp log."""
    fs.register("201")
    log = fs.work / "conference-201.log"
    pin = dict(zip(("pin1", "pin2", "pin3", "pin4"), CONF_PIN, strict=True))
    subprocess.run(
        fs.sipp_args(UAC_PIN_XML, "201", log, "-m", "1", "-s", "*99202", "-au", "u201", "-ap", "pw-201-calls",
                     "-set", "caller", "u201", "-set", "display", "User 201", "-set", "domain", DOMAIN,
                     *[arg for k, v in pin.items() for arg in ("-set", k, v)], "-d", str(hold_ms),
                     f"127.0.0.1:{fs.sip_port}"),
        cwd=fs.work, capture_output=True, text=True, timeout=90)
    return log.read_text() if log.exists() else ""


def test_a_pin_then_hash_keeps_the_caller_in_the_room_with_its_options(fs: FsCalls):
    fs.set_keys("202", conference="true", conference_userpin=CONF_PIN, star_menu="true", music_on_hold="true",
                announce_count="true")
    log_file = Path(fs.lab["CPBX_LAB_FS_JSON_CDR_ERRORS"]).parent / "freeswitch.log"
    start = log_file.stat().st_size
    result: dict[str, str] = {}
    caller = threading.Thread(target=lambda: result.update(log=join_with_pin(fs, 6000)))
    caller.start()
    try:
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and not seen:
            time.sleep(0.5)
            members = fs.api(f"conference {ROOM} list")
            if "KEYED" in (fs.work / "conference-201.log").read_text(errors="replace") \
                    if (fs.work / "conference-201.log").exists() else False:
                time.sleep(2)  # after the #
                members = fs.api(f"conference {ROOM} list")
                uuid = members.split(";")[2] if members.count(";") > 3 else ""
                seen = {"members": members, "profile": fs.api(f"conference {ROOM} get profile_name"),
                        "controls": fs.api(f"uuid_getvar {uuid} conference_controls"),
                        "moh": fs.api(f"uuid_getvar {uuid} conference_moh_sound")}
    finally:
        caller.join()
    log = result.get("log", "")
    assert "KEYED" in log and "DROPPED" not in log and "HUNG UP" in log, log
    assert "u201" in seen["members"] or "201" in seen["members"], seen
    assert seen["profile"] == "cpbx-count", seen
    assert (seen["controls"], seen["moh"]) == ("cpbx-menu", "local_stream://moh"), seen
    with log_file.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    assert "Invalid TTS module" not in text
    assert "-ERR" not in "".join(line for line in text.splitlines() if "conference(" in line)
