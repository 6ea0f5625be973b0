"""Calls on the real FreeSWITCH 1.10 of the lab with the directory and dialplan dialplan/ generates, SIPp
phones and the mod_db keys the control daemon writes: ring time, busy, voicemail, DND, call waiting, the
three forwards, follow-me with and without press-1, and the call records mod_json_cdr writes for each
(issue 19 items 3, 4 and 10). The legs are checked by tests/esl_cdr/test_real_calls.py's checks and kept
there as replay fixtures (`CPBX_REAL_SAVE_LEGS=1`).

Run against your own lab FreeSWITCH (lab/README.md), with mod_json_cdr posting where nothing listens so
every leg lands in the error folder, e.g.
CPBX_LAB_STATE=/tmp/cpbx-lab-fs CPBX_LAB_ESL_PORT=18121 CPBX_LAB_FS_SIP_PORT=5360 CPBX_LAB_FS_EXT_SIP_PORT=5380
CPBX_LAB_PORTAL_URL=http://127.0.0.1:9.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from clusterpbx.dialplan import keys
from tests.esl_cdr.test_real_calls import REAL, SPOOFED, check_real_legs
from tests.real.fs_calls import FsCalls, own_folder

pytestmark = pytest.mark.real
PROMPT = "ivr/ivr-accept_reject_voicemail.wav"  # the follow-me confirmation (dialplan/freeswitch.py)


def tone_file(path: Path) -> None:
    """A second of 440 Hz, 8 kHz mono: the lab has no prompts (lab/README.md), and a missing confirmation
    prompt hangs the answering phone up (DESTINATION_OUT_OF_ORDER)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
                               for i in range(8000)))


@pytest.fixture(scope="module")
def calls(freeswitch_lab: dict[str, str], sipp: str) -> Iterator[FsCalls]:
    work = own_folder()
    fs = FsCalls(freeswitch_lab, sipp, work)
    sounds = work / "sounds"
    tone_file(sounds / PROMPT)
    fs.load()  # reloadxml: vars.xml sets sound_prefix again
    old_prefix = fs.api("global_getvar sound_prefix")
    fs.api(f"global_setvar sound_prefix={sounds}")
    fs.clear_keys()
    try:
        yield fs
    finally:
        fs.clear_keys()
        if old_prefix and not old_prefix.startswith("-ERR"):
            fs.api(f"global_setvar sound_prefix={old_prefix}")
        fs.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def fs(calls: FsCalls) -> Iterator[FsCalls]:
    calls.clear_keys()
    calls.clear_legs()
    yield calls
    calls.clear_keys()


def keep(fs: FsCalls, case: str) -> dict[str, bytes]:
    legs = fs.legs()
    if os.environ.get("CPBX_REAL_SAVE_LEGS") == "1":
        fs.save_legs(legs, REAL / case)
    return legs


def ring_seconds(log: str) -> float:
    """How long tests/real/uas_ring.xml rang: from the INVITE to the PBX's CANCEL (SIPp's clock, ms)."""
    (invite,) = re.findall(r"^INVITE AT (\d+)$", log, re.M)
    (cancel,) = re.findall(r"^CANCEL AT (\d+)$", log, re.M)
    return (int(cancel) - int(invite)) / 1000


def test_answered_call_names_the_caller_as_the_directory_does(fs: FsCalls):
    with fs.phones(**{"202": "answer"}) as logs:
        log, _ = fs.call("201", "202", 2000, display=SPOOFED)
    assert "FINAL 200" in log and "ANSWERED" in logs["202"].read_text()
    check_real_legs("answered_spoofed_name", keep(fs, "answered_spoofed_name"))


def test_an_unanswered_call_rings_the_configured_time_then_voicemail(fs: FsCalls):
    fs.set_keys("202", no_answer_ring_time="4")
    with fs.phones(**{"202": "ring"}) as logs:
        log, _ = fs.call("201", "202", 2000)
        time.sleep(1)
    assert "FINAL 200" in log  # voicemail answered
    assert 3.0 <= ring_seconds(logs["202"].read_text()) <= 5.5  # not the default 20, nor 60
    check_real_legs("no_answer_voicemail", keep(fs, "no_answer_voicemail"))


def test_without_ring_time_the_default_applies(fs: FsCalls):
    with fs.phones(**{"202": "ring"}) as logs:
        fs.call("201", "202", 1000)
        time.sleep(1)
    assert keys.DEFAULT_RING_TIME - 1 <= ring_seconds(logs["202"].read_text()) <= keys.DEFAULT_RING_TIME + 1.5


def test_a_busy_phone_sends_the_caller_to_voicemail_as_busy(fs: FsCalls):
    with fs.phones(**{"202": "busy"}) as logs:
        log, _ = fs.call("201", "202", 2000)
    assert "FINAL 200" in log and "BUSY" in logs["202"].read_text()
    check_real_legs("busy_voicemail", keep(fs, "busy_voicemail"))


def test_dnd_is_busy_without_ringing_the_phone(fs: FsCalls):
    fs.set_keys("202", dnd="true")
    with fs.phones(**{"202": "answer"}) as logs:
        log, _ = fs.call("201", "202", 2000)
    assert "FINAL 200" in log and "RUNG" not in logs["202"].read_text()
    check_real_legs("dnd", keep(fs, "dnd"))


def test_call_waiting_off_refuses_a_second_call_and_on_lets_it_ring(fs: FsCalls):
    with fs.phones(**{"202": "answer"}) as logs:
        first = threading.Thread(target=fs.call, args=("201", "202", 7000))
        first.start()
        time.sleep(2.5)
        log, _ = fs.call("203", "202", 1000)
        first.join()
        time.sleep(1)
        rung = logs["202"].read_text().count("RUNG")
    assert "FINAL 200" in log and rung == 1  # 203 reached 202's voicemail, 202's phone rang once
    check_real_legs("call_waiting_off", keep(fs, "call_waiting_off"))

    fs.set_keys("202", call_waiting="true")
    with fs.phones(**{"202": "answer"}) as logs:
        first = threading.Thread(target=fs.call, args=("201", "202", 7000))
        first.start()
        time.sleep(2.5)
        fs.call("203", "202", 1000)
        first.join()
        time.sleep(1)
        assert logs["202"].read_text().count("RUNG") == 2


def test_forward_always_is_answered_by_the_target(fs: FsCalls):
    fs.set_keys("202", forward_always="203")
    with fs.phones(**{"202": "answer", "203": "answer"}) as logs:
        log, _ = fs.call("201", "202", 2000)
    assert "FINAL 200" in log and "RUNG" not in logs["202"].read_text() and "ANSWERED" in logs["203"].read_text()
    check_real_legs("forward_always", keep(fs, "forward_always"))


def test_forward_on_busy(fs: FsCalls):
    fs.set_keys("202", forward_busy="203")
    with fs.phones(**{"202": "busy", "203": "answer"}) as logs:
        log, _ = fs.call("201", "202", 2000)
    assert "BUSY" in logs["202"].read_text() and "ANSWERED" in logs["203"].read_text()
    check_real_legs("forward_busy", keep(fs, "forward_busy"))


def test_forward_on_no_answer_after_the_ring_time(fs: FsCalls):
    fs.set_keys("202", forward_no_answer="203", no_answer_ring_time="3")
    with fs.phones(**{"202": "ring", "203": "answer"}) as logs:
        log, _ = fs.call("201", "202", 2000)
        time.sleep(1)
    assert 2.0 <= ring_seconds(logs["202"].read_text()) <= 4.5
    assert "ANSWERED" in logs["203"].read_text()
    check_real_legs("forward_no_answer", keep(fs, "forward_no_answer"))


def test_followme_without_confirmation_connects(fs: FsCalls):
    fs.set_keys("202", followme_enabled="true", followme_numbers="203", followme_ring_delay="1",
                followme_ring_time="15")
    with fs.phones(**{"202": "ring", "203": "answer"}) as logs:
        log, _ = fs.call("201", "202", 3000)
    assert "FINAL 200" in log and "RUNG" in logs["202"].read_text() and "ANSWERED" in logs["203"].read_text()
    check_real_legs("followme", keep(fs, "followme"))


def test_followme_with_press_1_plays_the_prompt_once_and_takes_one_press(fs: FsCalls):
    fs.set_keys("202", followme_enabled="true", followme_numbers="203", followme_ring_delay="1",
                followme_ring_time="15", followme_confirm="true")
    log_file = Path(fs.lab["CPBX_LAB_FS_JSON_CDR_ERRORS"]).parent / "freeswitch.log"
    start = log_file.stat().st_size
    with fs.phones(**{"202": "ring", "203": "press"}) as logs:
        log, _ = fs.call("201", "202", 3000)
    phone = logs["203"].read_text()
    assert "FINAL 200" in log and phone.count("PRESSED") == 1 and "HUNG UP" in phone, phone
    with log_file.open("rb") as f:
        f.seek(start)
        text = f.read().decode(errors="replace")
    played = [line for line in text.splitlines() if "done playing file" in line and PROMPT.split("/")[1] in line]
    assert len(played) == 1, played
    check_real_legs("followme_confirm", keep(fs, "followme_confirm"))
