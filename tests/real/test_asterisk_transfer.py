"""Transfers made by phones on the real Asterisk 22 of the lab, with the configuration dialplan/ generates
(the company of tests/real/asterisk_calls.py), and the rows of "Détails d'appels" the AMI Cdr events give
(control/callrecords.rows_for), as test_asterisk_calls.py does for other calls (issue 19: transfers).

Blind: 203 calls 204; 204's phone answers, talks, sends REFER (Refer-To: 205) in the dialog
(uas_blind_transfer.xml); 205 answers; 203 (uac_transferred.xml, which answers the PBX's re-INVITEs)
hangs up a few seconds later.

Phone SIP ports 27270-27299 belong to this file (asterisk_calls.py's own 5270-5289 are left to its tests)."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from clusterpbx.ami import cdr
from tests.real import asterisk_calls as ac

pytestmark = pytest.mark.real

HERE = Path(__file__).resolve().parent
BLIND_XML = HERE / "uas_blind_transfer.xml"
CALLER_XML = HERE / "uac_transferred.xml"
PORTS = {n: 27270 + i for i, n in enumerate(ac.NUMBERS)}
CALLER_PORT = 27285
TALK_BEFORE_TRANSFER_MS = 3000


@pytest.fixture(autouse=True)
def own_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ac, "PORTS", PORTS)


def caller_dial(sipp: str, env: dict[str, str], caller: str, number: str, work: Path,
                hold_ms: int = 2000) -> subprocess.CompletedProcess[str]:
    log = work / "caller.log"
    result = subprocess.run(
        [sipp, "-sf", str(CALLER_XML), "-m", "1", "-i", "127.0.0.1", "-p", str(CALLER_PORT),
         "-au", ac.sip_user(caller), "-ap", ac.password(caller), "-set", "caller", ac.sip_user(caller),
         "-set", "display", ac.NAMES[caller], "-set", "domain", "127.0.0.1", "-s", number, "-d", str(hold_ms),
         "-nostdin", "-timeout", "60s", "-trace_logs", "-log_file", str(log), "-trace_msg",
         "-message_file", str(work / "caller.msg"), env["CPBX_LAB_AST_SIP"]],
        cwd=work, capture_output=True, text=True, timeout=75)
    text = log.read_text() if log.exists() else ""
    return subprocess.CompletedProcess(result.args, result.returncode, text + result.stdout[-1500:],
                                       result.stderr[-1500:])


def transferor(sipp: str, env: dict[str, str], number: str, target: str, work: Path) -> subprocess.Popen[bytes]:
    """`number`'s phone, registered, that answers and blind-transfers to `target` (uas_blind_transfer.xml)."""
    ac.register(sipp, env, number)
    return subprocess.Popen(
        [sipp, "-sf", str(BLIND_XML), "-i", "127.0.0.1", "-p", str(PORTS[number]), "-d", str(TALK_BEFORE_TRANSFER_MS),
         "-set", "user", ac.sip_user(number), "-set", "target", target, "-set", "domain", "127.0.0.1",
         "-nostdin", "-trace_logs", "-log_file", str(work / f"phone-{number}.log"), "-trace_msg",
         "-message_file", str(work / f"phone-{number}.msg")],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_blind_transfer_by_refer_gives_each_user_a_sensible_record(asterisk_lab, sipp, tmp_path):
    work = Path(tempfile.mkdtemp(prefix="cpbx-real-xfer-", dir=tmp_path))

    async def scenario():
        async with ac.company(asterisk_lab, tmp_path) as (adapter, records):
            with ac.phones(sipp, asterisk_lab, {"205": "answer"}) as devices:
                phone = transferor(sipp, asterisk_lab, "204", "205", work)
                try:
                    time.sleep(1.0)
                    devices["205"].mark()
                    task = asyncio.create_task(asyncio.to_thread(caller_dial, sipp, asterisk_lab, "203", "204", work))
                    while not task.done():
                        devices["205"].watch()
                        await asyncio.sleep(0.05)
                    result = await task
                    devices["205"].watch()
                    reports = await ac.settle(records)
                finally:
                    phone.terminate()
                    phone.wait(timeout=10)
                    ac.register(sipp, asterisk_lab, "204", expires=0)
            return result, devices["205"], reports

    result, target, reports = asyncio.run(scenario())
    b_log = (work / "phone-204.log").read_text() if (work / "phone-204.log").exists() else ""
    detail = "\n".join(f"--- {p.name}\n{p.read_text()[-5000:]}" for p in sorted(work.glob("*.msg")))
    assert "FINAL 200" in result.stdout and "HUNG UP" in result.stdout, f"{result.stdout}\n{detail}"
    assert "REFER 202" in b_log and "HUNG UP" in b_log, f"{b_log}\n{detail}"
    assert target.did("ANSWERED"), target.seen
    rows = ac.rows_by_number(reports)
    # Two records of the caller's channel (one uniqueid): its pairing with 204, ending at the transfer,
    # and with 205 from the transfer on; 204's and 205's own channels write none (dialled channels).
    assert ac.summary(rows) == {"203": [("internal", "answered"), ("internal", "answered")],
                                "204": [("internal", "answered")], "205": [("internal", "answered")]}, reports
    (b_row,) = rows["204"]
    (c_row,) = rows["205"]
    # Both keep the number 203 dialled (the REFER does not make 205 the dst, as AMI BlindTransfer did);
    # the one who answered is the callee.
    assert (b_row["caller_number"], b_row["dialed_number"], b_row["callee"]) == ("203", "204", "David Nguyen")
    assert (c_row["caller_number"], c_row["dialed_number"], c_row["callee"]) == ("203", "204", "Élise Tremblay")
    assert b_row["pbx_call_id"] != c_row["pbx_call_id"]
    assert sorted(r["pbx_call_id"] for r in rows["203"]) == sorted([b_row["pbx_call_id"], c_row["pbx_call_id"]])
    # 204 talked until the transfer (about 3 s); 205 from then to the caller's BYE (8 s and more)
    assert 1 <= int(b_row["billable_seconds"]) <= 5, b_row  # type: ignore[call-overload]
    assert int(c_row["billable_seconds"]) >= 7, c_row  # type: ignore[call-overload]
    path = asterisk_lab["CPBX_LAB_AST_CDR_CSV"]
    from_csv, _ = cdr.read_csv_since(path, 0, dt.UTC)
    ids = {r.pbx_call_id for r in from_csv if r.call_id in {x.call_id for x in reports}}
    assert ids == {r.pbx_call_id for r in reports}
