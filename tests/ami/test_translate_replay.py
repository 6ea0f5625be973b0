"""The recorded real Asterisk sessions replayed into the pure event translation: a real call's events
must give the right live-call rows (folded the way control.daemon.projection folds them) and call records."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest

from clusterpbx.ami.translate import EventTranslator
from clusterpbx.control.port import (
    CallAnswered,
    CallEnded,
    CallRecorded,
    CallRinging,
    CallStarted,
    CallState,
    CallStatus,
    ConferenceChanged,
    MailboxChanged,
    PbxCall,
    PbxEvent,
    QueueMemberChanged,
)

from .capture import ASTERISK, list_items, parse, server_events

T0 = dt.datetime(2026, 11, 27, 16, 0, 0)


def ticking_clock() -> tuple[EventTranslator, list[dt.datetime]]:
    ticks = (T0 + dt.timedelta(seconds=i) for i in itertools.count())
    seen: list[dt.datetime] = []

    def clock() -> dt.datetime:
        seen.append(next(ticks))
        return seen[-1]
    return EventTranslator(tz=ZoneInfo("UTC"), clock=clock), seen


def with_lab_contacts(tr: EventTranslator) -> EventTranslator:
    """The phones' registrations as capture 15 (PJSIPShowContacts) lists them."""
    for c in list_items("15_pjsip.txt", "ContactList"):
        tr.set_contact(c["Endpoint"], c["Uri"], c["ViaAddr"], c["UserAgent"])
    return tr


class Rows:
    """Live-call rows folded from domain events exactly as control.daemon.projection.Projector does."""

    def __init__(self) -> None:
        self.calls: dict[str, PbxCall] = {}

    def apply(self, event: PbxEvent) -> None:
        if isinstance(event, CallStarted):
            self.calls[event.call.call_id] = event.call
        elif isinstance(event, (CallRinging, CallAnswered)) and event.call_id in self.calls:
            call = self.calls[event.call_id]
            changes = {n: getattr(event, n) for n in ("destination_number", "destination_uri", "destination_ip",
                                                      "destination_endpoint") if getattr(event, n)}
            if isinstance(event, CallAnswered) and call.state is not CallState.ANSWERED:
                changes.update(state=CallState.ANSWERED, answered_at=event.at)
            self.calls[event.call_id] = dataclasses.replace(call, **changes)
        elif isinstance(event, CallEnded):
            self.calls.pop(event.call_id, None)


def replay(name: str, tr: EventTranslator | None = None, stop_at: str | None = None
           ) -> tuple[EventTranslator, list[PbxEvent], Rows]:
    tr = tr or with_lab_contacts(ticking_clock()[0])
    rows = Rows()
    out: list[PbxEvent] = []
    for event in server_events(name):
        if stop_at is not None and event.get("Event") == stop_at:
            break
        for e in tr.feed(event):
            rows.apply(e)
            out.append(e)
    return tr, out, rows


def kinds(events: list[PbxEvent], *types: type) -> list[str]:
    return [type(e).__name__ for e in events if isinstance(e, types)]


CALL_EVENTS = (CallStarted, CallRinging, CallAnswered, CallEnded, CallRecorded)


def test_capture_chunks_have_their_declared_lengths() -> None:
    for path in sorted(ASTERISK.glob("[0-9]*.txt")):
        text = path.read_text(encoding="ascii")
        declared = [int(line.split()[-2]) for line in text.splitlines() if line.startswith("[") and "bytes" in line]
        assert [len(c.data) for c in parse(path)] == declared, path.name


def test_answered_call_06() -> None:
    tr, events, _rows = replay("06_call_answered_events.txt")
    assert kinds(events, *CALL_EVENTS) == ["CallStarted", "CallRinging", "CallAnswered", "CallEnded", "CallRecorded"]
    started = events[[type(e) for e in events].index(CallStarted)]
    assert isinstance(started, CallStarted)
    call = started.call
    assert call.call_id == "1795797593.0"
    assert (call.source_number, call.caller_name, call.destination_number) == ("101", "Bob Sales", "102")
    assert (call.source_uri, call.source_ip) == ("sip:101@127.0.0.1:5071", "127.0.0.1")
    assert call.state is CallState.RINGING
    (answered,) = [e for e in events if isinstance(e, CallAnswered)]
    assert (answered.destination_number, answered.destination_uri, answered.destination_ip) == (
        "102", "sip:102@127.0.0.1:5072", "127.0.0.1")
    (ended,) = [e for e in events if isinstance(e, CallEnded)]
    assert (ended.call_id, ended.cause, ended.cause_code) == ("1795797593.0", "normal_clearing", 16)
    (recorded,) = [e for e in events if isinstance(e, CallRecorded)]
    r = recorded.record
    assert (r.status, r.caller_number, r.dialed_number) == (CallStatus.ANSWERED, "101", "102")
    assert (r.source_endpoint, r.destination_endpoint, r.billable_seconds) == ("101", "102", 6)
    assert r.started_at == dt.datetime(2026, 11, 27, 16, 39, 53)
    assert tr.live_calls() == []


def test_answered_call_row_matches_the_coreshowchannels_snapshot_07() -> None:
    """While the 06 call was up, capture 07 listed its channels: both paths give the same row."""
    tr, _events, rows = replay("06_call_answered_events.txt", stop_at="HangupRequest")
    (row,) = rows.calls.values()
    assert row.state is CallState.ANSWERED and row.answered_at is not None
    assert (row.source_number, row.destination_number) == ("101", "102")
    assert (row.source_uri, row.destination_uri) == ("sip:101@127.0.0.1:5071", "sip:102@127.0.0.1:5072")
    assert tr.live_calls() == [row]

    snap_tr = with_lab_contacts(EventTranslator(clock=lambda: T0))
    (snap,) = snap_tr.load_channels(list_items("07_coreshowchannels_bridged_call.txt", "CoreShowChannel"))
    same = ("call_id", "state", "source_number", "destination_number", "caller_name", "source_uri",
            "destination_uri", "source_ip", "destination_ip")
    assert {f: getattr(snap, f) for f in same} == {f: getattr(row, f) for f in same}
    assert snap.started_at == T0 - dt.timedelta(seconds=3)


def test_snapshot_then_events_end_the_call() -> None:
    """After a reconnect the snapshot seeds the state, so the call's Hangups still end it."""
    tr = with_lab_contacts(EventTranslator(clock=lambda: T0))
    tr.load_channels(list_items("07_coreshowchannels_bridged_call.txt", "CoreShowChannel"))
    tail = False
    ended = []
    for event in server_events("06_call_answered_events.txt"):
        tail = tail or event.get("Event") == "HangupRequest"
        if tail:
            ended += [e for e in tr.feed(event) if isinstance(e, CallEnded)]
    assert [(e.call_id, e.cause) for e in ended] == [("1795797593.0", "normal_clearing")]
    assert tr.live_calls() == []


def test_unanswered_call_to_voicemail_08() -> None:
    tr, events, _rows = replay("08_call_unanswered_voicemail_events.txt")
    assert kinds(events, *CALL_EVENTS) == ["CallStarted", "CallRinging", "CallEnded", "CallRecorded"]
    (started,) = [e for e in events if isinstance(e, CallStarted)]
    assert (started.call.source_number, started.call.destination_number) == ("101", "103")
    (ringing,) = [e for e in events if isinstance(e, CallRinging)]
    assert ringing.destination_uri == "sip:103@127.0.0.1:5073"
    (ended,) = [e for e in events if isinstance(e, CallEnded)]
    assert ended.cause == "no_answer"
    (recorded,) = [e for e in events if isinstance(e, CallRecorded)]
    assert recorded.record.status is CallStatus.NO_ANSWER
    assert recorded.record.destination_endpoint == "103" and recorded.record.billable_seconds == 0
    (mwi,) = [e for e in events if isinstance(e, MailboxChanged)]
    assert (mwi.mailbox, mwi.counts.new, mwi.counts.old) == ("103", 1, 0)
    assert tr.live_calls() == []


def test_unanswered_call_rows_stay_ringing_08() -> None:
    _tr, _events, rows = replay("08_call_unanswered_voicemail_events.txt", stop_at="MessageWaiting")
    (row,) = rows.calls.values()
    assert row.state is CallState.RINGING and row.answered_at is None
    assert (row.destination_number, row.destination_uri) == ("103", "sip:103@127.0.0.1:5073")


def test_queue_call_11() -> None:
    tr, events, _rows = replay("11_queue_call_events.txt")
    assert kinds(events, *CALL_EVENTS) == ["CallStarted", "CallRinging", "CallAnswered", "CallRecorded", "CallEnded"]
    (started,) = [e for e in events if isinstance(e, CallStarted)]
    assert started.call.destination_number == "7001"
    (answered,) = [e for e in events if isinstance(e, CallAnswered)]
    assert (answered.destination_number, answered.destination_uri) == ("104", "sip:104@127.0.0.1:5074")
    (recorded,) = [e for e in events if isinstance(e, CallRecorded)]
    assert (recorded.record.status, recorded.record.destination_endpoint) == (CallStatus.ANSWERED, "104")
    members = [e for e in events if isinstance(e, QueueMemberChanged)]
    first = members[0]
    assert (first.member.queue, first.member.interface, first.member.member_name, first.member.paused) == (
        "support", "PJSIP/104", "Erin Agent", True)
    in_call = [m.member.in_call for m in members if m.member.interface == "PJSIP/104"]
    assert True in in_call and in_call[-1] is False
    removed = [(m.member.queue, m.member.interface) for m in members if m.removed]
    assert removed == [("support", "PJSIP/104"), ("sales", "PJSIP/105")]
    assert tr.live_calls() == []


def test_confbridge_12() -> None:
    tr, events, _rows = replay("12_confbridge.txt")
    started = [e.call for e in events if isinstance(e, CallStarted)]
    assert sorted((c.source_number, c.destination_number) for c in started) == [("102", "*99500"), ("105", "*99500")]
    assert len([e for e in events if isinstance(e, CallAnswered)]) == 2
    conf = [(e.participant.participant_id if e.participant else None, e.participant.muted if e.participant else None,
             e.left) for e in events if isinstance(e, ConferenceChanged)]
    assert conf[:3] == [(None, None, False), ("PJSIP/105-00000007", False, False), ("PJSIP/102-00000006", False, False)]
    assert ("PJSIP/105-00000007", True, False) in conf and ("PJSIP/105-00000007", False, True) in conf
    assert conf[-1] == (None, None, True)
    assert {e.call_id for e in events if isinstance(e, CallEnded)} == {"1795797700.6", "1795797700.7"}
    assert tr.live_calls() == []


def test_dnd_and_call_forward_24() -> None:
    tr, events, _rows = replay("24_dnd_and_callforward_calls.txt")
    calls = {e.call.call_id: e.call for e in events if isinstance(e, CallStarted)}
    assert set(calls) == {"1795797747.12", "1795797752.13"}
    # DND: straight to voicemail, nobody rang, nobody answered.
    dnd = [e for e in events if getattr(e, "call_id", None) == "1795797747.12"]
    assert kinds(dnd, CallRinging, CallAnswered, CallEnded) == ["CallEnded"]
    # Forwarded through Local/102@internal: the real phone 102 rings and answers, no Local leg shows.
    fwd = [e for e in events if getattr(e, "call_id", None) == "1795797752.13"]
    assert kinds(fwd, CallRinging, CallAnswered, CallEnded) == ["CallRinging", "CallAnswered", "CallEnded"]
    (answered,) = [e for e in fwd if isinstance(e, CallAnswered)]
    assert (answered.destination_number, answered.destination_uri) == ("102", "sip:102@127.0.0.1:5072")
    assert calls["1795797752.13"].destination_number == "104"
    records = [e.record for e in events if isinstance(e, CallRecorded)]
    assert any(r.dialed_number == "104" and r.destination_endpoint == "102" for r in records)
    assert tr.live_calls() == []


def test_inbound_sip_message_is_not_a_call_25() -> None:
    tr, events, _rows = replay("25_inbound_sip_message_events.txt")
    assert kinds(events, *CALL_EVENTS) == []
    assert tr.live_calls() == []


@pytest.mark.parametrize("name", sorted(p.name for p in ASTERISK.glob("[0-9]*.txt")))
def test_every_capture_translates_without_ghost_calls(name: str) -> None:
    tr, events, rows = replay(name)
    started = {e.call.call_id for e in events if isinstance(e, CallStarted)}
    ended = {e.call_id for e in events if isinstance(e, CallEnded)}
    assert started == ended
    assert rows.calls == {} and tr.live_calls() == []
