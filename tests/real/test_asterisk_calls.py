"""Against the real Asterisk 22 of the lab, with the configuration dialplan/ generates and SIPp phones:
call records of calls that are not plain answered ones (issue 19 item 3), and do not disturb, call waiting
and the three forwards taking effect once the adapter has written their AstDB keys (what the daemon
does when the portal saves them).

Each test loads the company of tests/real/asterisk_calls.py, sets the callee's settings with
AsteriskAdapter.write_features, places a SIPp call and checks which phones rang and the rows of
"Détails d'appels" the AMI Cdr events give (control/callrecords.rows_for); Master.csv gives the same
records."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from clusterpbx.ami import cdr
from clusterpbx.control.port import ExtensionFeatures
from tests.real import asterisk_calls as ac

pytestmark = pytest.mark.real


def run(env: dict[str, str], sipp: str, tmp_path: Path, modes: dict[str, str],
        features: dict[str, ExtensionFeatures], caller: str, number: str, hold_ms: int = 2000):
    """One call; (the caller's SIPp log, the phones, rows by extension, the live reports)."""
    async def scenario():
        async with ac.company(env, tmp_path) as (adapter, records):
            for n, f in features.items():
                await adapter.write_features(f"{ac.PREFIX}{n}", f)
            with ac.phones(sipp, env, modes) as devices:
                result = await ac.call(sipp, env, devices, caller, number, hold_ms)
                reports = await ac.settle(records)
            return result, devices, reports

    result, devices, reports = asyncio.run(scenario())
    return result, devices, ac.rows_by_number(reports), reports


def test_forward_always_to_an_offline_phone_is_the_callees_voicemail_not_a_failure(asterisk_lab, sipp, tmp_path):
    """The issue's call: 203 calls 204, who forwards everything to 205, whose phone is offline; the call
    ends in 204's voicemail. It was 'failed' for 203 and 204, plus an 'incoming/failed' row for 205."""
    result, devices, rows, reports = run(asterisk_lab, sipp, tmp_path, {"204": "answer"},
                                         {"204": ExtensionFeatures(forward_always="205")}, "203", "204")
    assert "FINAL 200" in result.stdout, result.stdout  # answered by 204's voicemail
    assert not devices["204"].did("RUNG"), devices["204"].seen  # forward always: 204's phone stays quiet
    assert ac.summary(rows) == {"203": [("internal", "no_answer")], "204": [("internal", "no_answer")]}, rows
    (mine,) = rows["203"]
    assert (mine["callee"], mine["dialed_number"], mine["caller_number"]) == ("David Nguyen", "204", "203")
    # Master.csv (the catch-up after a reconnect) gives the same records, so nothing is stored twice.
    path = asterisk_lab["CPBX_LAB_AST_CDR_CSV"]
    from_csv, _ = cdr.read_csv_since(path, 0, dt.UTC)
    ids = {r.pbx_call_id for r in from_csv if r.call_id in {x.call_id for x in reports}}
    assert ids == {r.pbx_call_id for r in reports}


def test_forward_always_answered_by_its_target(asterisk_lab, sipp, tmp_path):
    result, devices, rows, _ = run(asterisk_lab, sipp, tmp_path, {"204": "answer", "205": "answer"},
                                   {"204": ExtensionFeatures(forward_always="205")}, "203", "204")
    assert "FINAL 200" in result.stdout
    assert not devices["204"].did("RUNG") and devices["205"].did("ANSWERED"), (devices["204"].seen,
                                                                                devices["205"].seen)
    summary = ac.summary(rows)
    assert summary["203"] == [("internal", "answered")] and summary["205"][0][1] == "answered", rows
    assert len(rows["205"]) == 1, rows  # the leg's own end is not a second record


def test_answered_busy_and_no_answer(asterisk_lab, sipp, tmp_path):
    _, devices, rows, _ = run(asterisk_lab, sipp, tmp_path, {"204": "answer"}, {}, "203", "204")
    assert devices["204"].did("ANSWERED")
    assert ac.summary(rows) == {"203": [("internal", "answered")], "204": [("internal", "answered")]}
    assert rows["203"][0]["billable_seconds"] >= 1

    _, devices, rows, _ = run(asterisk_lab, sipp, tmp_path, {"204": "busy"}, {}, "203", "204")
    assert devices["204"].did("BUSY")
    assert ac.summary(rows) == {"203": [("internal", "busy")], "204": [("internal", "busy")]}

    _, devices, rows, _ = run(asterisk_lab, sipp, tmp_path, {"204": "ring"},
                              {"204": ExtensionFeatures(forward_noanswer_delay=4)}, "203", "204")
    assert devices["204"].did("CANCELLED")
    assert ac.summary(rows) == {"203": [("internal", "no_answer")], "204": [("internal", "no_answer")]}


def test_do_not_disturb_sends_the_call_to_voicemail_without_ringing_and_is_busy(asterisk_lab, sipp, tmp_path):
    """DND/calls-204 set by the adapter: no ring, the busy greeting; the voicemail record is the call's
    only record (it used to be dropped: the call left no row at all)."""
    result, devices, rows, reports = run(asterisk_lab, sipp, tmp_path, {"204": "answer"},
                                         {"204": ExtensionFeatures(dnd=True)}, "203", "204")
    assert "FINAL 200" in result.stdout
    assert not devices["204"].did("RUNG"), devices["204"].seen
    assert ac.summary(rows) == {"203": [("internal", "busy")], "204": [("internal", "busy")]}, reports
    assert rows["203"][0]["answered_at"] is None and rows["203"][0]["billable_seconds"] == 0


def test_forward_on_busy_and_on_no_answer(asterisk_lab, sipp, tmp_path):
    _, devices, rows, _ = run(asterisk_lab, sipp, tmp_path, {"204": "busy", "205": "answer"},
                              {"204": ExtensionFeatures(forward_busy="205")}, "203", "204")
    assert devices["204"].did("BUSY") and devices["205"].did("ANSWERED"), (devices["204"].seen,
                                                                            devices["205"].seen)
    # one row per phone the call tried, as for a pickup: 204 busy, then answered through the forward
    assert ac.summary(rows)["203"] == [("internal", "answered"), ("internal", "busy")], rows

    _, devices, rows, _ = run(asterisk_lab, sipp, tmp_path, {"204": "ring", "205": "answer"},
                              {"204": ExtensionFeatures(forward_noanswer="205", forward_noanswer_delay=3)},
                              "203", "204")
    rang, answered = devices["204"].seen.get("RUNG"), devices["205"].seen.get("ANSWERED")
    assert rang is not None and answered is not None, (devices["204"].seen, devices["205"].seen)
    assert answered - rang >= 2.5  # 204 rang for its 3 s first
    assert ac.summary(rows)["203"] == [("internal", "answered"), ("internal", "no_answer")], rows


def test_call_waiting_on_and_off(asterisk_lab, sipp, tmp_path):
    """204 is on a call with 201; 203 calls 204: with call waiting the phone rings a second time, without
    it the call is busy at once (the phone is not rung)."""
    async def scenario(waiting: bool):
        async with ac.company(asterisk_lab, tmp_path) as (adapter, records):
            await adapter.write_features(f"{ac.PREFIX}204", ExtensionFeatures(call_waiting=waiting))
            with ac.phones(sipp, asterisk_lab, {"204": "answer"}) as devices:
                first = asyncio.create_task(asyncio.to_thread(ac.dial, sipp, asterisk_lab, "201", "204", 9000, 60,
                                                              ac.CALLER_PORT + 1))
                await asyncio.sleep(3)
                second = await ac.call(sipp, asterisk_lab, devices, "203", "204", hold_ms=1000)
                await first
                reports = await ac.settle(records, call_ids=2)
            return second, devices["204"], ac.rows_by_number(reports)

    second, phone, rows = asyncio.run(scenario(waiting=False))
    assert not phone.did("RUNG"), phone.seen
    assert ("internal", "busy") in ac.summary(rows)["203"], rows
    second, phone, rows = asyncio.run(scenario(waiting=True))
    assert phone.did("ANSWERED"), phone.seen
    assert ac.summary(rows)["203"] == [("internal", "answered")], rows
