"""A real Asterisk 22 whose clock is not UTC (TZ=America/Montreal): the adapter learns its zone, a call's
record is in UTC, and Master.csv (usegmtime = yes) gives the same leg the same identity, so the catch-up
after a restart stores nothing twice (issue 19 item 7)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.control.port import CallRecorded, CallRecordReport, NodeAddress
from tests.real.conftest import LAB
from tests.real.test_asterisk_events import HERE, run_sipp

pytestmark = pytest.mark.real


def restart(tz: str | None) -> None:
    """Restart the lab Asterisk with its clock in `tz`. Asterisk ignores TZ on Linux and reads
    /etc/localtime (main/stdtime/localtime.c ast_tzset), so it is started in a mount namespace of its
    own where /etc/localtime is that zone's file: the rest of the machine stays UTC."""
    env = dict(os.environ)
    subprocess.run(["bash", str(LAB / "asterisk.sh"), "stop"], env=env, capture_output=True, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the AMI port is free once the old process is gone
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", int(os.environ.get("CPBX_LAB_AMI_PORT", "15038")))) != 0:
                break
        time.sleep(0.3)
    start = ["bash", str(LAB / "asterisk.sh"), "start"]
    if tz:
        zone_file = Path("/usr/share/zoneinfo") / tz
        start = ["unshare", "--mount", "--propagation", "private", "bash", "-c",
                 f'mount --bind "{zone_file.resolve()}" /etc/localtime && exec "$@"', "-", *start]
    done = subprocess.run(start, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_records_of_a_montreal_asterisk_are_utc_and_counted_once(asterisk_lab, sipp):
    restart("America/Montreal")
    try:
        csv = Path(asterisk_lab["CPBX_LAB_AST_CDR_CSV"])
        start_at = csv.stat().st_size if csv.exists() else 0

        async def scenario() -> tuple[AsteriskAdapter, list[CallRecorded], list[CallRecordReport]]:
            adapter = AsteriskAdapter(NodeAddress(
                host=asterisk_lab["CPBX_LAB_AMI_HOST"], port=int(asterisk_lab["CPBX_LAB_AMI_PORT"]),
                username=asterisk_lab["CPBX_LAB_AMI_USER"], secret=asterisk_lab["CPBX_LAB_AMI_SECRET"],
                timeout=5.0, extra={"cdr_csv": str(csv)}))
            records: list[CallRecorded] = []
            adapter.subscribe(lambda e: records.append(e) if isinstance(e, CallRecorded) else None)
            for _ in range(50):
                try:
                    await adapter.start()
                    break
                except Exception:  # noqa: BLE001 - Asterisk still starting
                    await asyncio.sleep(0.5)
            try:
                deadline = time.monotonic() + 10
                while not adapter._zone_known and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                result = await asyncio.to_thread(run_sipp, sipp, HERE / "uac_named.xml", asterisk_lab,
                                                 "-s", "600", "-d", "1000", "-set", "display", "Montréal")
                assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
                deadline = time.monotonic() + 15
                while not records and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                caught_up, _ = await adapter.call_records_since(str(start_at))
                return adapter, records, caught_up
            finally:
                await adapter.stop()

        adapter, records, caught_up = asyncio.run(scenario())
        expected = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("America/Montreal")).utcoffset()
        assert adapter.tz.utcoffset(None) == expected
        assert records, "no Cdr event"
        live = records[-1].record
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert abs((live.started_at - now).total_seconds()) < 120, live
        same = [r for r in caught_up if r.pbx_call_id == live.pbx_call_id]
        assert len(same) == 1 and same[0].started_at == live.started_at, (live, caught_up)
    finally:
        restart(None)
