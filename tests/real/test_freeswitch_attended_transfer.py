"""An attended transfer made by phones on the real FreeSWITCH 1.10 of the lab, with the tenant directory and
dialplan dialplan/ generates (tests/real/fs_calls.py), and the call records esl/json_cdr.py makes of the
legs mod_json_cdr wrote (issue 19: transfers blind and attended).

201 calls 202; 202's phone answers (uas_attended.xml), puts 201 on hold, calls 203 on a second line (uac_consult.xml), 203
answers; 202 sends REFER in its first dialog, Refer-To: <203?Replaces=<the 202-203 dialog>>
(test_asterisk_transfer.send_refer); FreeSWITCH joins 201 and 203 and hangs up both of 202's dialogs.

Run against your own lab FreeSWITCH whose mod_json_cdr posts where nothing listens (the legs land in the
error folder), as test_freeswitch_calls.py says. Phone SIP ports 27301-27309 belong to this file."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.esl_cdr.test_real_attended_transfer import LEGS, check_attended_transfer_legs
from tests.real import fs_calls
from tests.real.fs_calls import DOMAIN, FsCalls, own_folder
from tests.real.test_asterisk_transfer import ATTENDED_XML, CONSULT_XML, send_refer

pytestmark = pytest.mark.real

PORTS = {"201": 27301, "202": 27302, "203": 27303, "204": 27304}
CONSULT_PORT = 27306
CALLER_XML = Path(__file__).resolve().parent / "uac_transferred.xml"


def test_attended_transfer_by_refer_with_replaces(freeswitch_lab, sipp, monkeypatch):
    monkeypatch.setattr(fs_calls, "PHONE_PORTS", PORTS)
    work = own_folder()
    fs = FsCalls(freeswitch_lab, sipp, work)
    first, second = work / "phone-202.msg", work / "consult.msg"
    try:
        fs.load()
        fs.clear_keys()
        fs.clear_legs()
        with fs.phones(**{"203": "answer"}):
            fs.register("202")
            fs.register("201")
            phone = subprocess.Popen(fs.sipp_args(ATTENDED_XML, "202", work / "phone-202.log", "-set", "user", "u202",
                                                   "-set", "hold", "yes"),
                                     cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            consult = None
            try:
                time.sleep(0.5)
                caller = subprocess.Popen(
                    fs.sipp_args(CALLER_XML, "201", work / "caller.log", "-m", "1", "-s", "202", "-au", "u201",
                                 "-ap", "pw-201-calls", "-set", "caller", "u201", "-set", "display", "User 201",
                                 "-set", "domain", DOMAIN, "-d", "2000", fs.lab["CPBX_LAB_FS_SIP"]),
                    cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                time.sleep(3.5)  # 201 and 202 talk
                consult = subprocess.Popen(
                    [sipp, "-sf", str(CONSULT_XML), "-m", "1", "-i", "127.0.0.1", "-p", str(CONSULT_PORT),
                     "-au", "u202", "-ap", "pw-202-calls", "-set", "caller", "u202", "-set", "display", "User 202",
                     "-set", "domain", DOMAIN, "-s", "203", "-nostdin", "-timeout", "40s", "-trace_logs",
                     "-log_file", str(work / "consult.log"), "-trace_msg", "-message_file", str(second),
                     fs.lab["CPBX_LAB_FS_SIP"]],
                    cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(3)  # 202 and 203 talk
                refer_reply, after = send_refer(first, second, "u202", "203", DOMAIN, PORTS["202"])
                caller.wait(timeout=60)
                time.sleep(1)
            finally:
                for proc in (phone, consult):
                    if proc is not None:
                        proc.terminate()
                        proc.wait(timeout=10)
                fs.register("202", 0)
                fs.register("201", 0)
        legs = fs.legs(minimum=4)
    finally:
        fs.close()
    logs = {p.stem: p.read_text() for p in work.glob("*.log") if not p.name.startswith("register")}
    detail = "\n".join(f"--- {p.name}\n{p.read_text()[-6000:]}" for p in sorted(work.glob("*.msg"))
                       if not p.name.startswith("register"))
    assert refer_reply.startswith("SIP/2.0 202"), f"{refer_reply}\n{detail}"
    assert "HUNG UP" in logs.get("consult", "") and "HUNG UP" in logs.get("phone-202", ""), f"{logs}\n{detail}"
    assert "NOTIFY SIP/2.0 200 OK" in logs["phone-202"], logs["phone-202"]
    assert "HELD a=recvonly" in logs["phone-202"], logs["phone-202"]  # 201 was on hold first
    assert "FINAL 200" in logs.get("caller", "") and "HUNG UP" in logs["caller"], f"{logs}\n{detail}"
    if os.environ.get("CPBX_REAL_SAVE_LEGS") == "1":  # refreshes tests/esl_cdr/real/attended_transfer_refer/
        fs.save_legs(legs, LEGS)
    check_attended_transfer_legs(legs)
