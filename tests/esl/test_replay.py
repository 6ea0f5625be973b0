"""Real FreeSWITCH traffic (../shared/fixtures/freeswitch, found by tests.components.shared_fixtures)
replayed through the adapter's frame parser and event translation: the right live calls, domain events and call records."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import pytest

from clusterpbx.control.port import (
    CallAnswered,
    CallBridged,
    CallEnded,
    CallRecorded,
    CallRinging,
    CallStarted,
    CallState,
    CallStatus,
    ConferenceChanged,
    MailboxChanged,
    MailboxCounts,
    PbxEvent,
    QueueMemberChanged,
)
from clusterpbx.esl import json_cdr
from clusterpbx.esl.protocol import EslEvent, event_from_frame, iter_frames
from clusterpbx.esl.translate import EventTranslator

from .capture import FIXTURES, server_stream


def events_of(name: str) -> list[EslEvent]:
    return [e for e in (event_from_frame(f) for f in iter_frames(server_stream(name))) if e is not None]


def replay(name: str, translator: EventTranslator | None = None) -> list[PbxEvent]:
    t = translator or EventTranslator()
    return t.feed_all(events_of(name))


def call_kinds(events: list[PbxEvent]) -> list[type]:
    kinds = (CallStarted, CallRinging, CallAnswered, CallBridged, CallEnded, CallRecorded)
    return [type(e) for e in events if isinstance(e, kinds)]


@pytest.mark.parametrize("name", ["05_events_plain_answered_call.txt", "06_events_json_answered_call.txt"])
def test_answered_call(name: str) -> None:
    t = EventTranslator()
    out: list[PbxEvent] = []
    live_after: dict[str, list] = {}
    for ev in events_of(name):
        out.extend(t.feed(ev))
        if ev.name == "CHANNEL_BRIDGE":
            live_after["bridge"] = [c.live() for c in t.calls.values()]
    assert call_kinds(out) == [CallStarted, CallRinging, CallAnswered, CallBridged, CallEnded, CallRecorded]
    started = next(e for e in out if isinstance(e, CallStarted)).call
    assert started.source_number == "1000" and started.destination_number == "1001"
    assert started.source_ip == "127.0.0.1" and started.state == CallState.RINGING
    (live,) = live_after["bridge"]
    assert live.call_id == started.call_id and live.state == CallState.ANSWERED
    assert live.destination_uri == "sip:1001@127.0.0.1:25071"
    ended = next(e for e in out if isinstance(e, CallEnded))
    assert ended.cause == "normal_clearing" and ended.cause_code == 16
    record = next(e for e in out if isinstance(e, CallRecorded)).record
    assert record.pbx_call_id == started.call_id == record.call_id
    assert record.status == CallStatus.ANSWERED
    assert (record.duration_seconds, record.billable_seconds) == (6, 5)
    assert (record.source_endpoint, record.destination_endpoint) == ("1000", "1001")
    assert t.calls == {} and t.legs == {}


@pytest.mark.parametrize("name", ["07_events_plain_voicemail_call.txt", "08_events_json_voicemail_call.txt"])
def test_unanswered_call_to_voicemail(name: str) -> None:
    out = replay(name)
    # FreeSWITCH answering the caller for voicemail is not the call being answered
    assert CallAnswered not in call_kinds(out)
    assert call_kinds(out)[0] == CallStarted and call_kinds(out)[-2:] == [CallEnded, CallRecorded]
    records = [e.record for e in out if isinstance(e, CallRecorded)]
    assert len(records) == 1  # loopback legs and the unanswered B-leg give none
    assert records[0].status == CallStatus.NO_ANSWER and records[0].dialed_number == "1002"
    mwi = [e for e in out if isinstance(e, MailboxChanged)]
    assert mwi and mwi[-1].mailbox == "1002@127.0.0.1" and mwi[-1].counts.new >= 1


def test_queue_call() -> None:
    t = EventTranslator(member_interface=lambda agent: "PJSIP/" + agent.split("@")[0])
    t.tiers = {"1001@default": {"support@default"}}
    out = replay("11_callcenter_queue_call.txt", t)
    started = [e for e in out if isinstance(e, CallStarted)]
    assert len(started) == 1  # the agent leg belongs to the caller's call
    answered = [e for e in out if isinstance(e, CallAnswered)]
    assert len(answered) == 1 and answered[0].destination_number == "1001"
    members = [e.member for e in out if isinstance(e, QueueMemberChanged)]
    assert [m.interface for m in members][0] == "PJSIP/1001"
    assert [m.in_call for m in members if m.logged_in][:2] == [False, True] or any(m.in_call for m in members)
    assert not members[-1].logged_in  # the agent logged out at the end
    caller_record = next(e.record for e in out if isinstance(e, CallRecorded)
                         and e.record.pbx_call_id == started[0].call.call_id)
    assert caller_record.dialed_number == "7700"


def test_conference_events() -> None:
    out = [e for e in replay("12_conference.txt") if isinstance(e, ConferenceChanged)]
    assert out[0].room == "3000-127.0.0.1" and out[0].participant is None and not out[0].left
    muted = [e.participant.muted for e in out if e.participant is not None and not e.left]
    assert muted == [False, True, False]
    assert out[-1].participant is None and out[-1].left


def test_voicemail_api_capture_mwi() -> None:
    out = [e for e in replay("14_voicemail_api.txt") if isinstance(e, MailboxChanged)]
    assert out and all(e.mailbox == "1002@127.0.0.1" for e in out)
    assert MailboxCounts(new=2, old=0) in [e.counts for e in out]


def test_show_channels_json_snapshot_of_a_bridged_call() -> None:
    bodies = [f.body for f in iter_frames(server_stream("04_show_channels_json_bridged.txt"))
              if f.content_type == "api/response" and f.body.startswith(b"{")]
    rows = json.loads(bodies[0])["rows"]
    (live,) = EventTranslator().load_channels(rows)
    assert live.call_id == rows[0]["uuid"] and live.state == CallState.ANSWERED
    assert live.source_number == "1000" and live.destination_number == "1001"
    empty = [f.body for f in iter_frames(server_stream("03_api_status.txt"))
             if f.content_type == "api/response" and f.body.startswith(b"{\"row_count\"")]
    assert empty and "rows" not in json.loads(empty[0])


def _hangup_event_from_cdr(doc: dict) -> EslEvent:
    """What CHANNEL_HANGUP_COMPLETE carries for the leg mod_json_cdr posted (variables decoded)."""
    headers = {f"variable_{k}": unquote(str(v)) for k, v in doc["variables"].items()}
    flow = doc["callflow"][0] if isinstance(doc["callflow"], list) else doc["callflow"]
    profile = flow["caller_profile"]
    headers.update({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": headers["variable_uuid"],
                    "Caller-Caller-ID-Name": profile.get("caller_id_name", ""),
                    "Caller-Caller-ID-Number": profile.get("caller_id_number", ""),
                    "Caller-Destination-Number": profile.get("destination_number", "")})
    return EslEvent(headers, list(headers.items()))


@pytest.mark.parametrize("path", sorted((FIXTURES / "json_cdr" / "json_cdr_bodies").glob("*.json")),
                         ids=lambda p: p.name[:12])
def test_live_record_equals_the_posted_json_cdr_record(path: Path) -> None:
    body = path.read_bytes()
    posted = json_cdr.report_from_body(body)
    live = [e.record for e in EventTranslator().feed(_hangup_event_from_cdr(json.loads(body)))
            if isinstance(e, CallRecorded)]
    assert live == ([posted] if posted is not None else [])
