"""Issue 24: the AMI path drops the events nobody reads on their first line, keeps every event an action in
flight may be waiting for, and hands the translator the same headers as before without copying them."""

from __future__ import annotations

import datetime as dt

import pytest
from panoramisk.message import Message

from clusterpbx.ami import cdr
from clusterpbx.ami.adapter import needed_events
from clusterpbx.ami.protocol import SafeAMIProtocol, parse_message
from clusterpbx.ami.translate import lower_keys

from .capture import ASTERISK, server_bytes


def protocol(wanted: tuple[str, ...] | None) -> tuple[SafeAMIProtocol, list[Message]]:
    got: list[Message] = []
    proto = SafeAMIProtocol()
    proto.connection_made(None)  # type: ignore[arg-type]
    proto.factory = type("F", (), {"dispatch": staticmethod(got.append)})()
    proto.wanted_events = frozenset(n.lower() for n in wanted) if wanted is not None else None
    return proto, got


STREAM = (b"Event: DeviceStateChange\r\nDevice: PJSIP/201\r\nState: INUSE\r\n\r\n"
          b"Event: Newchannel\r\nChannel: PJSIP/201-00000001\r\nUniqueid: 1.1\r\nCallerIDName: x \r\n\r\n"
          b"Event: VarSet\r\nVariable: A\r\nValue: 1\r\n\r\n"
          b"Event: hangup \r\nUniqueid: 1.1\r\n\r\n"  # the name's case and spaces do not matter
          b"Event: Shutdown\r\nShutdown: Cleanly\r\n\r\n")


def test_unread_events_are_dropped_and_read_ones_delivered_stripped() -> None:
    proto, got = protocol(needed_events())
    proto.connection_lost = lambda exc: None  # type: ignore[method-assign]
    proto.data_received(STREAM)
    assert [m.get("event") for m in got] == ["Newchannel", "hangup", "Shutdown"]
    assert got[0].get("CallerIDName") == "x"
    assert proto.events_skipped == 2


def test_without_a_list_every_event_is_delivered() -> None:
    proto, got = protocol(None)
    proto.connection_lost = lambda exc: None  # type: ignore[method-assign]
    proto.data_received(STREAM)
    assert len(got) == 5 and proto.events_skipped == 0


def test_an_action_in_flight_gets_its_list_events_even_unread_ones() -> None:
    """A list answer's items are events (PJSIPShowContacts -> ContactList): with an action in flight the
    messages go to panoramisk's matching, none is dropped."""
    proto, got = protocol(needed_events())

    class Pending:
        def __init__(self) -> None:
            self.messages: list[Message] = []

        def add_message(self, message: Message) -> bool:
            self.messages.append(message)
            return message.get("event") == "ContactListComplete"

    pending = Pending()
    proto.responses["42"] = pending
    proto.data_received(b"Response: Success\r\nActionID: 42\r\nEventList: start\r\n\r\n"
                        b"Event: ContactList\r\nActionID: 42\r\nUri: sip:201@10.0.0.1\r\n\r\n"
                        b"Event: ContactListComplete\r\nActionID: 42\r\nEventList: Complete\r\n\r\n")
    assert [m.get("event") or m.get("response") for m in pending.messages] == \
           ["Success", "ContactList", "ContactListComplete"]
    assert proto.events_skipped == 0


def captured_events() -> list[str]:
    parts = []
    for path in sorted(ASTERISK.glob("*.txt")):
        text = server_bytes(path.name).decode("utf-8", "replace")
        parts += [p for p in text.split("\r\n\r\n") if "Event: " in p]
    return parts


def reference_lower_keys(message: Message) -> dict[str, str]:
    """The former lower_keys, from panoramisk's store: a repeated header's last value."""
    return {k: v[-1] if isinstance(v, list) and v else v for k, (_o, v) in message._store.items()}


@pytest.mark.parametrize("extra", ["", "\r\nChanVariable: A=1\r\nChanVariable: B=2 ", "\r\nUniqueID: 9\r\nuniqueid: 8"])
def test_the_translator_reads_the_same_headers_as_before(extra: str) -> None:
    parts = captured_events()
    assert len(parts) > 300
    for part in parts:
        message = parse_message(part + extra)
        if message is None:
            continue
        assert lower_keys(message) == reference_lower_keys(message), part[:120]


@pytest.mark.parametrize("value", ["2026-03-08 02:30:00", "2026-11-27 15:04:05.123456", " 2026-11-27 15:04:05 ",
                                   "2026-1-7 5:04:05", "2026-11-27T15:04:05", "2026-11-27 15:04", "yesterday", ""])
def test_cdr_times_parse_as_strptime_did(value: str) -> None:
    tz = dt.timezone(dt.timedelta(hours=-5))

    def before(v: str) -> dt.datetime | None | str:
        v = (v or "").strip()
        if not v:
            return None
        try:
            local = dt.datetime.strptime(v[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=tz)
        except ValueError:
            return "ValueError"
        return local.astimezone(dt.UTC).replace(tzinfo=None)

    try:
        now: dt.datetime | None | str = cdr._time(value, tz)
    except ValueError:
        now = "ValueError"
    assert now == before(value)
