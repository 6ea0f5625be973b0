"""Translation cases the recordings do not cover: transfers, two calls joined in one bridge, contacts
from ContactStatus, causes of unanswered calls, calls first seen mid-way; and the Master.csv catch-up."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from clusterpbx.ami.adapter import AsteriskAdapter
from clusterpbx.ami.translate import EventTranslator
from clusterpbx.control.port import (
    CallBridged,
    CallEnded,
    CallStarted,
    CallTransferred,
    PbxEvent,
    RegistrationChanged,
    RegistrationState,
)

from .capture import ASTERISK
from .conftest import address

T0 = dt.datetime(2026, 11, 27, 12, 0, 0)


def chan(event: str, name: str, uid: str, linked: str, state: str = "Up", num: str = "", exten: str = "",
         **extra: str) -> dict[str, str]:
    return {"Event": event, "Channel": name, "ChannelStateDesc": state, "CallerIDNum": num or name[6:9],
            "CallerIDName": "<unknown>", "Exten": exten, "Uniqueid": uid, "Linkedid": linked, **extra}


def feed(tr: EventTranslator, *events: dict[str, str]) -> list[PbxEvent]:
    out: list[PbxEvent] = []
    for e in events:
        out += tr.feed(e)
    return out


def test_blind_transfer_and_attended_transfer() -> None:
    tr = EventTranslator(clock=lambda: T0)
    out = feed(tr, chan("Newchannel", "PJSIP/101-00000001", "1.1", "1.1", "Ring", exten="102"))
    out += feed(tr, {"Event": "BlindTransfer", "Result": "Success", "TransfererChannel": "PJSIP/102-00000002",
                     "TransfererLinkedid": "1.1", "TransfereeChannel": "PJSIP/101-00000001",
                     "TransfereeLinkedid": "1.1", "IsExternal": "No", "Context": "internal", "Extension": "105"})
    out += feed(tr, {"Event": "AttendedTransfer", "Result": "Success", "OrigTransfererLinkedid": "1.1",
                     "SecondTransfererLinkedid": "2.2", "SecondTransfererConnectedLineNum": "104",
                     "DestType": "Bridge"})
    out += feed(tr, {"Event": "BlindTransfer", "Result": "Fail", "TransfererLinkedid": "1.1", "Extension": "9"})
    assert [(e.call_id, e.target) for e in out if isinstance(e, CallTransferred)] == [("1.1", "105"), ("1.1", "104")]
    assert tr.live_calls()[0].destination_number == "105"


def test_two_calls_in_one_bridge_are_reported_bridged() -> None:
    tr = EventTranslator(clock=lambda: T0)
    feed(tr, chan("Newchannel", "PJSIP/101-00000001", "1.1", "1.1"),
         chan("Newchannel", "PJSIP/103-00000003", "3.3", "3.3"))
    out = feed(tr, chan("BridgeEnter", "PJSIP/101-00000001", "1.1", "1.1", BridgeUniqueid="b"),
               chan("BridgeEnter", "PJSIP/103-00000003", "3.3", "3.3", BridgeUniqueid="b"))
    assert [(e.call_id, e.other_call_id) for e in out if isinstance(e, CallBridged)] == [("3.3", "1.1")]


def test_unanswered_causes() -> None:
    for status, cause in (("BUSY", "busy"), ("CANCEL", "cancelled"), ("CHANUNAVAIL", "failed")):
        tr = EventTranslator(clock=lambda: T0)
        out = feed(tr, chan("Newchannel", "PJSIP/101-00000001", "1.1", "1.1", "Ring", exten="102"),
                   chan("Newchannel", "PJSIP/102-00000002", "1.2", "1.1", "Down"),
                   {**chan("DialEnd", "PJSIP/101-00000001", "1.1", "1.1", "Ring"),
                    "DestChannel": "PJSIP/102-00000002", "DestUniqueid": "1.2", "DestLinkedid": "1.1",
                    "DialStatus": status},
                   {**chan("Hangup", "PJSIP/102-00000002", "1.2", "1.1"), "Cause": "17"},
                   {**chan("Hangup", "PJSIP/101-00000001", "1.1", "1.1"), "Cause": "17"})
        (ended,) = [e for e in out if isinstance(e, CallEnded)]
        assert (ended.cause, ended.cause_code) == (cause, 17)


def test_a_call_first_seen_mid_way_is_started_and_ended() -> None:
    tr = EventTranslator(clock=lambda: T0)
    out = feed(tr, chan("Newstate", "PJSIP/102-00000002", "1.2", "1.1", "Up"),
               {**chan("Hangup", "PJSIP/102-00000002", "1.2", "1.1"), "Cause": "16"})
    assert [type(e) for e in out] == [CallStarted, CallEnded]


def test_contact_status_feeds_registrations_and_addresses() -> None:
    tr = EventTranslator(clock=lambda: T0)
    (reg,) = tr.feed({"Event": "ContactStatus", "URI": "sip:101@10.1.2.3:5060;ob", "ContactStatus": "Created",
                      "AOR": "101", "EndpointName": "101", "UserAgent": "Yealink", "ViaAddress": "10.1.2.3:5060"})
    assert isinstance(reg, RegistrationChanged)
    assert reg.state == RegistrationState("101", True, "sip:101@10.1.2.3:5060;ob", "Yealink")
    (started,) = tr.feed(chan("Newchannel", "PJSIP/101-00000001", "1.1", "1.1", "Ring", exten="102"))
    assert isinstance(started, CallStarted)
    assert (started.call.source_uri, started.call.source_ip) == ("sip:101@10.1.2.3:5060;ob", "10.1.2.3")
    (gone,) = tr.feed({"Event": "ContactStatus", "URI": "sip:101@10.1.2.3:5060;ob", "ContactStatus": "Removed",
                       "AOR": "101", "EndpointName": "101"})
    assert isinstance(gone, RegistrationChanged) and gone.state.registered is False and "101" not in tr.contacts


def test_cdr_catch_up_from_master_csv(tmp_path: Path) -> None:
    csv = tmp_path / "Master.csv"
    csv.write_bytes((ASTERISK / "cdr-csv" / "Master.csv").read_bytes())
    adapter = AsteriskAdapter(address(1, cdr_csv=str(csv)))

    async def body() -> None:
        reports, cursor = await adapter.call_records_since("")
        assert len(reports) >= 8 and cursor == str(csv.stat().st_size)
        again, same = await adapter.call_records_since(cursor)
        assert (again, same) == ([], cursor)
    asyncio.run(body())
