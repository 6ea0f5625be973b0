"""A call that rang several phones at once (a user's phones, follow-me: issue 19 item 8) is one record per
user: Asterisk writes one record per phone rung, ami/cdr.py gives them one identity, and the phone that
answered wins whether its record is stored with the others (Master.csv catch-up) or after them (live)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from clusterpbx.ami.cdr import ChannelRecords, report_from_event
from clusterpbx.control.daemon.projection import Projector
from clusterpbx.control.db import make_session_factory
from clusterpbx.control.models import CallRecord
from clusterpbx.control.port import CallRecorded
from tests.daemon.test_projection import T0, setup_node

# What Asterisk 22.10.1 wrote for 201 calling 202, whose follow-me rang 202's phone and then 205 (who
# answered): the record of 202's phone (NO ANSWER) and the record of the follow-me leg (ANSWERED).
BASE = {"Event": "Cdr", "AccountCode": "", "Source": "201", "Destination": "202", "DestinationContext": "cpbx-acme",
        "CallerID": '"Alice A" <201>', "Channel": "PJSIP/201-00000036", "LastApplication": "Dial",
        "LastData": "PJSIP/202&Local/205@cpbx-acme-fm,24", "StartTime": "2026-11-27 15:00:00",
        "AMAFlags": "DOCUMENTATION", "UniqueID": "1796662446.84", "UserField": ""}
LOSER = {**BASE, "DestinationChannel": "PJSIP/202-00000037", "AnswerTime": "", "EndTime": "2026-11-27 15:00:05",
         "Duration": "4", "BillableSeconds": "0", "Disposition": "NO ANSWER"}
WINNER = {**BASE, "DestinationChannel": "Local/205@cpbx-acme-fm-0000000f;1", "AnswerTime": "2026-11-27 15:00:05",
          "EndTime": "2026-11-27 15:00:08", "Duration": "7", "BillableSeconds": "3", "Disposition": "ANSWERED"}


def reports():
    channels = ChannelRecords()
    return [report_from_event(e, ZoneInfo("UTC"), channels)
            for e in (LOSER, WINNER)]


def rows(db):
    return [(r.user_id, r.status, r.billable_seconds) for r in
            db.scalars(select(CallRecord).order_by(CallRecord.user_id, CallRecord.id))]


def test_the_answered_phone_wins_when_stored_after_the_others(engine, db, world):
    node, alice, bob = setup_node(db, world)
    loser, winner = reports()
    assert loser is not None and winner is not None and loser.pbx_call_id == winner.pbx_call_id
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallRecorded(T0, loser))
    p.flush()
    assert rows(db) == [(alice.id, "no_answer", 0), (bob.id, "no_answer", 0)]
    p.handle(CallRecorded(T0, winner))
    p.flush()
    db.expire_all()
    assert rows(db) == [(alice.id, "answered", 3), (bob.id, "answered", 3)]
    p.handle(CallRecorded(T0, loser))  # a replay of the catch-up never undoes it
    p.flush()
    db.expire_all()
    assert rows(db) == [(alice.id, "answered", 3), (bob.id, "answered", 3)]


def test_the_answered_phone_wins_in_one_batch(engine, db, world):
    node, alice, bob = setup_node(db, world)
    loser, winner = reports()
    p = Projector(make_session_factory(engine), node.id)
    p.handle(CallRecorded(T0, loser))
    p.handle(CallRecorded(T0, winner))
    p.flush()
    assert rows(db) == [(alice.id, "answered", 3), (bob.id, "answered", 3)]
