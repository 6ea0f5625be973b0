"""Asterisk writes the AMI Cdr event's times in the server's local zone whatever cdr.conf says of
Master.csv (real-pbx-lab.md). The adapter learns the server's zone at every connection, reads Master.csv
in UTC (usegmtime = yes) and gives each leg the same identity from both sources, so a record is neither
hours off nor stored twice after a catch-up (issue 19 item 7)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from clusterpbx.ami import cdr
from clusterpbx.control.port import CallRecorded
from tests.ami.conftest import address, wait_until

MONTREAL = ZoneInfo("America/Montreal")


def test_the_same_leg_from_the_event_and_from_master_csv_is_one_record():
    fields = {"uniqueid": "1765120000.12", "dstchannel": "PJSIP/202-0000000b", "lastapp": "Dial",
              "channel": "PJSIP/201-0000000a", "src": "201", "dst": "202", "clid": '"Marie" <201>',
              "disposition": "ANSWERED", "duration": "40", "billsec": "31"}
    from_event = cdr.report_from_fields({**fields, "start": "2026-12-07 09:00:00", "answer": "2026-12-07 09:00:09",
                                         "end": "2026-12-07 09:00:40"}, dt.timezone(dt.timedelta(hours=-5)))
    from_csv = cdr.report_from_fields({**fields, "start": "2026-12-07 14:00:00", "answer": "2026-12-07 14:00:09",
                                       "end": "2026-12-07 14:00:40"}, dt.UTC)
    assert from_event is not None and from_csv is not None
    assert from_event.pbx_call_id == from_csv.pbx_call_id
    assert from_event.started_at == from_csv.started_at == dt.datetime(2026, 12, 7, 14, 0, 0)
    # On a UTC server the identity is the text both sources write, as before this change.
    assert from_csv.pbx_call_id == "1765120000.12|PJSIP/202-0000000b|Dial|2026-12-07 14:00:00"


def test_the_adapter_learns_a_non_utc_servers_zone_and_reads_both_sources_alike(sim, tmp_path, make_adapter):
    sim.ami.zone = MONTREAL
    csv = tmp_path / "Master.csv"
    sim.ami.cdr_csv = csv
    blocking, events = make_adapter(address(sim.ami_port, tmp_path / "spool", cdr_csv=str(csv)))
    wait_until(lambda: blocking.adapter._zone_known)
    expected = dt.datetime.now(MONTREAL).utcoffset()
    assert blocking.adapter.tz.utcoffset(None) == expected
    sim.start_scenario(rate=None, seed=3, count=1, mix={"internal_answered": 1})
    recorded = events.wait_for(CallRecorded)[0].record
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert abs((recorded.started_at - now).total_seconds()) < 300  # UTC, not five hours off
    from_csv, _pos = blocking.call(blocking.adapter.call_records_since, "0")
    assert recorded.pbx_call_id in {r.pbx_call_id for r in from_csv}
    assert {r.started_at for r in from_csv if r.pbx_call_id == recorded.pbx_call_id} == {recorded.started_at}


def test_a_given_timezone_is_used_as_is(sim, tmp_path, make_adapter):
    sim.ami.zone = MONTREAL
    blocking, _events = make_adapter(address(sim.ami_port, tmp_path / "spool", timezone="Europe/Paris"))
    wait_until(lambda: blocking.adapter._zone_known)
    assert str(blocking.adapter.tz) == "Europe/Paris"
